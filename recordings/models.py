import math
import secrets
import uuid
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import F, Q

from accounts.models import Organization
from catalog.models import Product
from events.models import Highlight, LiveEvent, StreamSession

# Media that only signed-in or signed viewers may fetch lives under this folder of the
# "recordings" storage: the CDN serves it only with CloudFront signed cookies (the distribution's
# "recordings/private/*" behavior in deploy/cloudformation.yaml), and Django (DJANGO_SERVE_MEDIA)
# only through recordings.views.replay.RecordingMediaView. Public events' replays go under
# RECORDINGS_CDN_PREFIX instead, publicly cacheable.
PRIVATE_MEDIA_PREFIX = "private"


def new_storage_key() -> str:
    """A random folder name for a recording's files: 128 bits, never a sequential id."""
    return secrets.token_hex(16)


def new_media_prefix(*, private: bool) -> str:
    """A new folder for a recording's files in the "recordings" storage: ``private/<key>``, or
    ``<RECORDINGS_CDN_PREFIX>/<key>`` for public media, with a random key."""
    top = PRIVATE_MEDIA_PREFIX if private else settings.RECORDINGS_CDN_PREFIX.strip("/")
    return "/".join(part for part in (top, new_storage_key()) if part)


def upload_path(recording: "Recording", filename: str) -> str:
    """Where an uploaded video's original file lives in the default storage (kept for re-runs),
    in a random folder. Originals are never served: not by Django, not by the CDN."""
    return f"uploads/{recording.organization_id}/{new_storage_key()}/{filename}"


