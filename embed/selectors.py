"""Reads of the embed app."""

from __future__ import annotations

from accounts.models import Organization
from embed.models import EmbedSettings
from events.listings import public_events
from events.models import LiveEvent
from recordings.models import Recording

Status = LiveEvent.Status

VIDEO_REFUSED = "No video to embed here: it does not exist, is not published, or is not ready to play."


def get_embed_settings(organization_id: int) -> EmbedSettings:
    """The brand's embed settings, or unsaved defaults (no allowed site: nobody may frame it)."""
    found = EmbedSettings.objects.filter(organization_id=organization_id).first()
    return found or EmbedSettings(organization_id=organization_id)


def allowed_origins_of_brand(slug: str) -> list[str]:
    """The sites that may frame the brand's embed pages (none for an unknown brand)."""
    found = (
        EmbedSettings.objects.filter(organization__slug=slug)
        .values_list("allowed_origins", flat=True)
        .first()
    )
    return [line for line in (found or "").splitlines() if line]


def next_show(organization: Organization) -> LiveEvent | None:
    """What a brand's "next show" embed plays: the show live now (latest to start), else the
    soonest upcoming one, else the latest public one that ended (its replay)."""
    events = public_events(organization)
    live = events.filter(status=Status.LIVE).order_by("-status_changed_at", "-id").first()
    if live is not None:
        return live
    upcoming = events.filter(status=Status.SCHEDULED).order_by("scheduled_start", "id").first()
    if upcoming is not None:
        return upcoming
    ended = LiveEvent.objects.filter(organization=organization, status=Status.ENDED, is_private=False)
    return ended.order_by("-status_changed_at", "-id").first()


def get_embeddable_video(brand: str, slug: str) -> Recording:
    """The brand's uploaded video ``slug`` (as ``/v/<brand>/<slug>/`` names it) if anyone may
    watch it: published, ready and with its HLS. An embed is for strangers, so no preview for the
    brand's people either; anything else raises Recording.DoesNotExist with one reason for all
    (a draft's title is not told apart from a missing one, as on the video's own page)."""
    video = (
        Recording.objects.select_related("organization")
        .filter(
            backend=Recording.Backend.UPLOAD,
            organization__slug=brand,
            slug=slug,
            published_at__isnull=False,
            status=Recording.Status.READY,
        )
        .exclude(slug="")
        .exclude(master_path="")
        .first()
    )
    if video is None:
        raise Recording.DoesNotExist(VIDEO_REFUSED)
    return video
