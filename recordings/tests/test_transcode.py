"""The rendition ladder of an uploaded video: chosen by the picture's shorter side (portrait stays
portrait), never above the source, bitrates by pixel count; proven with real ffmpeg on a phone
video."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from liveshop.media import MediaInfo
from recordings.models import Recording
from recordings.services.transcode import rendition_plan
from recordings.tests.upload_media import assert_bit_rates_are_measured, upload


def info(width: int, height: int, rotation: int = 0) -> MediaInfo:
    return MediaInfo(
        path=Path("x.mp4"), duration=10.0, start_time=0, video_codec="h264", width=width, height=height,
        frame_rate=None, rotation=rotation,
    )  # fmt: skip


def shapes(width: int, height: int) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in rendition_plan(info(width, height))]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), [("1080p", 1920, 1080), ("720p", 1280, 720), ("360p", 640, 360)]),
        ((1080, 1920), [("1080p", 1080, 1920), ("720p", 720, 1280), ("360p", 360, 640)]),
        ((3840, 2160), [("1080p", 1920, 1080), ("720p", 1280, 720), ("360p", 640, 360)]),
        ((1280, 720), [("720p", 1280, 720), ("360p", 640, 360)]),
        ((720, 1280), [("720p", 720, 1280), ("360p", 360, 640)]),
        ((640, 480), [("480p", 640, 480), ("360p", 480, 360)]),
        ((1080, 1080), [("1080p", 1080, 1080), ("720p", 720, 720), ("360p", 360, 360)]),
        ((320, 240), [("240p", 320, 240)]),
        ((64, 36), [("36p", 64, 36)]),
        ((750, 1334), [("750p", 750, 1334), ("360p", 360, 640)]),  # no 720p right under 750p
    ],
    ids=["1080p", "phone", "4k", "720p", "portrait-720", "vga", "square", "tiny", "tinier", "iphone-8"],
)
def test_the_ladder_follows_the_shorter_side_and_never_upscales(size, expected):
    assert shapes(*size) == expected


def test_bitrates_follow_the_pixel_count_so_portrait_and_landscape_match():
    landscape, portrait = rendition_plan(info(1920, 1080)), rendition_plan(info(1080, 1920))
    assert [r.video_kbps for r in landscape] == [r.video_kbps for r in portrait]
    kbps = [r.video_kbps for r in landscape]
    assert kbps == sorted(kbps, reverse=True) and kbps[1] == 2800
    assert 4500 <= kbps[0] <= 6000 and 800 <= kbps[2] <= 1200


@pytest.mark.django_db
def test_a_phone_video_keeps_portrait_with_matching_bandwidths(
    host_client, brand, on_disk, phone_video, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(host_client, brand, name="phone.mp4", content=phone_video.read_bytes())

    video = Recording.objects.get()
    assert video.status == "ready", video.failure_reason
    assert [(r["name"], r["width"], r["height"]) for r in video.renditions] == [
        ("1080p", 1080, 1920),
        ("720p", 720, 1280),
        ("360p", 360, 640),
    ]
    hls = on_disk[1]
    master = assert_bit_rates_are_measured(hls / video.master_path)  # from the segments
    bandwidth = {variant.resolution: variant.bandwidth for variant in master}
    # The playlist advertises what each rendition carries (measured: 6.3, 3.0 and 0.9 Mbit/s for
    # this one-second clip), landscape 1080p's, 720p's and 360p's bit rates (about 5.1, 2.8 and
    # 1 Mbit/s of video and 128 kbit/s of sound), not those of 406x720 and 202x360.
    assert 4_500_000 <= bandwidth["1080x1920"] <= 7_500_000
    assert 2_400_000 <= bandwidth["720x1280"] <= 3_800_000
    assert 700_000 <= bandwidth["360x640"] <= 1_400_000
    for rendition in video.renditions:
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
             "-of", "json", str(hls / rendition["playlist"])],
            capture_output=True, check=True, text=True,
        )  # fmt: skip
        stream = json.loads(probe.stdout)["streams"][0]
        assert (stream["width"], stream["height"]) == (rendition["width"], rendition["height"])

    # The public page's player and the editor's take the portrait shape.
    host_client.post(reverse("videos:publish", args=[video.pk]), {"published": "1"})
    public = host_client.get(reverse("replays:video", args=[brand.slug, video.slug])).content.decode()
    editor = host_client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert 'id="player" data-screen="replay" data-shape="portrait"' in public
    assert '<div class="player" data-state="idle" data-shape="portrait">' in editor


def test_only_a_portrait_video_gets_the_portrait_player():
    shapes = [(1920, 1080), (1080, 1920), (1080, 1080)]
    videos = [Recording(renditions=[{"width": w, "height": h}]) for w, h in shapes] + [Recording()]
    assert [video.is_portrait for video in videos] == [False, True, False, False]


@pytest.mark.django_db
def test_sound_only_plays_over_a_still_picture(
    host_client, brand, on_disk, broken_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sound = broken_files["sound-only"]
        response = upload(host_client, brand, name="podcast.m4a", content=sound, content_type="audio/mp4")

    assert response.status_code == 302
    video = Recording.objects.get()
    assert video.status == "ready", video.failure_reason
    assert [(r["name"], r["width"], r["height"]) for r in video.renditions] == [("audio", 640, 360)]
    assert abs(video.duration_ms - 2000) <= 150
    hls = on_disk[1]
    assert (hls / video.thumbnails[0]).read_bytes()[:2] == b"\xff\xd8"
    master = str(hls / video.master_path)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", master],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    assert {s["codec_type"] for s in json.loads(probe.stdout)["streams"]} == {"video", "audio"}