class Recording(models.Model):
    """A video viewers can replay with its product cues: the recording of an event's stream
    (IVS or the local media server) or a video a brand uploaded (``event`` empty, ``title`` and
    ``slug`` set, public once ``published_at`` is set). An IVS recording is one S3 prefix
    (reconnects merged by IVS included); ``(source_bucket, source_prefix)`` is its idempotency
    key. Paths are names in the "recordings" storage."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COPYING = "copying", "Copying"
        PROCESSING = "processing", "Transcoding"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Backend(models.TextChoices):
        IVS = "ivs", "Amazon IVS (S3)"
        LOCAL = "local", "Local media server"
        UPLOAD = "upload", "Uploaded video"

    class Files(models.TextChoices):
        """Where the replay's files are (RECORDINGS_INGEST_MODE at its last ingestion)."""

        COPIED = "copied", "Copied to the CDN bucket"
        REFERENCED = "referenced", "In the IVS recordings bucket (zero-copy)"

    organization_field = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="recordings")
    event = models.ForeignKey(
        LiveEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="recordings"
    )
    # Uploaded videos: the title and URL slug (unique per brand) of their page.
    title = models.CharField(max_length=200, blank=True)
    slug = models.SlugField(max_length=80, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    upload = models.FileField(upload_to=upload_path, max_length=300, blank=True)
    upload_size = models.PositiveBigIntegerField(null=True, blank=True)
    sessions = models.ManyToManyField(StreamSession, blank=True, related_name="recordings")
    # The stream ids IVS merged into this recording (from the Recording End event).
    stream_ids = models.JSONField(default=list, blank=True)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.IVS)
    source_bucket = models.CharField(max_length=63, blank=True)
    source_prefix = models.CharField(max_length=512, blank=True)
    session_id = models.CharField("IVS recording session id", max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    # Where each of its stream sessions starts in the video, {"<session id>": ms}, from the
    # playlist's program date-times at ingestion: after a reconnect the second stream starts at
    # the first one's media length, shorter than its wall-clock length when the encoder was
    # slower than real time (chat.replay). Empty for recordings ingested before it was kept.
    session_positions = models.JSONField(default=dict, blank=True)
    # [{"name", "resolution", "width", "height", "bandwidth", "codecs", "playlist"}], best first.
    renditions = models.JSONField(default=list, blank=True)
    # The folder of the replay's files in the "recordings" storage, set once: "private/<random
    # key>" (uploads, private events) or "<RECORDINGS_CDN_PREFIX>/<random key>" (public events).
    # Rows from before random keys keep "<prefix>/<event id>/<recording id>" or "<prefix>/uploads/<id>".
    cdn_prefix = models.CharField(max_length=300, blank=True)
    # COPIED: master_path, the renditions' playlists and thumbnails are names in the "recordings"
    # storage. REFERENCED: keys in the IVS recordings bucket (source_prefix/...), which CloudFront
    # serves at /<key> through its second origin, always behind signed cookies (recordings.cdn).
    files = models.CharField(max_length=20, choices=Files.choices, default=Files.COPIED)
    master_path = models.CharField(max_length=500, blank=True)
    thumbnails = models.JSONField(default=list, blank=True)
    objects_copied = models.PositiveIntegerField(default=0)
    bytes_copied = models.PositiveBigIntegerField(default=0)
    # Percent done while copying or transcoding, for the dashboard's progress bar.
    progress = models.PositiveSmallIntegerField(default=0)
    # The worker attempt that owns a transcode (host:pid:uuid) and when its lease runs out: its
    # progress extends the lease; one that ran out means the worker died, and the periodic check
    # runs the job again (``attempts`` counts every start) or fails it (recordings.services.jobs).
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=120, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Replay page views, counted apart from live viewers.
    replay_views = models.PositiveIntegerField(default=0)
    ingested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_bucket", "source_prefix"],
                condition=~Q(source_prefix=""),
                name="recording_once_per_prefix",
            ),
            models.UniqueConstraint(
                fields=["session_id"], condition=~Q(session_id=""), name="recording_once_per_session"
            ),
            models.UniqueConstraint(
                fields=["organization", "slug"], condition=~Q(slug=""), name="recording_slug_unique_per_brand"
            ),
            models.CheckConstraint(
                condition=Q(event__isnull=False) | Q(backend="upload"), name="recording_of_an_event_or_upload"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="recording_progress_is_a_percent"),
            # Media requests find their recording by this folder (recordings.selectors).
            models.UniqueConstraint(
                fields=["cdn_prefix"], condition=~Q(cdn_prefix=""), name="recording_cdn_prefix_unique"
            ),
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"], name="recording_job_lease")]

    def __str__(self):
        if self.event_id is None:
            return f"{self.title or 'Untitled video'} ({self.get_status_display()})"
        when = f"{self.started_at:%Y-%m-%d %H:%M}" if self.started_at else "not started"
        return f"{self.event} · {when} ({self.get_status_display()})"

    @property
    def is_upload(self) -> bool:
        return self.backend == self.Backend.UPLOAD

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def has_private_media(self) -> bool:
        """Are the files only for viewers the app lets in (signed cookies on the CDN, a permission
        check locally)? Uploaded videos (published ones too: unpublishing must take effect) and
        private events' replays; a public event's replay is public."""
        if self.is_upload or self.cdn_prefix.startswith(f"{PRIVATE_MEDIA_PREFIX}/"):
            return True
        return self.event is not None and self.event.is_private

    @property
    def duration(self) -> timedelta | None:
        return timedelta(milliseconds=self.duration_ms) if self.duration_ms is not None else None

    @property
    def is_portrait(self) -> bool:
        """Is its picture taller than wide (a phone's video)? Its best rendition says."""
        top = self.renditions[0] if self.renditions else {}
        return bool(top.get("width") and top.get("height") and top["height"] > top["width"])

    @property
    def is_referenced(self) -> bool:
        """Are its files the IVS recording itself (zero-copy), not a copy in the CDN bucket?"""
        return self.files == self.Files.REFERENCED

    @property
    def master_url(self) -> str:
        """The replay's multivariant playlist on the CDN (or Django's media URL locally)."""
        return self.file_url(self.master_path) if self.master_path else ""

    def file_url(self, name: str) -> str:
        """The unsigned URL of one of its files (``name`` as stored in master_path, renditions,
        thumbnails): the "recordings" storage's, or for a referenced recording the distribution's
        path of the IVS bucket's key (its second origin serves ``/ivs/*``)."""
        if not self.is_referenced:
            return storages["recordings"].url(name)
        domain = settings.AWS_CLOUDFRONT_DOMAIN
        return f"https://{domain}/{quote(name)}" if domain else f"/{quote(name)}"


