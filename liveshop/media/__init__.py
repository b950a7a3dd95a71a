"""Media files: the one ffmpeg/ffprobe toolkit every app uses (liveshop.media.ffmpeg)."""

from liveshop.media.ffmpeg import (
    MASK,
    CannotStart,
    MediaError,
    MediaInfo,
    NoDuration,
    NotAVideo,
    NoVideoStream,
    Process,
    TimedOut,
    ToolFailed,
    ToolMissing,
    installed,
    mask,
    probe,
    run,
    run_with_progress,
)

__all__ = [
    "MASK",
    "CannotStart",
    "MediaError",
    "MediaInfo",
    "NoDuration",
    "NoVideoStream",
    "NotAVideo",
    "Process",
    "TimedOut",
    "ToolFailed",
    "ToolMissing",
    "installed",
    "mask",
    "probe",
    "run",
    "run_with_progress",
]
