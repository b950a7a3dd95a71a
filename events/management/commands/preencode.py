"""``manage.py preencode IN OUT``: re-encode a video for ``stream_video`` (H.264 CBR with fixed
keyframes, AAC, the product cues kept or added as a subtitle track), with a progress bar. Its
defaults are events.encoder.STREAMING, the settings the go-live panel suggests."""

from __future__ import annotations

import sys
import time
from fractions import Fraction
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from events import prerecorded
from events.encoder import STREAMING, EncodeSettings, kbps, parse_bitrate, parse_size
from liveshop.progress import ProgressLine


class ProgressBar(ProgressLine):
    """``encoding [#######.....] 58%  00:00:07 / 00:00:12  3.1x`` on stderr."""

    WIDTH = 30

    def __init__(self, stream, *, tty: bool, interval: float = 5.0):
        super().__init__(stream, tty=tty, interval=interval)
        self.started = self.shown_at = time.monotonic()
        self.finished = False

    def __call__(self, done: float, total: float) -> None:
        if self.finished:
            return
        fraction = done / total if total else 1.0
        filled = int(self.WIDTH * fraction)
        elapsed = time.monotonic() - self.started
        speed = done / elapsed if elapsed > 0 else 0.0
        line = (
            f"encoding [{'#' * filled}{'.' * (self.WIDTH - filled)}] {100 * fraction:3.0f}%  "
            f"{_clock(done)} / {_clock(total)}  {speed:.1f}x"
        )
        self.finished = self.show(line, final=done >= total) and done >= total


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Command(BaseCommand):
    help = "Re-encode a video for streaming as a live show (H.264 CBR, fixed keyframes, AAC, cue track)."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, metavar="IN", help="the video to re-encode")
        parser.add_argument("target", type=Path, metavar="OUT", help="the result: .mp4, .mov or .mkv")
        parser.add_argument("--size", help="WIDTHxHEIGHT, letterboxed (default: the input's)")
        parser.add_argument("--fps", help="frame rate, e.g. 30 or 30000/1001 (default: the input's)")
        video, audio = kbps(STREAMING.video_bitrate), kbps(STREAMING.audio_bitrate)
        parser.add_argument(
            "--video-bitrate", default=video, help=f"constant video bitrate (default {video})"
        )
        parser.add_argument("--audio-bitrate", default=audio, help=f"AAC bitrate (default {audio})")
        parser.add_argument(
            "--keyframe-interval",
            type=float,
            default=STREAMING.keyframe_interval,
            help=(
                f"seconds between keyframes (default {STREAMING.keyframe_interval:g}, as IVS wants; "
                "1 for 1 s local HLS segments)"
            ),
        )
        parser.add_argument(
            "--preset", default=STREAMING.preset, help=f"x264 preset (default {STREAMING.preset})"
        )
        parser.add_argument("--srt", type=Path, help="product cues to add as the subtitle track")

    def handle(self, *args, source, target, srt, **options):
        settings = self._settings(options)
        bar = ProgressBar(self.stderr, tty=sys.stderr.isatty())
        try:
            info = prerecorded.preencode(
                source=source, target=target, settings=settings, srt=srt, on_progress=bar
            )
        except prerecorded.StreamingError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        cues = "with a cue track" if info.subtitle_codecs else "without a cue track"
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {target}: {info.width}x{info.height} {info.video_codec} + {info.audio_codec}, "
                f"{info.duration:.1f} s, {cues}."
            )
        )

    @staticmethod
    def _settings(options) -> EncodeSettings:
        try:
            fps = Fraction(options["fps"]) if options["fps"] else None
            if fps is not None and not 1 <= fps <= 120:
                raise ValueError(f"frame rate out of range: {options['fps']}")
            return EncodeSettings(
                size=parse_size(options["size"]) if options["size"] else None,
                fps=fps,
                video_bitrate=parse_bitrate(options["video_bitrate"]),
                audio_bitrate=parse_bitrate(options["audio_bitrate"]),
                keyframe_interval=_interval(options["keyframe_interval"]),
                preset=options["preset"],
            )
        except (ValueError, ZeroDivisionError) as exc:
            raise CommandError(str(exc)) from None


def _interval(seconds: float) -> float:
    if not 0.25 <= seconds <= 10:
        raise ValueError(f"the keyframe interval must be between 0.25 and 10 seconds, not {seconds}")
    return seconds
