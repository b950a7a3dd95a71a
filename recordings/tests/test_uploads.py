"""Uploading a video in the studio's form: streamed to disk (the page sends it in parts instead:
test_resumable.py), checked (type, size, ffprobe), transcoded by the Celery task (eager in tests)
with real ffmpeg to two HLS renditions, a master playlist and a thumbnail; bad files leave no row
and no file."""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from recordings.models import Recording
from recordings.tests.upload_media import files_in, upload

pytestmark = pytest.mark.django_db

REGION = "us-east-1"
BUCKET = "liveshop-media"
GARBAGE = random.Random(7).randbytes(200_000)  # the same bytes every run: what ffprobe says stays put


def test_upload_is_transcoded_to_two_hls_renditions_with_thumbnail(
    host_client, brand, on_disk, sample_video, django_capture_on_commit_callbacks
):
    uploads_dir, hls_dir = on_disk
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        response = upload(host_client, brand, name="spring.mp4", content=sample_video.read_bytes())

    video = Recording.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("videos:detail", args=[video.pk])
    assert (video.status, video.progress, video.failure_reason) == ("ready", 100, "")
    assert (video.backend, video.title, video.slug, video.organization) == (
        "upload",
        "Spring looks",
        "spring-looks",
        brand,
    )
    assert video.upload_size == sample_video.stat().st_size
    assert (uploads_dir / video.upload.name).read_bytes() == sample_video.read_bytes()
    assert abs(video.duration_ms - 4000) <= 100
    prefix = video.cdn_prefix  # a random key under the private prefix (test_private_media.py)
    assert prefix.startswith("private/") and str(video.pk) not in prefix.split("/")
    assert video.master_path == f"{prefix}/master.m3u8"
    assert [(r["name"], r["width"], r["height"]) for r in video.renditions] == [
        ("480p", 640, 480),
        ("360p", 480, 360),
    ]
    for rendition in video.renditions:
        assert rendition.keys() >= {
            "resolution",
            "bandwidth",
            "codecs",
            "frame_rate",
            "duration_ms",
            "playlist",
        }
        assert rendition["playlist"].startswith(prefix) and (hls_dir / rendition["playlist"]).is_file()
        assert rendition["codecs"].startswith("avc1.") and rendition["bandwidth"] > 0
    assert video.thumbnails == [f"{prefix}/thumbnail.jpg"]
    assert (hls_dir / video.thumbnails[0]).read_bytes()[:2] == b"\xff\xd8"  # a JPEG

    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type,height",
         "-of", "json", str(hls_dir / video.master_path)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    data = json.loads(probe.stdout)
    assert abs(float(data["format"]["duration"]) - 4) < 0.2
    assert {s["codec_type"] for s in data["streams"]} == {"video", "audio"}

    # Progress was written as ffmpeg reported it, in steps, and never went backwards.
    progress = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "recordings_recording" SET "progress"')
    ]
    assert len(progress) >= 2


def test_progress_endpoint_reports_status_and_percent(host_client, brand):
    video = Recording.objects.create(
        organization=brand, backend="upload", title="Clip", slug="clip", status="processing", progress=35
    )
    response = host_client.get(reverse("videos:progress", args=[video.pk]))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert (body["status"], body["statusLabel"], body["progress"], body["ready"]) == (
        "processing", "Transcoding", 35, False,
    )  # fmt: skip


def test_the_processing_page_polls_progress_and_the_list_shows_bars(host_client, brand):
    video = Recording.objects.create(
        organization=brand, backend="upload", title="Clip", slug="clip", status="processing", progress=35
    )
    page = host_client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    listing = host_client.get(reverse("videos:list")).content.decode()

    progress_url = reverse("videos:progress", args=[video.pk])
    assert f'data-progress-url="{progress_url}"' in page and "js/upload.js" in page
    assert 'aria-valuenow="35"' in listing and f'data-progress-url="{progress_url}"' in listing


