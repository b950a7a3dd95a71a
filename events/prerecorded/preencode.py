"""Pre-encoding a video for a pre-recorded show (``manage.py preencode``): H.264 CBR with fixed
keyframes and AAC as events.encoder.STREAMING says, the product cues kept or added as a subtitle
track, with progress."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from events.encoder import STREAMING, EncodeSettings
from events.exceptions import StreamingError
from events.prerecorded.videos import check_srt, failure, probe
from liveshop import media
from liveshop.media import MediaInfo

TEXT_SUBTITLES = {"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"}
CONTAINERS = {".mp4": ("mp4", "mov_text"), ".mov": ("mov", "mov_text"), ".mkv": ("matroska", "srt")}


def preencode(
    *,
    source: str | Path,
    target: str | Path,
    settings: EncodeSettings = STREAMING,
    srt: str | Path | None = None,
    on_progress: Callable[[float, float], None] | None = None,
) -> MediaInfo:
    """Re-encode ``source`` for streaming into ``target`` (.mp4, .mov or .mkv): H.264 CBR with a
    keyframe every ``keyframe_interval`` seconds, AAC (silent when the source has no audio), and
    the product cues as a subtitle track (``srt``, else the source's own). ``on_progress(done,
    total)`` in seconds. Writes a temporary file renamed into place: never a half-written one."""
    source, target = Path(source), Path(target)
    info = probe(source)
    container = _check_target(source, target)
    if srt is not None:
        check_srt(Path(srt))
    fps = settings.fps or info.frame_rate or Fraction(30)
    partial = target.with_name(f".{target.name}.partial")
    command = encode_command(info, partial, container, settings, fps, srt)
    duration = info.duration

    def report(seconds: float) -> None:
        if on_progress:
            on_progress(min(seconds, duration), duration)

    try:
        media.run_with_progress(command, on_progress=report)
        partial.replace(target)
    except media.ToolFailed as exc:
        tail = "\n".join(f"  {line}" for line in exc.lines) or "  (no output)"
        raise StreamingError(
            f"ffmpeg could not encode {source} (exit code {exc.returncode}):\n{tail}"
        ) from None
    except media.MediaError as exc:
        raise failure(exc, f"encode {source}") from None
    finally:
        partial.unlink(missing_ok=True)
    report(duration)
    return probe(target)


def _check_target(source: Path, target: Path) -> tuple[str, str]:
    container = CONTAINERS.get(target.suffix.lower())
    if container is None:
        raise StreamingError(
            f"Write the output to .mp4, .mov or .mkv (so it can keep the cues), not {target.name}."
        )
    if target.resolve() == source.resolve():
        raise StreamingError("The output must be another file than the input.")
    if not target.parent.is_dir():
        raise StreamingError(f"No such folder: {target.parent}")
    return container


def encode_command(info, target, container, settings: EncodeSettings, fps: Fraction, srt) -> list[str]:
    inputs = ["-i", str(info.path)]
    maps = ["-map", "0:v:0"]
    if info.audio_codec:
        maps += ["-map", "0:a:0"]
    else:  # players and IVS expect an audio track: add silence
        inputs += ["-f", "lavfi", "-t", f"{info.duration:.3f}", "-i", "anullsrc=r=48000:cl=stereo"]
        maps += ["-map", "1:a:0"]
    if srt is not None:
        maps += ["-map", f"{inputs.count('-i')}:s:0"]
        inputs += ["-i", str(srt)]
    elif any(codec in TEXT_SUBTITLES for codec in info.subtitle_codecs):
        index = next(i for i, codec in enumerate(info.subtitle_codecs) if codec in TEXT_SUBTITLES)
        maps += ["-map", f"0:s:{index}"]
    if settings.size:
        width, height = settings.size
        scale = (
            f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1"
        )
    else:
        scale = "scale=trunc(iw/2)*2:trunc(ih/2)*2,setsar=1"
    fmt, subtitle_codec = container
    return [
        media.ffmpeg.FFMPEG, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats",
        "-progress", "pipe:1", *inputs, *maps, "-t", f"{info.duration:.3f}", "-vf", f"{scale},fps={fps}",
        *settings.video_args(fps), *settings.audio_args(),
        "-c:s", subtitle_codec, *(["-movflags", "+faststart"] if fmt != "matroska" else []),
        "-f", fmt, str(target),
    ]  # fmt: skip