class ProductCue(models.Model):
    """A product moment in a recording or uploaded video: the card shows from ``start_ms`` to
    ``end_ms`` (open: until the next cue or the end). Cues made from the event's highlights keep
    their highlight; others (SRT import, timeline editor) have none."""

    organization_field = "recording__organization"

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="cues")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    start_ms = models.BigIntegerField()
    end_ms = models.BigIntegerField(null=True, blank=True)
    highlight = models.ForeignKey(
        Highlight, on_delete=models.CASCADE, null=True, blank=True, related_name="cues"
    )
    # Where its highlight fell when that was after the recording's end (an encoder slower than
    # the wall clock): the cue is kept, clamped to the end, and the studio warns (product_cues).
    clamped_from_ms = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start_ms", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(start_ms__gte=0), name="cue_starts_at_or_after_zero"),
            models.CheckConstraint(
                condition=Q(end_ms__isnull=True) | Q(end_ms__gt=F("start_ms")), name="cue_ends_after_start"
            ),
            # NULL highlights are distinct, so any number of cues without one.
            models.UniqueConstraint(fields=["recording", "highlight"], name="cue_once_per_highlight"),
        ]
        indexes = [models.Index(fields=["recording", "start_ms"])]

    def __str__(self):
        end = f"{self.end_ms / 1000:.1f}s" if self.end_ms is not None else "…"
        return f"{self.product} {self.start_ms / 1000:.1f}s to {end}"


class CaptionTrack(models.Model):
    """A WebVTT caption file of a recording or uploaded video, one per language (issue 16): brand
    staff upload it in the studio (checked by recordings.webvtt), the replay page's player shows
    it through a <track> served from our origin (recordings.views.captions)."""

    organization_field = "recording__organization"

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="caption_tracks")
    language = models.CharField(max_length=35, help_text="A language tag such as en, de or pt-BR.")
    label = models.CharField(max_length=60, help_text="What the player's menu calls it.")
    text = models.TextField(help_text="The checked WebVTT file, UTF-8.")
    cue_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language", "id"]
        constraints = [
            models.UniqueConstraint(fields=["recording", "language"], name="one_caption_track_per_language")
        ]

    def __str__(self):
        return f"{self.label} ({self.language}) of {self.recording_id}"


class ResumableUpload(models.Model):
    """A video on its way up in parts (recordings.services.resumable): the browser sends each part
    to the URL the part store gives (S3 presigned ``UploadPart``, or our own PUT on local disk),
    asks which parts have arrived after a dropped connection or a reload, and completes it into a
    pending Recording. The row goes when the upload completes or is given up. ``id`` is the upload's
    name in URLs and in the browser's storage; ``store_id`` the part store's (S3's UploadId)."""

    organization_field = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="resumable_uploads")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    title = models.CharField(max_length=200)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    part_size = models.PositiveIntegerField()
    # Where the whole file goes in the default storage (upload_path), as for a one-piece upload.
    name = models.CharField(max_length=300)
    store_id = models.CharField(max_length=1024, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.CheckConstraint(condition=Q(size__gt=0), name="resumable_upload_not_empty")]

    def __str__(self):
        return f"{self.filename} ({self.size} bytes in {self.part_count} parts)"

    @property
    def part_count(self) -> int:
        return math.ceil(self.size / self.part_size)

    def part_bytes(self, number: int) -> int:
        """The exact size of part ``number`` (1-based): part_size, the last one what is left."""
        return min(self.part_size, self.size - (number - 1) * self.part_size)


class TranscodePiece(models.Model):
    """One piece of a long upload's chunked transcode (recordings.services.chunked): the upload cut
    at keyframes, each piece transcoded to the same renditions as a step of its own, with its own
    lease (``lease_owner``/``lease_expires_at``, as the video's), so pieces run in parallel on
    several workers and a restarted job skips the ``done`` ones. ``segments``: per rendition the
    stored segments (``[[name, duration_ms], ...]``) and its variant attributes. ``upload`` is
    the source's name: rows of a replaced source are not reused."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="transcode_pieces")
    upload = models.CharField(max_length=300)
    index = models.PositiveIntegerField()
    start_seconds = models.FloatField()
    duration_seconds = models.FloatField()
    plan = models.JSONField(default=list)  # the renditions, as the whole video's plan
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    lease_owner = models.CharField(max_length=120, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    segments = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["recording", "index"]
        constraints = [
            models.UniqueConstraint(fields=["recording", "index"], name="transcode_piece_once_per_index"),
        ]

    def __str__(self):
        return f"Piece {self.index} of video {self.recording_id} ({self.get_status_display()})"
