"""Small test videos made with ffmpeg's lavfi sources, once per test session, and the helpers the
upload and transcode tests share (storages on disk, a studio upload)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse


def make_video(
    path: Path,
    *,
    size: str = "640x480",
    seconds: float = 4,
    rate: int = 25,
    audio: bool = True,
    video: bool = True,
    extra: tuple[str, ...] = (),
) -> Path:
    """An H.264/AAC MP4 of a test pattern (and a tone) at ``size``; ``extra`` output options."""
    inputs: list[str] = []
    if video:
        inputs += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"] if video else []
    codecs += ["-c:a", "aac"] if audio else []
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs, *codecs, *extra, str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory) -> Path:
    """A 4-second 640x480 test pattern with a tone (H.264/AAC in MP4)."""
    return make_video(tmp_path_factory.mktemp("video") / "sample.mp4")


@pytest.fixture(scope="session")
def phone_video(tmp_path_factory) -> Path:
    """A one-second 1080x1920 portrait video at 10 fps with a tone, as a phone films it."""
    return make_video(tmp_path_factory.mktemp("video") / "phone.mp4", size="1080x1920", seconds=1, rate=10)


@pytest.fixture(scope="session")
def short_video(tmp_path_factory) -> Path:
    """A one-second 320x240 clip at 10 fps with a tone: the cheapest video that transcodes."""
    return make_video(tmp_path_factory.mktemp("video") / "short.mp4", size="320x240", seconds=1, rate=10)


@pytest.fixture(scope="session")
def tiny_portrait(tmp_path_factory) -> Path:
    """A one-second 240x320 portrait clip at 10 fps without sound."""
    path = tmp_path_factory.mktemp("video") / "portrait.mp4"
    return make_video(path, size="240x320", seconds=1, rate=10, audio=False)


@pytest.fixture
def on_disk(settings, tmp_path):
    """Uploads and HLS output in folders on disk (the tests' default is in memory)."""
    uploads, hls = tmp_path / "media", tmp_path / "recordings"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": uploads},
        },
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": hls},
        },
    }
    return uploads, hls


def assert_bit_rates_are_measured(master: Path) -> list:
    """Each variant of ``master`` advertises what its segments carry, as RFC 8216 defines it:
    AVERAGE-BANDWIDTH every segment's bits over the playlist's length, BANDWIDTH the highest bit
    rate of any run of contiguous segments lasting 0.5-1.5 times the target duration (each run
    tried here, from the files on disk). Returns the variants."""
    from recordings.playlists import parse_master, parse_media

    variants = parse_master(master.read_text())
    for variant in variants:
        path = master.parent / variant.uri
        playlist = parse_media(path.read_text())
        bits = [(path.parent / s.uri).stat().st_size * 8 for s in playlist.segments]
        seconds = [s.duration_ms / 1000 for s in playlist.segments]
        low, high = playlist.target_duration * 0.5, playlist.target_duration * 1.5
        n = len(bits)
        runs = [
            sum(bits[i:j]) / sum(seconds[i:j])
            for i in range(n)
            for j in range(i + 1, n + 1)
            if low <= sum(seconds[i:j]) <= high
        ]
        average = sum(bits) / sum(seconds)
        assert variant.average_bandwidth == pytest.approx(average, abs=1), variant
        assert variant.bandwidth == pytest.approx(max(runs, default=average), abs=1), variant
        assert variant.average_bandwidth <= variant.bandwidth
    return variants


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def upload(
    client,
    brand,
    *,
    name: str,
    content: bytes,
    content_type: str = "video/mp4",
    title="Spring looks",
    **extra,
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(
        f"{reverse('videos:create')}?brand={brand.slug}", {"title": title, "file": file}, **extra
    )


@pytest.fixture(scope="session")
def broken_files(tmp_path_factory, sample_video) -> dict[str, bytes]:
    """Files a brand might upload that are no good, by what is wrong with them: an MP4 cut off
    before its index, one cut off after it (ffprobe reads it; its second half is missing),
    random bytes, sound only, captions only, and a Matroska video whose codec ffmpeg does not
    know."""
    folder = tmp_path_factory.mktemp("broken")
    fast = make_video(folder / "fast.mp4", size="320x240", seconds=4, extra=("-movflags", "+faststart"))
    tone = make_video(folder / "tone.m4a", video=False, seconds=2)
    mkv = make_video(folder / "clip.mkv", size="320x240", seconds=1, audio=False)
    srt, captions = folder / "captions.srt", folder / "captions.mkv"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n")
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(srt), str(captions)]
    subprocess.run(command, check=True)
    whole, faststart = sample_video.read_bytes(), fast.read_bytes()
    return {
        "cut-before-index": whole[: len(whole) // 2],
        "cut-after-index": faststart[: len(faststart) // 3],
        "random-bytes": random.Random(7).randbytes(200_000),
        "sound-only": tone.read_bytes(),
        "captions-only": captions.read_bytes(),
        "unknown-codec": mkv.read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ"),
    }


MEDIA_BUCKET, MEDIA_REGION = "liveshop-media", "us-east-1"


@pytest.fixture
def media_s3(settings, monkeypatch, tmp_path):
    """The default storage on a moto S3 bucket (as with AWS_STORAGE_BUCKET_NAME); HLS output on
    disk. Yields the boto3 client."""
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": MEDIA_REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    settings.AWS_STORAGE_BUCKET_NAME = MEDIA_BUCKET
    options = {
        "bucket_name": MEDIA_BUCKET,
        "location": "media",
        "region_name": MEDIA_REGION,
        "file_overwrite": False,
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    with mock_aws():
        client = boto3.client("s3", region_name=MEDIA_REGION)
        client.create_bucket(Bucket=MEDIA_BUCKET)
        yield client
