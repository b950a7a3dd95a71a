"""The relay's ffmpeg on a live WebM like MediaRecorder's (real ffmpeg): it must publish while its
input is still arriving, not at the input's end."""

import asyncio
import itertools
import subprocess

import pytest

from broadcast import relay
from tests.media import missing_tools

pytestmark = pytest.mark.asyncio


def live_recording(tmp_path, name: str, video: list[str], *, cluster_ms: int, container: str) -> bytes:
    """4 s of a test pattern and a tone, Opus audio, in live (unknown-size) clusters of at most
    ``cluster_ms``, as MediaRecorder writes them."""
    if missing_tools():
        pytest.skip(missing_tools())
    path = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", "testsrc=size=320x180:rate=20", "-f", "lavfi", "-i", "sine", "-t", "4",
         *video, "-c:a", "libopus",
         "-live", "1", "-cluster_time_limit", str(cluster_ms), "-f", container, str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture
def live_webm(tmp_path):
    """VP8 + Opus WebM, one keyframe, as Chrome records."""
    video = ["-c:v", "libvpx", "-b:v", "300k", "-g", "200"]
    return live_recording(tmp_path, "live.webm", video, cluster_ms=300, container="webm")


async def published_before_the_end(command: list[str], data: bytes, out) -> bool:
    """Feed the first 70% of ``data`` and keep the input open: does FLV come out meanwhile?"""
    pipe = relay.Relay(command, secret="")
    await pipe.start()
    try:
        pipe.feed(data[: len(data) * 7 // 10])
        for _ in range(200):  # up to 20 s, polled
            if out.exists() and out.stat().st_size > 20_000:
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await pipe.kill()


async def test_the_relay_publishes_while_the_webm_is_still_arriving(live_webm, tmp_path):
    """With ``-fflags +genpts+nobuffer`` (the relay's first version) ffmpeg 5.1 held this input
    until its end: this test failed then (checked), and the browser path lagged seconds behind."""
    out = tmp_path / "out.flv"

    assert await published_before_the_end(relay.relay_command(str(out)), live_webm, out)


@pytest.fixture
def live_h264(tmp_path):
    """H.264 + Opus Matroska with a keyframe every 0.5 s, as Chromium records
    ``video/webm;codecs=h264`` with ``videoKeyFrameIntervalDuration: 500`` (its mimeType then reads
    video/x-matroska)."""
    video = ["-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "10", "-b:v", "300k"]
    return live_recording(tmp_path, "live.mkv", video, cluster_ms=100, container="matroska")


def keyframes(path) -> list[str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,flags",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return [line.split(",")[0] for line in out.splitlines() if "K" in line]  # their times (s)


async def test_the_browsers_h264_is_copied_keyframes_and_all(live_h264, tmp_path):
    """The copy path publishes while its input arrives, and the video is the browser's own: its
    keyframes (the media server's segment cuts) every 0.5 s as the browser set them."""
    out = tmp_path / "out.flv"

    command = relay.relay_command(str(out), copy_video=True)

    assert "libx264" not in command and command[command.index("-c:v") + 1] == "copy"
    assert await published_before_the_end(command, live_h264, out)
    whole = tmp_path / "whole.flv"
    pipe = relay.Relay(relay.relay_command(str(whole), copy_video=True), secret="")
    await pipe.start()
    pipe.feed(live_h264)
    assert await pipe.stop(timeout=30) == 0, list(pipe.errors)
    times = [float(t) for t in keyframes(whole)]
    assert len(times) == 8 and {round(b - a, 3) for a, b in itertools.pairwise(times)} == {0.5}