@pytest.mark.parametrize(
    ("name", "content_type", "make", "message"),
    [
        ("garbage.mp4", "video/mp4", lambda video: GARBAGE, "not a readable video"),
        (
            "cut.mp4",
            "video/mp4",
            lambda video: video.read_bytes()[: video.stat().st_size // 2],
            "The file ends early",
        ),
        ("notes.txt", "text/plain", lambda video: b"hello", "not a video file Liveshop accepts"),
        ("spring.mp4", "text/plain", lambda video: video.read_bytes(), "not as a video"),
        ("empty.mp4", "video/mp4", lambda video: b"", "empty"),
    ],
    ids=["garbage", "truncated", "wrong-extension", "wrong-content-type", "empty"],
)
def test_bad_files_are_refused_with_a_form_error_and_nothing_stored(
    host_client, brand, on_disk, sample_video, name, content_type, make, message
):
    response = upload(host_client, brand, name=name, content=make(sample_video), content_type=content_type)

    assert response.status_code == 400
    errors = " ".join(
        response.context["form"].errors.get("file", []) + response.context["form"].non_field_errors()
    )
    assert message in errors
    assert tempfile.gettempdir() not in errors  # no server paths in messages
    assert Recording.objects.count() == 0
    assert files_in(on_disk[0]) == [] and files_in(on_disk[1]) == []


def test_too_large_files_are_refused_before_and_while_streaming(
    host_client, brand, on_disk, sample_video, settings
):
    content = sample_video.read_bytes()
    settings.LIVESHOP_MAX_UPLOAD_BYTES = 1000  # the request is far larger: not even read
    first = upload(host_client, brand, name="big.mp4", content=content)
    settings.LIVESHOP_MAX_UPLOAD_BYTES = len(content) - 10  # only the streamed bytes tell
    second = upload(host_client, brand, name="big.mp4", content=content)

    assert first.status_code == second.status_code == 413
    assert "videos may be at most 1000 bytes" in str(first.context["form"].errors)
    assert "larger than" in str(second.context["form"].errors)
    assert Recording.objects.count() == 0
    assert files_in(on_disk[0]) == []


def test_xhr_upload_gets_json_errors(host_client, brand, on_disk):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile("garbage.mp4", os.urandom(5000), content_type="video/mp4")
    response = host_client.post(
        f"{reverse('videos:create')}?brand={brand.slug}",
        {"title": "x", "file": file},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "not a readable video" in response.json()["errors"]["file"][0]["message"]


# Permissions ----------------------------------------------------------------------------------


def test_another_brands_member_gets_404(client, brand):
    video = Recording.objects.create(organization=brand, backend="upload", title="Clip", slug="clip")
    client.force_login(member(OrganizationFactory(), role=Membership.Role.OWNER))

    for name in ("detail", "progress", "export-srt"):
        assert client.get(reverse(f"videos:{name}", args=[video.pk])).status_code == 404
    assert client.post(reverse("videos:cues", args=[video.pk]), "{}", "application/json").status_code == 404
    assert client.get(f"{reverse('videos:create')}?brand={brand.slug}").status_code == 404
    assert video.pk not in [row[0].pk for row in client.get(reverse("videos:list")).context["rows"]]


def test_a_moderator_sees_videos_but_cannot_upload(client, brand, on_disk, sample_video):
    video = Recording.objects.create(organization=brand, backend="upload", title="Clip", slug="clip")
    client.force_login(member(brand, role=Membership.Role.MODERATOR))

    assert client.get(reverse("videos:list")).status_code == 200
    assert client.get(reverse("videos:detail", args=[video.pk])).status_code == 200
    assert client.get(f"{reverse('videos:create')}?brand={brand.slug}").status_code == 403
    assert client.get(reverse("videos:create")).status_code == 403
    assert upload(client, brand, name="a.mp4", content=sample_video.read_bytes()).status_code == 403
    assert Recording.objects.count() == 1 and files_in(on_disk[0]) == []


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("videos:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_upload_page_asks_which_brand_when_there_are_several(client, brand):
    user = member(brand, role=Membership.Role.OWNER)
    Membership.objects.create(
        user=user, organization=OrganizationFactory(name="Zed"), role=Membership.Role.HOST
    )
    client.force_login(user)
    page = client.get(reverse("videos:create")).content.decode()
    assert f"?brand={brand.slug}" in page and "Which brand" in page
