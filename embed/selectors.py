"""Reads of the embed app."""

from __future__ import annotations

from accounts.models import Organization
from embed.models import EmbedSettings
from events.listings import public_events
from events.models import LiveEvent

Status = LiveEvent.Status


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
