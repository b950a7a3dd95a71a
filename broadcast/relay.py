"""The local relay: one ffmpeg per live event, reading the browser's MediaRecorder WebM from its
standard input and publishing RTMP to the local media server like any encoder.

Memory stays bounded: the socket hands chunks to ``feed``, a writer task moves them to ffmpeg's
stdin (a 64 KB pipe), and at most MAX_QUEUED_BYTES wait in between. When ffmpeg falls that far
behind (a slow machine, too high a preset) ``feed`` raises ``Overflow`` and the caller ends the
stream with a clear error: WebM cannot lose a chunk in the middle, so dropping is no option.
Nothing here logs ffmpeg's words unmasked: its command line holds the stream key."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque
from collections.abc import Sequence
from dataclasses import replace

from events.encoder import SUGGESTED
from liveshop import processes
from liveshop.media import ffmpeg

logger = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 2 * 1024 * 1024  # one MediaRecorder chunk (100 ms at 8 Mbps is ~100 KB)
MAX_QUEUED_BYTES = 8 * 1024 * 1024  # ~8-25 s of video at the presets' bitrates
STOP_TIMEOUT = 5.0  # seconds ffmpeg gets to flush and close the RTMP stream before it is killed
# The local media server cuts HLS segments at keyframes, at most every 0.5 s (hls_fragment 500ms): a
# keyframe every half second, so a viewer plays ~1 s behind the edge (two segments) rather than 2 s,
# and x264's zero-latency tuning (no lookahead) so a frame leaves the server as soon as it is encoded.
RELAY_SETTINGS = replace(SUGGESTED, size=None, keyframe_interval=0.5, video_bitrate=2_500_000)
FPS = SUGGESTED.fps


class RelayError(Exception):
    """The relay cannot go on; ``str()`` is the sentence for the host."""


class Overflow(RelayError):
    pass


def relay_command(ingest_url: str, *, copy_video: bool = False, tool: str = ffmpeg.FFMPEG) -> list[str]:
    """ffmpeg reading WebM (VP8/VP9/H.264 + Opus) on stdin and publishing H.264/AAC FLV.

    ``copy_video``: the browser records H.264 with a keyframe every RELAY_SETTINGS.keyframe_interval
    (static/js/console/golive/local.js asks for both): its video goes on as it is, with no decoding,
    no frame-rate conversion and no x264 in between (less delay, a fraction of the CPU)."""
    if copy_video:
        video = ["-c:v", "copy"]
    else:
        video = [*RELAY_SETTINGS.video_args(FPS), "-tune", "zerolatency", "-r", str(FPS)]
    return [
        tool, "-hide_banner", "-loglevel", "error", "-nostats",
        # The WebM header names both tracks: probe only its first chunk instead of 5 s of video.
        # No "-fflags nobuffer": with it ffmpeg 5.1 held a piped WebM until its end and failed to
        # decode most VP8 frames (checked with a MediaRecorder recording fed at its own pace).
        "-probesize", "65536", "-analyzeduration", "500000",
        "-f", "webm", "-i", "pipe:0",
        "-map", "0:v:0", "-map", "0:a:0?",
        *video,
        *RELAY_SETTINGS.audio_args(),
        # Each packet out as soon as it is muxed, not when a 32 KB output buffer fills (a copied
        # stream at a low bitrate waited for that: ~0.3 s at 1 Mbps).
        "-flush_packets", "1",
        "-f", "flv", ingest_url,
    ]  # fmt: skip


class Relay:
    """A running ffmpeg fed by ``feed``; ``stop`` ends it (gracefully: its stdin closed) and
    ``kill`` at once. ``done`` resolves when ffmpeg has exited, for whatever reason."""

    def __init__(self, command: Sequence[str], *, secret: str):
        self.command, self.secret = list(command), secret
        self.errors: deque[str] = deque(maxlen=ffmpeg.STDERR_TAIL)
        self.queued = 0
        self.bytes_in = 0
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.process: asyncio.subprocess.Process | None = None
        self.done: asyncio.Future[int] | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Start ffmpeg. ffmpeg.ToolMissing when it is not installed, CannotStart otherwise."""
        tool = self.command[0]
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=processes.die_with_parent_hook(signal.SIGKILL),
            )
        except FileNotFoundError:
            raise ffmpeg.ToolMissing(tool) from None
        except OSError as exc:
            raise ffmpeg.CannotStart(tool, exc.strerror or str(exc)) from None
        self.done = asyncio.get_running_loop().create_future()
        self._tasks = [asyncio.create_task(self._write()), asyncio.create_task(self._read_errors())]
        self._tasks.append(asyncio.create_task(self._wait()))

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def feed(self, chunk: bytes) -> None:
        """Queue one chunk for ffmpeg. Overflow (nothing queued) past MAX_QUEUED_BYTES."""
        if len(chunk) > MAX_CHUNK_BYTES:
            raise Overflow(
                f"A video chunk of {len(chunk) // 1024} KB is larger than the server takes "
                f"({MAX_CHUNK_BYTES // 1024} KB): choose a lower quality."
            )
        if self.queued + len(chunk) > MAX_QUEUED_BYTES:
            raise Overflow(
                f"The server fell behind: {self.queued // (1024 * 1024)} MB of your video were waiting to "
                "be encoded. Choose a lower quality, or close other programs on the server."
            )
        self.queued += len(chunk)
        self.bytes_in += len(chunk)
        self._queue.put_nowait(chunk)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """End the stream: ffmpeg's input ends after what is queued, it flushes and exits (killed
        after ``timeout`` s). Returns its exit code. Idempotent."""
        if self.process is None:
            return None
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self.done), timeout)
        except TimeoutError:
            await self.kill()
        return self.process.returncode

    async def kill(self) -> None:
        """Kill ffmpeg now and reap it. Idempotent."""
        if self.process is None:
            return
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        with contextlib.suppress(Exception):
            await asyncio.shield(self.done)
        for task in self._tasks:
            task.cancel()

    def failure(self) -> str:
        """Why ffmpeg stopped, in its own last words (the key masked)."""
        last = self.errors[-1] if self.errors else ""
        code = self.process.returncode if self.process else None
        why = f" ({last})" if last else ""
        return (
            f"The server's video relay stopped (ffmpeg exit code {code}){why}. If the media server refused "
            "the stream, another encoder may be streaming to this event."
        )

    async def _write(self) -> None:
        stdin = self.process.stdin
        try:
            while (chunk := await self._queue.get()) is not None:
                stdin.write(chunk)
                await stdin.drain()  # waits while the pipe is full: chunks pile up in the queue
                self.queued -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return  # ffmpeg exited; _wait reports it
        finally:
            with contextlib.suppress(Exception):
                stdin.close()

    async def _read_errors(self) -> None:
        async for raw in self.process.stderr:
            line = ffmpeg.mask(raw.decode("utf-8", "replace").strip(), self.secret)
            if line:
                self.errors.append(line)

    async def _wait(self) -> None:
        code = await self.process.wait()
        if not self.done.done():
            self.done.set_result(code)
