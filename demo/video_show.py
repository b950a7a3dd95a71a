"""The demo show without a media server (no nginx-rtmp on the machine): the same generated video
and product cues, played as the brand's published shoppable video (``/v/northwind/<slug>/``)
instead of live. Uploaded once through the studio's own services (create_upload: checked and
transcoded to HLS, eagerly without Redis or by the demo's worker), then its product cues and
publishing; a later run finds it by title and only waits for it to be ready."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from events.srt_cues import CueSpec
from recordings.models import Recording
from recordings.services import product_cues, uploads

VIDEO_TITLE = "Northwind Trail Gear Show (the demo show as a video)"
POLL_SECONDS = 2


class VideoShowFailed(Exception):
    """The demo video could not be made a published video (the message says why)."""


def publish_demo_video(
    *, organization, video: Path, cues: Sequence[CueSpec], by, stop: threading.Event
) -> str | None:
    """The demo video as the brand's published video with ``cues``; its page's absolute URL, or
    None when ``stop`` was set first."""
    recording = (
        Recording.objects.filter(
            organization=organization, backend=Recording.Backend.UPLOAD, title=VIDEO_TITLE
        )
        .exclude(status=Recording.Status.FAILED)
        .order_by("-pk")
        .first()
    )
    if recording is None:
        with video.open("rb") as file:
            upload = UploadedFile(file, name=video.name, content_type="video/mp4", size=video.stat().st_size)
            recording = uploads.create_upload(
                organization=organization, title=VIDEO_TITLE, file=upload, by=by
            )
    while not recording.is_ready:
        if recording.status == Recording.Status.FAILED:
            raise VideoShowFailed(
                f"The demo video could not be converted: {recording.failure_reason or 'see the log'}"
            )
        if stop.wait(POLL_SECONDS):
            return None
        recording.refresh_from_db()
    product_cues.replace_cues(recording=recording, cues=cues, by=by)
    uploads.set_published(recording=recording, published=True, by=by)
    page = reverse("replays:video", kwargs={"brand": organization.slug, "slug": recording.slug})
    return settings.SITE_URL.rstrip("/") + page
