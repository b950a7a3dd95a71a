"""What a brand reads when an uploaded video cannot be used: one sentence per kind of problem
(liveshop.media.diagnose reads ffmpeg's and ffprobe's words as a kind), saying what happened and
what to do. ffmpeg's own lines (memory addresses, codec internals, server paths) go to the log
only, with the video's id."""

from __future__ import annotations

import logging
from pathlib import Path

from liveshop import media
from liveshop.media import Problem

logger = logging.getLogger(__name__)

EXPORT_AGAIN = "export it again as an MP4 (H.264 video, AAC sound) and upload that"
MESSAGES = {
    Problem.TRUNCATED: "The file ends early: it looks cut off during upload or copying. Upload it again.",
    Problem.NOT_MEDIA: (
        f"This file is not a readable video. Check that it plays on your computer, or {EXPORT_AGAIN}."
    ),
    Problem.NO_VIDEO: "This file has neither picture nor sound. Upload a video file.",
    Problem.NO_DURATION: (
        "This video has no length: it may be cut off or still being recorded. Upload the finished file."
    ),
    Problem.UNSUPPORTED_CODEC: (
        f"This video is in a format Liveshop cannot convert. In your editing app, {EXPORT_AGAIN}."
    ),
    Problem.CORRUPT: (
        f"Part of this video is damaged and could not be read. Upload it again, or {EXPORT_AGAIN}."
    ),
    Problem.TIMED_OUT: (
        "Processing this video took longer than the server allows. Upload a shorter or smaller video."
    ),
    Problem.NOT_INSTALLED: (
        "The server cannot process videos right now (its video tools are missing). Try again later."
    ),
    Problem.UNKNOWN: f"The video could not be processed. Press Retry; if it fails again, {EXPORT_AGAIN}.",
}


def explain(problem: Problem) -> str:
    """The sentence a brand reads for ``problem``."""
    return MESSAGES[problem]


def read_error(error: media.MediaError, *, path: str | Path, what: str, **context) -> str:
    """The sentence for ``error`` about the file at ``path``; ffmpeg's words are logged (as a
    warning: a server problem or a file we could not handle) with ``what`` and ``context``."""
    problem = media.diagnose(error, path=path)
    log_detail(what, problem=problem, detail=technical_detail(error), **context)
    return explain(problem)


def technical_detail(error: BaseException) -> str:
    """What ffmpeg or ffprobe said (its last lines, its exit code), for the log."""
    lines = getattr(error, "lines", None)
    if lines:
        return f"{error.__class__.__name__} (exit {getattr(error, 'returncode', '?')}): " + " | ".join(lines)
    return f"{error.__class__.__name__}: {error}"


def log_detail(what: str, *, problem: Problem | str, detail: str, **context) -> None:
    logger.warning(what, extra={"problem": str(problem), "detail": detail[:4000], **context})
