"""Replays for the show lists (the home page, a brand's page): events.listings asks through the
``extensions.public_replays`` slot, since events never imports recordings.

Only what anyone may watch is listed, the rule of recordings.selectors.may_watch_recording for a
signed-out viewer: a public event's ready recording once the event has ended, and a brand's
published, ready uploaded video."""

from __future__ import annotations

from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse

from events.models import LiveEvent
from recordings import cdn
from recordings.models import Recording
from recordings.payloads import duration_text

# An event with several recordings (a dropped stream) is listed once: its newest. Reading a few
# more rows than asked for keeps the query bounded while leaving room for those doubles.
EXTRA_ROWS = 3


def public_replays_query(organization_id: int | None = None):
    """Ready recordings anyone may watch, newest first (published, ended or made)."""
    public_event = Q(event__isnull=False, event__is_private=False, event__status=LiveEvent.Status.ENDED) & ~Q(
        backend=Recording.Backend.UPLOAD
    )
    published_video = Q(backend=Recording.Backend.UPLOAD, published_at__isnull=False) & ~Q(slug="")
    replays = (
        Recording.objects.filter(public_event | published_video, status=Recording.Status.READY)
        .exclude(master_path="")
        .select_related("organization", "event")
        .annotate(listed_at=Coalesce("published_at", "ended_at", "started_at", "created_at"))
        .order_by(F("listed_at").desc(), "-id")
    )
    if organization_id is not None:
        replays = replays.filter(organization_id=organization_id)
    return replays


def public_replays(*, organization_id: int | None = None, limit: int = 12) -> list[dict]:
    """The newest ``limit`` replays anyone may watch, as cards (one query)."""
    cards, seen_events = [], set()
    for recording in public_replays_query(organization_id)[: limit * EXTRA_ROWS]:
        if recording.event_id is not None:
            if recording.event_id in seen_events:
                continue
            seen_events.add(recording.event_id)
        cards.append(replay_card(recording))
        if len(cards) == limit:
            break
    return cards


def replay_card(recording: Recording) -> dict:
    """What a show list shows of a replay: its title, brand, page, picture, length and date."""
    event = recording.event
    brand = recording.organization
    if event is not None:
        url = reverse("replays:event", kwargs={"brand": brand.slug, "slug": event.slug})
    else:
        url = reverse("replays:video", kwargs={"brand": brand.slug, "slug": recording.slug})
    return {
        "id": recording.pk,
        "title": event.title if event else recording.title or "Untitled video",
        "brand_name": brand.name,
        "brand_slug": brand.slug,
        "url": url,
        "image": thumbnail_url(recording),
        "duration": duration_text(recording.duration_ms),
        "when": recording.listed_at,
    }


def thumbnail_url(recording: Recording) -> str:
    """A frame a third of the way in (the first is often black), else the event's own picture."""
    if recording.thumbnails:
        return cdn.media_url(recording, recording.thumbnails[len(recording.thumbnails) // 3])
    event = recording.event
    return event.thumbnail.url if event is not None and event.thumbnail else ""
