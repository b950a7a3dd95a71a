"""The relay's ffmpeg on a live WebM like MediaRecorder's (real ffmpeg): it must publish while its
input is still arriving, not at the input's end."""

import asyncio
import subprocess

import pytest

from broadcast import relay
from tests.media import missing_tools

pytestmark = pytest.mark.asyncio


@pytest.fixture
def live_webm(tmp_path):
    """4 s of VP8 + Opus in live (unknown-size) WebM clusters, one keyframe, as Chrome records."""
    if missing_tools():
        pytest.skip(missing_tools())
    path = tmp_path / "live.webm"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", "testsrc=size=320x180:rate=20", "-f", "lavfi", "-i", "sine", "-t", "4",
         "-c:v", "libvpx", "-b:v", "300k", "-g", "200", "-c:a", "libopus", "-live", "1",
         "-cluster_time_limit", "300", "-f", "webm", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


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
