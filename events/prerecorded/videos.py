"""Reading a show's video and its product cues; ffmpeg's failures become StreamingError
(events.exceptions), whose message is shown as is and never holds the stream key."""

from __future__ import annotations

from pathlib import Path

from events.exceptions import SrtImportError, StreamingError
from events.srt_cues import CueSpec, parse_srt, parse_srt_timing
from liveshop import media
from liveshop.media import MediaInfo

NOT_INSTALLED = f"ffmpeg and ffprobe are not installed ({media.ffmpeg.INSTALL})."


def require_ffmpeg() -> None:
    if not media.installed():
        raise StreamingError(NOT_INSTALLED)


def probe(path: str | Path) -> MediaInfo:
    """ffprobe ``path``: a video with a duration, or StreamingError (missing file, not a video)."""
    path = Path(path)
    require_ffmpeg()
    if not path.is_file():
        raise StreamingError(f"No such video file: {path}")
    try:
        return media.probe(path)
    except media.ToolMissing:
        raise StreamingError(NOT_INSTALLED) from None
    except media.TimedOut:
        raise StreamingError(f"ffprobe took too long to read {path}; it may be damaged.") from None
    except media.ToolFailed as exc:
        reason = exc.last_line or "ffprobe could not read it"
        raise StreamingError(f"{path} is not a video ffmpeg can read ({reason}).") from None
    except media.NoVideoStream:
        raise StreamingError(f"{path} has no video stream.") from None
    except media.NoDuration:
        raise StreamingError(f"{path} has no duration; it may be truncated or damaged.") from None


def failure(exc: media.MediaError, what: str) -> StreamingError:
    """The StreamingError for ffmpeg failing to do ``what`` (e.g. "read x.mp4")."""
    if isinstance(exc, media.ToolMissing):
        return StreamingError(NOT_INSTALLED)
    if isinstance(exc, media.CannotStart):
        return StreamingError(f"Cannot start ffmpeg: {exc.reason}.")
    reason = exc.last_line if isinstance(exc, media.ToolFailed) else str(exc)
    return StreamingError(f"ffmpeg cannot {what} ({reason}).")


def extract_subtitles(path: str | Path) -> str:
    """The video's first subtitle track as SRT text (ffmpeg converts ASS and mov_text)."""
    command = [
        media.ffmpeg.FFMPEG,
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-map",
        "0:s:0",
        "-f",
        "srt",
        "-",
    ]
    try:
        output = media.run(command, timeout=media.ffmpeg.PROBE_TIMEOUT)
    except media.ToolFailed as exc:
        raise StreamingError(f"Cannot read the subtitle track of {path} ({exc.last_line}).") from None
    except media.MediaError as exc:
        raise failure(exc, f"read the subtitle track of {path}") from None
    return output.decode("utf-8", errors="replace")


def read_cues(*, organization, video: MediaInfo, srt: str | Path | None = None) -> list[CueSpec]:
    """The product cues in the SRT file ``srt``, else in the video's first subtitle track, with
    ``organization``'s products. StreamingError lists every problem with its SRT line."""
    if srt is not None:
        text: str | bytes = read_srt(Path(srt))
        source = str(srt)
    elif not video.subtitle_codecs:
        raise StreamingError(f"{video.path} has no subtitle track with product cues; pass --srt FILE.")
    else:
        text, source = extract_subtitles(video.path), f"the subtitle track of {video.path}"
    try:
        return parse_srt(text, organization=organization)
    except SrtImportError as exc:
        raise StreamingError(_problems(f"The product cues in {source} have problems", exc)) from None


def check_srt(path: Path) -> None:
    """StreamingError unless ``path`` is an SRT file of product cues (products not looked up)."""
    try:
        parse_srt_timing(read_srt(path))
    except SrtImportError as exc:
        raise StreamingError(_problems(f"The SRT file {path} has problems", exc)) from None


def read_srt(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StreamingError(f"Cannot read the SRT file {path}: {exc.strerror}.") from None


def _problems(summary: str, exc: SrtImportError) -> str:
    return f"{summary}:\n" + "\n".join(f"  {problem}" for problem in exc.problems)
