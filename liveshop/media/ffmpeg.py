"""The one ffmpeg/ffprobe toolkit: ``probe`` a file into a ``MediaInfo``, ``run`` a short command
for its output, and run a long one with its progress (``Process``, ``run_with_progress``).

Every child dies with the process that started it (liveshop.processes) and is reaped, whatever
happens to the caller (an exception in a progress callback stops ffmpeg too). Failures are
MediaError subclasses carrying what a caller needs to word its own message (the tool, its exit
code, its last stderr lines): each app maps them to its own error (an upload's InvalidUpload, a
conversion's ConversionFailed, the streamer's StreamingError). ``diagnose`` reads one as the
kind of problem the file has (cut off, not a video, a codec ffmpeg lacks...), for an app to
word for a person. Nothing here logs: a command may
hold a secret (a stream key), which ``secret`` masks in the lines kept.
"""

from __future__ import annotations

import contextlib
import enum
import json
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

from liveshop import processes

FFMPEG, FFPROBE = "ffmpeg", "ffprobe"  # looked up on PATH when run
INSTALL = "apt-get install ffmpeg"
PROBE_TIMEOUT = 60  # seconds; ffprobe reads headers (and an mp4's index), not the whole file
STDERR_TAIL = 12  # stderr lines kept for an error message
MASK = "****"


# Errors -----------------------------------------------------------------------------------------


class MediaError(Exception):
    """ffmpeg or ffprobe could not do it. ``tool`` is the program's name (as run)."""

    def __init__(self, message: str, *, tool: str):
        super().__init__(message)
        self.tool = tool


class CannotStart(MediaError):
    """The program could not be started (``reason``: the OS's words)."""

    def __init__(self, tool: str, reason: str):
        super().__init__(f"Cannot start {tool}: {reason}.", tool=tool)
        self.reason = reason


class ToolMissing(CannotStart):
    """The program is not installed (not on PATH)."""

    def __init__(self, tool: str):
        MediaError.__init__(self, f"{tool} is not installed ({INSTALL}).", tool=tool)
        self.reason = "not installed"


class TimedOut(MediaError):
    def __init__(self, tool: str, timeout: float):
        super().__init__(f"{tool} did not finish in {timeout:.0f} s.", tool=tool)
        self.timeout = timeout


class ToolFailed(MediaError):
    """The program exited with an error; ``lines`` are its last non-blank stderr lines."""

    def __init__(self, tool: str, returncode: int | None, lines: Sequence[str]):
        self.returncode, self.lines = returncode, list(lines)
        super().__init__(f"{tool} failed (exit code {returncode}): {self.last_line}", tool=tool)

    @property
    def last_line(self) -> str:
        return self.lines[-1] if self.lines else ""


class NotAVideo(MediaError):
    """ffprobe read the file but it is no video (``NoVideoStream``) or has no length (``NoDuration``)."""


class NoVideoStream(NotAVideo):
    """No picture stream; ``has_audio`` when there is sound (an audio file, a podcast)."""

    def __init__(self, message: str, *, tool: str, has_audio: bool = False):
        super().__init__(message, tool=tool)
        self.has_audio = has_audio


class NoDuration(NotAVideo):
    pass


class Problem(enum.StrEnum):
    """What is wrong, as far as ffmpeg's and ffprobe's words tell (``diagnose``)."""

    TRUNCATED = "truncated"  # the file ends early (cut off while copying or uploading)
    NOT_MEDIA = "not_media"  # not an audio or video file at all
    NO_VIDEO = "no_video"  # a media file without a picture
    NO_DURATION = "no_duration"  # no length: a live stream, or damaged
    UNSUPPORTED_CODEC = "unsupported_codec"  # a format this ffmpeg cannot decode
    CORRUPT = "corrupt"  # damaged data ffmpeg could not get past
    TIMED_OUT = "timed_out"
    NOT_INSTALLED = "not_installed"  # the server's problem, not the file's
    UNKNOWN = "unknown"


# Lower-case fragments of ffmpeg's and ffprobe's error lines, most telling first.
_SIGNS = (
    (Problem.UNSUPPORTED_CODEC, ("decoder (codec", "unsupported codec", "no decoder for", "unknown codec",
                                 "is not supported", "not currently supported", "codec not found")),
    (Problem.TRUNCATED, ("partial file", "end of file", "truncat", "unexpected eof", "ended prematurely")),
    (Problem.CORRUPT, ("invalid nal", "error while decoding", "corrupt", "concealing",
                       "error splitting the input", "non-existing pps", "invalid frame")),
    (Problem.NOT_MEDIA, ("invalid data found when processing input", "could not find codec parameters",
                         "format not recognized", "its output is not json", "ebml header parsing failed")),
)  # fmt: skip
ISO_BMFF_START = b"ftyp"  # bytes 4-8 of an MP4/MOV: the file type box comes first


