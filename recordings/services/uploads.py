"""Uploaded videos: checking a file (type, size, ffprobe), storing it as a pending Recording and
queueing its transcode (a form's file here; a file sent in parts, straight to S3 or to our disk,
in recordings.services.resumable); publishing.

A rejected file leaves nothing behind: no row, no stored file. The transcode task is queued after
commit, so it never looks for a row that is not there yet."""

from __future__ import annotations

import logging
import posixpath
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename, slugify

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from liveshop import media
from liveshop.media import MediaInfo, Problem
from liveshop.tasks import enqueue_on_commit
from recordings.exceptions import InvalidUpload
from recordings.models import Recording, new_media_prefix
from recordings.services import problems

logger = logging.getLogger(__name__)

# Sound only (a podcast, a voice-over) plays over a still picture (recordings.services.transcode).
ALLOWED_EXTENSIONS = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".m4a", ".mp3"}
ALLOWED_CONTENT_TYPES = {
    "video/mp4", "video/x-m4v", "video/quicktime", "video/webm", "video/x-matroska",
    "audio/mp4", "audio/x-m4a", "audio/mpeg",
}  # fmt: skip
# A "30-minute" file is 1800.02 s to ffprobe (containers round up to their last frame or sample):
# the limit, as the page's check, allows half a second, else the refusal reads "30 min; at most 30 min".
DURATION_SLACK_SECONDS = 0.5
UNDECODABLE = {"unknown", "none"}  # ffprobe's name for a codec this ffmpeg does not know


def max_upload_bytes() -> int:
    return settings.LIVESHOP_MAX_UPLOAD_BYTES


def max_duration_seconds() -> int:
    """The longest video accepted: its transcode must fit the task's time limit (README)."""
    return settings.LIVESHOP_UPLOAD_MAX_DURATION_SECONDS


