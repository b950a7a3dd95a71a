"""Product image checks and thumbnails: the only module of the catalogue that uses Pillow."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files import File
from PIL import Image, ImageOps

# Formats every browser shows; the value is the file extension the stored image gets.
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
MAX_BYTES = 10 * 1024 * 1024
# Far above any product photo, far below what it takes to exhaust a worker's memory when decoded.
MAX_PIXELS = 50_000_000
THUMBNAIL_SIZE = (320, 320)


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    name: str  # a safe file name whose extension matches the real format
    thumbnail_name: str


def read_bytes(content: bytes | File) -> bytes:
    if isinstance(content, bytes):
        return content
    if content.seekable():
        content.seek(0)
    return content.read()


def check_image(content: bytes | File, *, filename: str) -> CheckedImage:
    """The upload's bytes and safe names, or ValidationError unless it is a PNG, JPEG, WebP or GIF
    image of at most 10 MB and 50 megapixels."""
    shown = PurePath(filename).name or "The file"
    size = len(content) if isinstance(content, bytes) else content.size
    if size > MAX_BYTES:
        raise ValidationError(
            f"“{shown}” is {size / 1024 / 1024:.1f} MB; a product image may be at most 10 MB.",
            code="image_too_large",
        )
    data = read_bytes(content)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, (width, height) = image.format, image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(
            f"“{shown}” is not an image Liveshop can read; upload a PNG, JPEG, WebP or GIF file.",
            code="invalid_image",
        ) from exc
    if kind not in FORMATS:
        raise ValidationError(
            f"“{shown}” is a {kind} image; upload a PNG, JPEG, WebP or GIF file.", code="invalid_image"
        )
    if width * height > MAX_PIXELS:
        raise ValidationError(
            f"“{shown}” is {width} x {height} pixels; a product image may have at most 50 megapixels.",
            code="image_too_large",
        )
    stem = _safe_stem(filename)
    return CheckedImage(data=data, name=f"{stem}.{FORMATS[kind]}", thumbnail_name=f"{stem}-thumb.webp")


def _safe_stem(filename: str) -> str:
    stem = re.sub(r"[^\w-]", "", PurePath(filename).stem.replace(" ", "-").replace(".", "-"))
    return stem.strip("-_")[:50] or "image"


def make_thumbnail(image: CheckedImage) -> bytes:
    """A WebP no larger than 320x320 (aspect kept, EXIF rotation applied, transparency kept).
    Raises ValidationError when the image data is damaged past its header."""
    try:
        with Image.open(io.BytesIO(image.data)) as original:
            picture = ImageOps.exif_transpose(original)
            picture.thumbnail(THUMBNAIL_SIZE)
            picture = picture.convert("RGBA" if picture.has_transparency_data else "RGB")
            out = io.BytesIO()
            picture.save(out, format="WEBP", quality=80)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            f"“{image.name}” is damaged and cannot be turned into a thumbnail.", code="invalid_image"
        ) from exc
    return out.getvalue()
