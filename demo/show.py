"""The demo's live show: a generated video that presents the demo products one after another,
with an SRT of product cues at the moments each product appears, streamed in a loop into the
demo event by ``manage.py demo_show`` (``make demo``, demo/management/commands/demo_show.py).

The video is drawn by ffmpeg alone (a test pattern, each product's name and price written on it
while its cue is on, a running clock, a tone whose pitch changes with the product) and encoded
for the local media server: H.264 with a keyframe every second (HLS cuts 1 s fragments at
keyframes) and AAC."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from catalog.models import Product
from liveshop import media

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
INTRO_MS = 4_000
PER_PRODUCT_MS = 8_000
FPS = 30
# A studio backdrop: dark colours turning slowly (the picture moves, as a live show's does) and
# no edges or texture, so the product detector finds the product's image, not the background
# (ffmpeg's test pattern's bars and checkerboard took nearly all of a frame's keypoints).
BACKDROP = "gradients=size=1280x720:n=3:c0=0x1c1b33:c1=0x35284f:c2=0x123a4a:seed=7:speed=0.004"


class DemoVideoError(Exception):
    """ffmpeg is missing or failed to draw the demo video (the message says why)."""


@dataclass(frozen=True)
class DemoCue:
    product: Product
    start_ms: int
    end_ms: int


def demo_cues(products: Sequence[Product], *, per_product_ms: int = PER_PRODUCT_MS) -> list[DemoCue]:
    """An intro, then each product for ``per_product_ms``, in lineup order."""
    return [
        DemoCue(product, INTRO_MS + i * per_product_ms, INTRO_MS + (i + 1) * per_product_ms)
        for i, product in enumerate(products)
    ]


def demo_video_path(directory: Path, products: Sequence[Product]) -> Path:
    """Where the video for these products lives: named by a digest of what is drawn on it, so a
    renamed or repriced product gets a new video and an unchanged one is reused."""
    drawn = "\n".join(f"{p.pk}:{p.name}:{p.price}:{p.currency}:{p.image.name or ''}" for p in products)
    return directory / f"show-{hashlib.sha256(drawn.encode()).hexdigest()[:12]}.mp4"


def write_demo_video(
    path: Path, products: Sequence[Product], *, title: str, per_product_ms: int = PER_PRODUCT_MS
) -> list[DemoCue]:
    """Draw the show into ``path`` (MP4) unless it is there already; return its cues."""
    cues = demo_cues(products, per_product_ms=per_product_ms)
    if path.exists():
        return cues
    if not media.installed():
        raise DemoVideoError(f"ffmpeg is not installed ({media.ffmpeg.INSTALL}).")
    path.parent.mkdir(parents=True, exist_ok=True)
    duration = (cues[-1].end_ms if cues else INTRO_MS) / 1000
    with tempfile.TemporaryDirectory() as scratch:
        # Texts go through files: drawtext's own escaping of ':' and quotes is a trap.
        texts = Path(scratch)
        filters = [_text(texts / "title.txt", title, y="h*0.12", size=44, enable=f"lt(t,{INTRO_MS / 1000})")]
        for i, cue in enumerate(cues):
            on = f"between(t,{cue.start_ms / 1000},{cue.end_ms / 1000 - 0.001})"
            price = f"{cue.product.price} {cue.product.currency}"
            # The price beside the product's image (which carries its name). No caption of the
            # name: its white letters on a dark box took all of a frame's strongest corners, and
            # the product detector (the console's "Seen on screen") then never found the image.
            filters.append(_text(texts / f"{i}-price.txt", price, y="246", size=44, enable=on, x="540"))
        filters.append(
            f"drawtext=fontfile={FONT}:text='%{{pts\\:hms}}':x=w-tw-24:y=24:fontsize=28:"
            "fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8"
        )
        # Each product's own image beside its name while its cue is on: what the product detector
        # (discovery, the console's "Seen on screen") recognises in the live video.
        inputs, graph = _product_images(texts, cues, duration, ",".join(filters))
        tone = "+".join(
            f"sin(2*PI*{330 + 55 * i}*t)*between(t,{c.start_ms / 1000},{c.end_ms / 1000})"
            for i, c in enumerate(cues)
        )
        command = [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"{BACKDROP}:rate={FPS}:duration={duration}",
            "-f", "lavfi", "-i", f"aevalsrc=exprs='0.2*({tone or '0'})':s=48000:d={duration}",
            *inputs, "-filter_complex", graph, "-map", "[video]", "-map", "1:a",
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
            "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
            "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "128k", "-ar", "48000",
            "-movflags", "+faststart",
            str(path.with_suffix(".part.mp4")),
        ]  # fmt: skip
        try:
            media.run(command)
        except media.MediaError as exc:
            path.with_suffix(".part.mp4").unlink(missing_ok=True)
            reason = "\n".join(exc.lines) if isinstance(exc, media.ToolFailed) else str(exc)
            raise DemoVideoError(f"ffmpeg could not draw the demo video: {reason[-500:]}") from None
    path.with_suffix(".part.mp4").rename(path)
    return cues


def _product_images(
    scratch: Path, cues: Sequence[DemoCue], duration: float, drawn: str
) -> tuple[list[str], str]:
    """ffmpeg inputs (inputs 2, 3, ...: each product image, looped for the video's length) and
    the filter graph: the drawn texts, then each image overlaid on the left while its cue is on."""
    inputs, steps, last = [], [f"[0:v]{drawn}[v0]"], "v0"
    for i, cue in enumerate(c for c in cues if c.product.image):
        file = scratch / f"image-{i}{Path(cue.product.image.name).suffix}"
        with cue.product.image.open("rb") as image:
            file.write_bytes(image.read())
        inputs += ["-loop", "1", "-t", f"{duration}", "-i", str(file)]
        on = f"between(t,{cue.start_ms / 1000},{cue.end_ms / 1000 - 0.001})"
        steps.append(f"[{i + 2}:v]scale=-2:420,format=yuv420p[p{i}]")
        steps.append(f"[{last}][p{i}]overlay=x=60:y=60:enable='{on}':eof_action=pass[v{i + 1}]")
        last = f"v{i + 1}"
    steps.append(f"[{last}]null[video]")
    return inputs, ";".join(steps)


def _text(
    file: Path, text: str, *, y: str, size: int, enable: str, x: str = "(w-tw)/2", box: bool = True
) -> str:
    file.write_text(text, encoding="utf-8")
    boxed = "box=1:boxcolor=black@0.65:boxborderw=18" if box else "box=0"
    return (
        f"drawtext=fontfile={FONT}:textfile={file}:x={x}:y={y}:fontsize={size}:fontcolor=white:"
        f"{boxed}:enable='{enable}'"
    )