def human_duration(seconds: float) -> str:
    """``2 h 5 min``, ``45 min``, ``1 min 30 s``, ``12 s``."""
    total = round(seconds)
    hours, minutes, secs = total // 3600, total // 60 % 60, total % 60
    parts = [(hours, "h"), (minutes, "min"), (secs if not hours else 0, "s")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"


def human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1024
    return ""  # unreachable


def check_file_meta(*, name: str, size: int | None, content_type: str) -> None:
    """Type (extension and content type, both from the allow lists) and size; InvalidUpload."""
    extension = posixpath.splitext(name.lower())[1]
    if extension not in ALLOWED_EXTENSIONS:
        allowed = ", ".join(sorted(ALLOWED_EXTENSIONS))
        raise InvalidUpload(f"“{name}” is not a video file Liveshop accepts ({allowed}).")
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in ALLOWED_CONTENT_TYPES:
        raise InvalidUpload(f"“{name}” was sent as {kind or 'an unknown type'}, not as a video.")
    if size is not None and size > max_upload_bytes():
        raise InvalidUpload(
            f"“{name}” is {human_size(size)}; videos may be at most {human_size(max_upload_bytes())}."
        )
    if size == 0:
        raise InvalidUpload(f"“{name}” is empty.")


def probe_video(path: str | Path, **context) -> MediaInfo:
    """ffprobe ``path``: a video stream with a duration, in a codec ffmpeg can decode, or
    InvalidUpload with a sentence for the brand (recordings.services.problems); ffprobe's own
    words go to the log with ``context`` (the video's id)."""
    try:
        info = media.probe(path, audio_only=True)
    except media.MediaError as exc:
        raise InvalidUpload(problems.read_error(exc, path=path, what="Video refused", **context)) from None
    if info.has_video and info.video_codec in UNDECODABLE:
        detail = f"video codec {info.video_codec!r}"
        problems.log_detail("Video refused", problem=Problem.UNSUPPORTED_CODEC, detail=detail, **context)
        raise InvalidUpload(problems.explain(Problem.UNSUPPORTED_CODEC))
    if info.duration > max_duration_seconds() + DURATION_SLACK_SECONDS:
        raise InvalidUpload(
            f"This video is {human_duration(info.duration)} long; videos may be at most "
            f"{human_duration(max_duration_seconds())}. Trim it, or split it into parts, and upload those."
        )
    return info


@contextmanager
def local_copy(file) -> Iterator[Path]:
    """A path on disk with ``file``'s bytes: its own temporary file when it has one (Django's
    TemporaryUploadedFile, FileSystemStorage), else a copy made chunk by chunk."""
    path = getattr(file, "temporary_file_path", None)
    if path is not None:
        yield Path(path())
        return
    suffix = posixpath.splitext(getattr(file, "name", "") or "")[1]
    with tempfile.NamedTemporaryFile(prefix="liveshop-upload-", suffix=suffix) as copy:
        for chunk in file.chunks():
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


@contextmanager
def stored_copy(storage, name: str) -> Iterator[Path]:
    """A path on disk with a stored file's bytes: the file itself on disk, else a copy (S3)."""
    try:
        on_disk = storage.path(name)
    except NotImplementedError:
        on_disk = None
    if on_disk:
        yield Path(on_disk)
        return
    with storage.open(name, "rb") as stored, local_copy(stored) as path:
        yield path


def check_file(file) -> MediaInfo:
    """Type, size and ffprobe of an UploadedFile (rewound afterwards); InvalidUpload."""
    check_file_meta(name=file.name, size=file.size, content_type=getattr(file, "content_type", ""))
    with local_copy(file) as path:
        info = probe_video(path)
    file.seek(0)
    return info


def create_upload(*, organization: Organization, title: str, file, by) -> Recording:
    """Check ``file`` (an UploadedFile) and store it with a new pending Recording; the transcode
    task is queued after commit. Raises InvalidUpload and then stores nothing (PermissionDenied
    unless ``by`` may edit the brand's recordings)."""
    permissions.require(by, Action.EDIT_RECORDING, organization)
    check_file(file)
    recording = Recording(organization=organization, backend=Recording.Backend.UPLOAD, title=title.strip())
    recording.upload.save(get_valid_filename(file.name), file, save=False)
    try:
        return save_pending(recording, upload_size=file.size, by=by)
    except BaseException:
        recording.upload.storage.delete(recording.upload.name)
        raise


@transaction.atomic
def save_pending(recording: Recording, *, upload_size: int, by) -> Recording:
    """Save a checked upload (its file stored) as a pending Recording with a unique slug and a
    private folder; its transcode is queued after commit. PermissionDenied unless ``by`` may edit
    the brand's recordings."""
    permissions.require(by, Action.EDIT_RECORDING, recording.organization)
    recording.upload_size = upload_size
    recording.status = Recording.Status.PENDING
    recording.cdn_prefix = recording.cdn_prefix or new_media_prefix(private=True)  # see transcode
    recording.slug = unique_slug(recording.organization, recording.title)
    recording.full_clean(exclude=["upload"], validate_constraints=False)
    try:
        with transaction.atomic():
            recording.save()
    except IntegrityError:  # another upload took the slug meanwhile
        recording.pk, recording.slug = None, f"{recording.slug[:70]}-{uuid.uuid4().hex[:6]}"
        recording.save()
    logger.info(
        "Video uploaded",
        extra={"recording": recording.pk, "organization": recording.organization_id, "by": by.pk},
    )
    enqueue_on_commit("recordings.tasks.transcode_upload_task", recording.pk)
    return recording


def unique_slug(organization: Organization, title: str) -> str:
    base = slugify(title)[:70] or "video"
    taken = set(
        Recording.objects.filter(organization=organization, slug__startswith=base).values_list(
            "slug", flat=True
        )
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


# Publishing -----------------------------------------------------------------------------------


@transaction.atomic
def set_published(*, recording: Recording, published: bool, by) -> Recording:
    """Publish (``published_at`` now) or unpublish a ready video. Idempotent: publishing a
    published video keeps its first date. Raises InvalidUpload for a video not ready yet."""
    permissions.require(by, Action.EDIT_RECORDING, recording)
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    if published and not recording.is_ready:
        raise InvalidUpload("Only a video that has finished processing can be published.")
    if published == recording.is_published:
        return recording
    recording.published_at = timezone.now() if published else None
    recording.save(update_fields=["published_at", "updated_at"])
    logger.info("Video %s", "published" if published else "unpublished", extra={"recording": recording.pk})
    return recording