def diagnose(error: MediaError, *, path: str | Path | None = None) -> Problem:
    """The kind of problem ``error`` (from ``probe``, ``run`` or a ``Process``) says ``path`` has.
    An MP4 that starts as one but has no index ("moov atom not found") is cut off; without the
    start it is not an MP4 at all."""
    if isinstance(error, ToolMissing | CannotStart):
        return Problem.NOT_INSTALLED
    if isinstance(error, TimedOut):
        return Problem.TIMED_OUT
    if isinstance(error, NoVideoStream):
        return Problem.NO_VIDEO
    if isinstance(error, NoDuration):
        return Problem.NO_DURATION
    text = "\n".join(getattr(error, "lines", [])).lower()
    if "moov atom not found" in text:
        return Problem.TRUNCATED if path is not None and _starts_as_mp4(Path(path)) else Problem.NOT_MEDIA
    for problem, signs in _SIGNS:
        if any(sign in text for sign in signs):
            return problem
    return Problem.UNKNOWN


def _starts_as_mp4(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(8)[4:8] == ISO_BMFF_START
    except OSError:
        return False


def installed() -> bool:
    """Whether both ffmpeg and ffprobe are on PATH."""
    return bool(shutil.which(FFMPEG) and shutil.which(FFPROBE))


def mask(text: str, secret: str) -> str:
    """``text`` with ``secret`` (as is and URL-encoded) replaced by ****."""
    if not secret:
        return text
    return text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)


def stderr_lines(stderr: bytes | str, *, secret: str = "") -> list[str]:
    """The non-blank lines of a program's stderr, stripped and masked."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return [mask(line.strip(), secret) for line in text.splitlines() if line.strip()]


# Probing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about a file: its first picture stream (cover art is not one), its first
    audio stream and its subtitle tracks. Sizes are as displayed (ffmpeg autorotates)."""

    path: Path
    duration: float | None  # seconds; None only from probe(..., need_duration=False)
    start_time: float  # the container's first timestamp: ffmpeg's output time starts there at 0
    video_codec: str
    width: int
    height: int
    frame_rate: Fraction | None
    pix_fmt: str = ""
    video_profile: str = ""  # e.g. "High"
    video_level: int | None = None  # e.g. 31
    rotation: int = 0
    audio_codec: str | None = None
    audio_profile: str = ""  # e.g. "LC"
    audio_sample_rate: int | None = None  # Hz
    subtitle_codecs: tuple[str, ...] = ()

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        """False for sound only (``probe(..., audio_only=True)``)."""
        return bool(self.video_codec)

    @property
    def duration_ms(self) -> int:
        return round((self.duration or 0) * 1000)


