"""An uploaded video's poster, picked by the brand: a frame of the video, or a picture it
uploads. Either becomes a JPEG under a new name in the video's folder (so no cache, the CDN's or
a viewer's, shows the old one), the previous picked poster is deleted, and the public page, the
embed and the studio show it."""

from __future__ import annotations

import logging
import tempfile
from io import BytesIO
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts import permissions
from accounts.permissions import Action
from recordings.exceptions import InvalidUpload
from recordings.models import Recording, new_storage_key
from recordings.services.transcode import POSTER_PREFIX, make_thumbnail
from recordings.services.uploads import human_size, local_copy, probe_video

logger = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}
MIN_SIDE, MAX_SIDE = 160, 8000  # smaller looks blurred in the player; larger is a decompression bomb
POSTER_BOX = (1920, 1920)  # the stored poster fits in it, its shape kept


def set_poster(*, recording: Recording, at_ms: int, by) -> Recording:
    """Make the frame at ``at_ms`` of a ready uploaded video its poster. InvalidUpload for a video
    not ready or a time outside it; PermissionDenied unless ``by`` may edit the brand's recordings."""
    permissions.require(by, Action.EDIT_RECORDING, recording)
    _check_ready(recording)
    if not 0 <= at_ms < (recording.duration_ms or 0):
        raise InvalidUpload("Pick a moment within the video.")
    with tempfile.TemporaryDirectory(prefix="liveshop-poster-") as folder:
        with recording.upload.open("rb") as stored, local_copy(stored) as source:
            target = Path(folder) / "poster.jpg"
            make_thumbnail(source, target, probe_video(source, recording=recording.pk), at=at_ms / 1000)
        with target.open("rb") as content:
            recording = _use_poster(recording, File(content, name="poster.jpg"))
    logger.info("Poster picked", extra={"recording": recording.pk, "at_ms": at_ms})
    return recording


def set_poster_image(*, recording: Recording, image, by) -> Recording:
    """Make an uploaded picture (JPEG, PNG or WebP; an UploadedFile) a ready video's poster: read
    with Pillow, turned upright by its EXIF orientation, fitted in 1920x1920 and written anew as a
    JPEG without its metadata (where and when a phone took it stays private). InvalidUpload, with
    what is wrong, for anything else; PermissionDenied as set_poster."""
    permissions.require(by, Action.EDIT_RECORDING, recording)
    _check_ready(recording)
    poster = poster_jpeg(image)
    recording = _use_poster(recording, ContentFile(poster, name="poster.jpg"))
    logger.info("Poster uploaded", extra={"recording": recording.pk, "bytes": len(poster)})
    return recording


def poster_jpeg(image) -> bytes:
    """An uploaded picture checked (size, format, dimensions, readable) and re-encoded as a JPEG."""
    if image.size > MAX_IMAGE_BYTES:
        limit = human_size(MAX_IMAGE_BYTES)
        raise InvalidUpload(f"This picture is {human_size(image.size)}; posters may be at most {limit}.")
    try:
        with Image.open(image) as picture:
            check_picture(picture)  # from its header, before its pixels are decoded
            upright = ImageOps.exif_transpose(picture).convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError):
        raise InvalidUpload("This file is not a picture we can read (JPEG, PNG or WebP).") from None
    upright.thumbnail(POSTER_BOX)
    out = BytesIO()
    upright.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def check_picture(picture: Image.Image) -> None:
    if picture.format not in IMAGE_FORMATS:
        kind = picture.format or "of another kind"
        raise InvalidUpload(f"Posters are JPEG, PNG or WebP pictures; this one is {kind}.")
    width, height = picture.size
    if max(width, height) > MAX_SIDE:
        raise InvalidUpload(
            f"This picture is {width}x{height} pixels; posters may be at most {MAX_SIDE} on a side."
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidUpload(
            f"This picture is {width}x{height} pixels; posters need at least {MIN_SIDE} on a side."
        )


def _check_ready(recording: Recording) -> None:
    if not (recording.is_upload and recording.is_ready and recording.upload):
        raise InvalidUpload("A poster can be picked once the video has finished processing.")


def _use_poster(recording: Recording, content: File) -> Recording:
    """Store ``content`` as the video's poster under a new name; the previous picked one goes."""
    storage = storages["recordings"]
    name = storage.save(f"{recording.cdn_prefix}/{POSTER_PREFIX}{new_storage_key()[:12]}.jpg", content)
    old = [n for n in recording.thumbnails if n.rsplit("/", 1)[-1].startswith(POSTER_PREFIX)]
    recording.thumbnails = [name]
    recording.save(update_fields=["thumbnails", "updated_at"])
    for stale in old:
        storage.delete(stale)
    return recording
