"""Uploaded videos: checking a file (type, size, ffprobe), storing it as a pending Recording and
queueing its transcode; the S3 direct upload (presigned POST, then a confirmation that HEADs the
object); publishing.

A rejected file leaves nothing behind: no row, no stored file. The transcode task is queued after
commit, so it never looks for a row that is not there yet."""

from __future__ import annotations

import logging
import posixpath
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core import signing
from django.core.files.storage import storages
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
from recordings.models import Recording, new_media_prefix, upload_path
from recordings.services import problems

logger = logging.getLogger(__name__)

# Sound only (a podcast, a voice-over) plays over a still picture (recordings.services.transcode).
ALLOWED_EXTENSIONS = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".m4a", ".mp3"}
ALLOWED_CONTENT_TYPES = {
    "video/mp4", "video/x-m4v", "video/quicktime", "video/webm", "video/x-matroska",
    "audio/mp4", "audio/x-m4a", "audio/mpeg",
}  # fmt: skip
UNDECODABLE = {"unknown", "none"}  # ffprobe's name for a codec this ffmpeg does not know
PRESIGN_EXPIRES = 3600  # the browser has an hour to send the file to S3
TOKEN_MAX_AGE = 24 * 3600
_SIGNER_SALT = "recordings.s3-upload"


@dataclass(frozen=True)
class DirectUpload:
    """What the page needs to POST a file straight to S3: the form's URL and fields, and a signed
    token naming the object, for the confirmation."""

    url: str
    fields: dict[str, str]
    token: str
    key: str


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


def uses_direct_upload() -> bool:
    """Uploads go straight to S3 when the default storage is S3."""
    return bool(settings.AWS_STORAGE_BUCKET_NAME) and hasattr(storages["default"], "bucket_name")


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
    if info.duration > max_duration_seconds():
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
        return _save_pending(recording, upload_size=file.size, by=by)
    except BaseException:
        recording.upload.storage.delete(recording.upload.name)
        raise


@transaction.atomic
def _save_pending(recording: Recording, *, upload_size: int, by) -> Recording:
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


# S3 direct upload -----------------------------------------------------------------------------


def start_direct_upload(
    *, organization: Organization, filename: str, size: int, content_type: str
) -> DirectUpload:
    """A presigned POST for one new object in the default (S3) storage: exact key, exact Content-Type,
    at most LIVESHOP_MAX_UPLOAD_BYTES. Writes nothing; the token ties the key to the brand."""
    check_file_meta(name=filename, size=size, content_type=content_type)
    storage = storages["default"]
    name = upload_path(Recording(organization=organization), get_valid_filename(filename))
    key = _key(storage, name)
    post = storage.bucket.meta.client.generate_presigned_post(
        Bucket=storage.bucket_name,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[
            {"Content-Type": content_type},
            ["content-length-range", 1, max_upload_bytes()],
        ],
        ExpiresIn=PRESIGN_EXPIRES,
    )
    payload = {"org": organization.pk, "name": name, "type": content_type}
    token = signing.dumps(payload, salt=_SIGNER_SALT, compress=True)
    return DirectUpload(url=post["url"], fields=post["fields"], token=token, key=key)


def confirm_direct_upload(*, organization: Organization, token: str, title: str, by) -> Recording:
    """The browser says the file is in S3: HEAD it (size, type), ffprobe a copy, then a pending
    Recording and the transcode task, as create_upload. A bad object is deleted (InvalidUpload)."""
    permissions.require(by, Action.EDIT_RECORDING, organization)
    try:
        payload = signing.loads(token, salt=_SIGNER_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        raise InvalidUpload("This upload link is invalid or has expired; upload the video again.") from None
    if payload.get("org") != organization.pk:
        raise InvalidUpload("This upload belongs to another brand.")
    storage, name = storages["default"], payload["name"]
    if Recording.objects.filter(upload=name).exists():
        raise InvalidUpload("This upload has already been added.")
    size, content_type = _head(storage, name)
    try:
        check_file_meta(name=name, size=size, content_type=content_type)
        if content_type != payload["type"]:
            raise InvalidUpload(f"The file was stored as {content_type}, not {payload['type']}.")
        with storage.open(name, "rb") as stored, local_copy(stored) as path:
            probe_video(path)
    except InvalidUpload:
        storage.delete(name)
        raise
    recording = Recording(organization=organization, backend=Recording.Backend.UPLOAD, title=title.strip())
    recording.upload.name = name
    return _save_pending(recording, upload_size=size, by=by)


def _key(storage, name: str) -> str:
    location = (getattr(storage, "location", "") or "").strip("/")
    return f"{location}/{name}" if location else name


def _head(storage, name: str) -> tuple[int, str]:
    try:
        head = storage.bucket.meta.client.head_object(Bucket=storage.bucket_name, Key=_key(storage, name))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"404", "NoSuchKey", "NotFound"}:
            raise InvalidUpload("The video did not reach storage; upload it again.") from None
        raise InvalidUpload(f"Storage refused to describe the upload ({code}); try again.") from None
    except BotoCoreError as exc:
        raise InvalidUpload(f"Storage could not be reached ({exc}); try again.") from None
    return head["ContentLength"], head.get("ContentType", "")


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
