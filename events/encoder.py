"""What an encoder should send to an event's channel (a STANDARD IVS channel, and the local media
server): H.264 Main at a constant bitrate with a keyframe every 2 s and no B-frames, AAC-LC of at
most 160 kbps at 48 kHz stereo. One settings object, ``STREAMING``, is what ``manage.py
preencode`` encodes by default and what the go-live panel suggests (``SUGGESTED``: the same at
1280x720 and 30 fps, for a camera or OBS, with its table and ffmpeg command)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from fractions import Fraction

SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
BITRATE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")
AUDIO_RATE = 48_000


def parse_bitrate(value: str) -> int:
    """Bits per second from "3500k", "3.5M" or "800000"; ValueError otherwise."""
    match = BITRATE.match(value.strip())
    if not match:
        raise ValueError(f"not a bitrate: {value!r} (e.g. 3500k or 3.5M)")
    bits = float(match.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[match.group(2).lower()]
    if bits < 1000:
        raise ValueError(f"bitrate too low: {value!r}")
    return int(bits)


def parse_size(value: str) -> tuple[int, int]:
    match = SIZE.match(value.strip())
    if not match or int(match.group(1)) % 2 or int(match.group(2)) % 2:
        raise ValueError(f"not a frame size: {value!r} (WIDTHxHEIGHT, even numbers, e.g. 1280x720)")
    return int(match.group(1)), int(match.group(2))


def kbps(bits: int) -> str:
    """ffmpeg's way of writing a bitrate: "3500k" (or bits per second when not whole kilobits)."""
    return f"{bits // 1000}k" if bits % 1000 == 0 else str(bits)


@dataclass(frozen=True)
class EncodeSettings:
    size: tuple[int, int] | None = None  # None: keep the input's
    fps: Fraction | None = None  # None: keep the input's
    video_bitrate: int = 3_500_000
    audio_bitrate: int = 160_000
    keyframe_interval: float = 2.0  # seconds; IVS wants 2, local HLS cuts 1 s fragments at keyframes
    preset: str = "veryfast"

    def gop(self, fps: Fraction) -> int:
        """Frames from one keyframe to the next at ``fps``."""
        return max(1, round(fps * Fraction(self.keyframe_interval)))

    def video_args(self, fps: Fraction) -> list[str]:
        """x264 at a constant bitrate (HRD filler), fixed keyframes, no B-frames (IVS's advice)."""
        rate, gop = kbps(self.video_bitrate), str(self.gop(fps))
        return [
            "-c:v", "libx264", "-preset", self.preset, "-profile:v", "main", "-pix_fmt", "yuv420p",
            "-bf", "0", "-b:v", rate, "-minrate", rate, "-maxrate", rate,
            "-bufsize", kbps(2 * self.video_bitrate), "-x264-params", "nal-hrd=cbr",
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
            "-force_key_frames", f"expr:gte(t,n_forced*{self.keyframe_interval:g})",
        ]  # fmt: skip

    def audio_args(self) -> list[str]:
        return ["-c:a", "aac", "-b:a", kbps(self.audio_bitrate), "-ar", str(AUDIO_RATE), "-ac", "2"]

    def summary(self) -> tuple[tuple[str, str], ...]:
        """The settings as the go-live panel lists them (needs ``size`` and ``fps``)."""
        width, height = self.size or (0, 0)
        fps = self.fps or Fraction(30)
        return (
            ("Video", "H.264 (x264), Main profile, constant bitrate (CBR)"),
            ("Resolution", f"{width}x{height} at {float(fps):g} fps"),
            ("Video bitrate", f"{self.video_bitrate // 1000:,} kbps"),
            (
                "Keyframe interval",
                f"{self.keyframe_interval:g} s ({self.gop(fps)} frames at {float(fps):g} fps); B-frames off",
            ),
            ("Audio", f"AAC-LC, {self.audio_bitrate // 1000} kbps, {AUDIO_RATE // 1000} kHz, stereo"),
        )

    def command(self, url: str, *, source: str = "-re -stream_loop -1 -i input.mp4") -> str:
        """A ready-made ffmpeg command sending ``source`` to ``url`` with these settings, one
        group of options a line (needs ``size`` and ``fps``)."""
        width, height = self.size or (0, 0)
        fps = self.fps or Fraction(30)
        video = self.video_args(fps)
        rates, keyframes = video.index("-b:v"), video.index("-g")
        return " \\\n  ".join(
            [
                f"ffmpeg {source}",
                shlex.join(video[:rates]),
                shlex.join(video[rates:keyframes]),
                shlex.join(["-s", f"{width}x{height}", "-r", f"{float(fps):g}", *video[keyframes:]]),
                shlex.join(self.audio_args()),
                f"-f flv {url}",
            ]
        )


STREAMING = EncodeSettings()  # preencode's defaults: the input's size and frame rate
SUGGESTED = replace(STREAMING, size=(1280, 720), fps=Fraction(30))  # the go-live panel's