def probe(
    path: str | Path, *, need_duration: bool = True, audio_only: bool = False, timeout: float = PROBE_TIMEOUT
) -> MediaInfo:
    """ffprobe ``path``. ToolMissing, TimedOut, ToolFailed (not a file ffprobe can read: its
    output that is not JSON counts too), NoVideoStream (unless ``audio_only`` and it has sound:
    then a MediaInfo without a picture, ``has_video`` false), NoDuration (unless not
    ``need_duration``)."""
    path = Path(path)
    command = [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    output = run(command, timeout=timeout)
    try:
        data = json.loads(output or b"{}")
    except ValueError:
        raise ToolFailed(FFPROBE, 0, ["its output is not JSON"]) from None
    return media_info(path, data, need_duration=need_duration, audio_only=audio_only)


def media_info(path: Path, data: dict, *, need_duration: bool = True, audio_only: bool = False) -> MediaInfo:
    """A MediaInfo from ffprobe's JSON (``-show_format -show_streams``)."""
    streams, container = data.get("streams") or [], data.get("format") or {}
    video = next((s for s in streams if _is_picture(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is not None and audio_only:
        return _audio_info(path, container, audio, need_duration=need_duration)
    if video is None or container.get("format_name") == "tty":  # a text file "is" an ANSI video
        raise NoVideoStream(f"{path.name} has no video stream", tool=FFPROBE, has_audio=audio is not None)
    duration = _positive(container.get("duration")) or _positive(video.get("duration"))
    if need_duration and not duration:
        raise NoDuration(f"{path.name} has no duration", tool=FFPROBE)
    rotation = next((s.get("rotation") for s in video.get("side_data_list", []) if "rotation" in s), 0)
    rotation = int(rotation or 0)
    width, height = int(video["width"]), int(video["height"])
    if abs(rotation) % 180 == 90:  # ffmpeg autorotates: the output is the other way round
        width, height = height, width
    level = video.get("level")
    return MediaInfo(
        path=path,
        duration=duration,
        start_time=float(container.get("start_time") or 0),
        video_codec=video.get("codec_name", "unknown"),
        width=width,
        height=height,
        frame_rate=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        pix_fmt=video.get("pix_fmt", ""),
        video_profile=video.get("profile", ""),
        video_level=level if isinstance(level, int) else None,
        rotation=rotation,
        audio_codec=audio.get("codec_name", "unknown") if audio else None,
        audio_profile=(audio or {}).get("profile", ""),
        audio_sample_rate=_sample_rate(audio),
        subtitle_codecs=tuple(s.get("codec_name", "") for s in streams if s.get("codec_type") == "subtitle"),
    )


def _audio_info(path: Path, container: dict, audio: dict, *, need_duration: bool) -> MediaInfo:
    duration = _positive(container.get("duration")) or _positive(audio.get("duration"))
    if need_duration and not duration:
        raise NoDuration(f"{path.name} has no duration", tool=FFPROBE)
    return MediaInfo(
        path=path,
        duration=duration,
        start_time=float(container.get("start_time") or 0),
        video_codec="",
        width=0,
        height=0,
        frame_rate=None,
        audio_codec=audio.get("codec_name", "unknown"),
        audio_profile=audio.get("profile", ""),
        audio_sample_rate=_sample_rate(audio),
    )


def _sample_rate(audio: dict | None) -> int | None:
    try:
        return int((audio or {}).get("sample_rate") or 0) or None
    except ValueError:
        return None


def _is_picture(stream: dict) -> bool:
    return (
        stream.get("codec_type") == "video"
        and bool(stream.get("width"))
        and not (stream.get("disposition") or {}).get("attached_pic")
    )


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _rate(value: str | None) -> Fraction | None:
    try:
        rate = Fraction(value or "")
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


# Running ----------------------------------------------------------------------------------------


def run(command: Sequence[str], *, timeout: float | None = None) -> bytes:
    """Run a short command to its end and return its standard output. ToolMissing, CannotStart,
    TimedOut, or ToolFailed with its last stderr lines."""
    tool = command[0]
    try:
        done = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            preexec_fn=processes.die_with_parent_hook(),
        )
    except FileNotFoundError:
        raise ToolMissing(tool) from None
    except OSError as exc:
        raise CannotStart(tool, exc.strerror or str(exc)) from None
    except subprocess.TimeoutExpired:
        raise TimedOut(tool, timeout or 0) from None
    if done.returncode != 0:
        raise ToolFailed(tool, done.returncode, stderr_lines(done.stderr)[-STDERR_TAIL:])
    return done.stdout


def run_with_progress(
    command: Sequence[str], *, on_progress: Callable[[float], None] | None = None, secret: str = ""
) -> None:
    """Run ffmpeg with ``-progress pipe:1`` in ``command`` to its end, calling ``on_progress``
    with its output time (seconds) on this thread as it reports it. An exception from
    ``on_progress`` (or Ctrl-C) kills ffmpeg and propagates; a failure is ToolFailed."""
    with Process(command, secret=secret) as process:
        for seconds in process.progress():
            if on_progress is not None:
                on_progress(seconds)
        process.wait()
    process.check()


class Process:
    """A running ffmpeg whose ``-progress pipe:1`` reports (stdout) ``progress()`` yields and whose
    last stderr lines ``errors`` keeps (``secret`` masked), read by a thread. As a context manager,
    it is stopped (killed) and reaped on the way out if it still runs.

    ``own_group``: its own process group, so a terminal's Ctrl-C reaches only the caller (which
    may then end the stream cleanly). ``parent_death``: the signal it gets if the caller dies
    (SIGTERM lets ffmpeg close a live stream properly)."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        secret: str = "",
        own_group: bool = False,
        parent_death: signal.Signals = signal.SIGKILL,
    ):
        self.tool, self.secret = command[0], secret
        self.errors: deque[str] = deque(maxlen=STDERR_TAIL)
        self.ended = threading.Event()  # "progress=end" reported, or ffmpeg closed its stdout
        try:
            self.popen = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                process_group=0 if own_group else None,
                preexec_fn=processes.die_with_parent_hook(parent_death),
            )
        except FileNotFoundError:
            raise ToolMissing(self.tool) from None
        except OSError as exc:
            raise CannotStart(self.tool, exc.strerror or str(exc)) from None
        self._stderr = threading.Thread(target=self._read_errors, daemon=True, name=f"{self.tool}-stderr")
        self._stderr.start()

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self.close_pipes()

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def progress(self) -> Iterator[float]:
        """Each reported output time (seconds), until ffmpeg closes its standard output."""
        for raw in self.popen.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                yield int(value) / 1_000_000
            elif key == "progress" and value == "end":
                self.ended.set()
        self.ended.set()

    def _read_errors(self) -> None:
        for raw in self.popen.stderr:
            self.errors.extend(stderr_lines(raw, secret=self.secret))

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code once it has exited (subprocess.TimeoutExpired after ``timeout``)."""
        code = self.popen.wait(timeout=timeout)
        self._stderr.join(timeout=5)
        return code

    def stop(self, *, grace: float = 0) -> None:
        """End it if it still runs and reap it: SIGTERM first when ``grace`` (seconds it then
        gets to finish, e.g. to close a stream), SIGKILL after."""
        if self.popen.poll() is None and grace:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        processes.stop(self.popen)
        self._stderr.join(timeout=5)

    def close_pipes(self) -> None:
        """Close its output pipes, once nothing reads them any more."""
        for pipe in (self.popen.stdout, self.popen.stderr):
            with contextlib.suppress(OSError):
                pipe.close()

    def check(self) -> None:
        """ToolFailed unless it exited 0."""
        if self.popen.returncode != 0:
            raise ToolFailed(self.tool, self.popen.returncode, list(self.errors))
