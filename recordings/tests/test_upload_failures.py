"""A video that cannot be used says why in a sentence a person understands (what happened, what to
do); ffmpeg's and ffprobe's own words (memory addresses, codec internals, server paths) reach the
log only. Real files, real ffprobe and ffmpeg."""

from __future__ import annotations

import logging
import re
import tempfile

import pytest

from recordings.models import Recording
from recordings.services import transcode
from recordings.tests.upload_media import files_in, upload

pytestmark = pytest.mark.django_db

TECHNICAL = re.compile(
    r"0x[0-9a-f]+|@|moov|atom|codec \(|exit|ffmpeg|ffprobe|stream #|\[|/tmp|<upload>",
    re.I,
)


def logged(caplog, name: str) -> str:
    return " ".join(f"{r.getMessage()} {getattr(r, 'detail', '')}" for r in caplog.records if r.name == name)


@pytest.mark.parametrize(
    ("kind", "name", "sentence", "detail"),
    [
        ("cut-before-index", "phone.mp4", "The file ends early", "moov atom not found"),
        ("random-bytes", "clip.mp4", "This file is not a readable video", "Invalid data found"),
        ("captions-only", "captions.mkv", "This file has neither picture nor sound", "NoVideoStream"),
        ("unknown-codec", "clip.mkv", "This video is in a format Liveshop", "video codec 'unknown'"),
    ],
)
def test_a_bad_file_is_refused_with_a_sentence_and_the_detail_is_logged(
    host_client, brand, on_disk, broken_files, caplog, kind, name, sentence, detail
):
    caplog.set_level(logging.WARNING, logger="recordings.services.problems")
    content_type = "video/x-matroska" if name.endswith(".mkv") else "video/mp4"
    response = upload(host_client, brand, name=name, content=broken_files[kind], content_type=content_type)

    assert response.status_code == 400
    (message,) = response.context["form"].errors["file"]
    assert message.startswith(sentence), message
    assert not TECHNICAL.search(message), message
    assert detail in logged(caplog, "recordings.services.problems")
    assert Recording.objects.count() == 0 and files_in(on_disk[0]) == []


def test_a_file_cut_off_after_its_index_fails_as_cut_off_not_as_a_short_video(
    host_client, brand, on_disk, broken_files, django_capture_on_commit_callbacks
):
    """ffprobe reads the index (the whole length); ffmpeg reads to where the file ends, says
    "partial file" and exits 0: a third of the video must not become a ready video."""
    with django_capture_on_commit_callbacks(execute=True):
        upload(host_client, brand, name="cut.mp4", content=broken_files["cut-after-index"])

    video = Recording.objects.get()
    assert video.status == "failed"
    assert video.failure_reason.startswith("The file ends early")
    assert files_in(on_disk[1]) == [] and video.master_path == ""


def test_an_ffmpeg_failure_shows_a_sentence_and_logs_ffmpegs_words(
    host_client, brand, on_disk, sample_video, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.WARNING, logger="recordings.services.transcode")
    real = transcode.ffmpeg_command
    monkeypatch.setattr(
        transcode, "ffmpeg_command", lambda *a: [*real(*a)[:-1], "-hls_time", "x", real(*a)[-1]]
    )
    with django_capture_on_commit_callbacks(execute=True):
        upload(host_client, brand, name="spring.mp4", content=sample_video.read_bytes())

    video = Recording.objects.get()
    assert video.status == "failed"
    assert video.failure_reason.startswith("The video could not be processed. Press Retry")
    assert not TECHNICAL.search(video.failure_reason)
    log = logged(caplog, "recordings.services.transcode")
    assert "hls_time" in log and tempfile.gettempdir() not in log  # server paths named by role
    assert files_in(on_disk[1]) == []
    assert (video.renditions, video.master_path, video.thumbnails) == ([], "", [])

    page = host_client.get(f"/studio/videos/{video.pk}/").content.decode()
    assert video.failure_reason in page and "hls_time" not in page
    progress = host_client.get(f"/studio/videos/{video.pk}/progress/").json()
    assert progress["failureReason"] == video.failure_reason
