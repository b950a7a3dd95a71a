"""Reads for the replay and video pages."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.urls import reverse

from accounts import permissions
from catalog.models import Product
from events.models import LiveEvent
from recordings.models import ProductCue, Recording

Status = Recording.Status


def list_event_replays(event: LiveEvent) -> QuerySet[Recording]:
    """The event's playable recordings, newest first (by when the stream started)."""
    return (
        Recording.objects.filter(event=event, status=Status.READY)
        .exclude(master_path="")
        .order_by(F("started_at").desc(nulls_last=True), "-created_at", "-id")
    )


def list_event_recordings(event: LiveEvent) -> QuerySet[Recording]:
    """Every recording of the event (any status), newest first: the dashboard's list."""
    return Recording.objects.filter(event=event).order_by(
        F("started_at").desc(nulls_last=True), "-created_at", "-id"
    )


def get_event_replay(*, event: LiveEvent, recording_id: int | None = None) -> Recording:
    """The event's newest playable recording, or the one with ``recording_id``. Raises
    Recording.DoesNotExist when there is none (or the event has not ended: its replay starts
    once the show is over)."""
    if event.status != LiveEvent.Status.ENDED:
        raise Recording.DoesNotExist("The event has not ended.")
    replays = list_event_replays(event)
    recording = replays.filter(pk=recording_id).first() if recording_id else replays.first()
    if recording is None:
        raise Recording.DoesNotExist("No replay of this event.")
    return recording


def event_replay_url(event: LiveEvent) -> str:
    """The ended event's replay page, or "" while it has no playable recording."""
    if event.status != LiveEvent.Status.ENDED or not list_event_replays(event).exists():
        return ""
    return reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})


def get_video_for_viewer(*, user, brand: str, slug: str) -> Recording:
    """An uploaded video's page: published and ready for everyone; any state for the brand's
    people (a preview). Raises Recording.DoesNotExist otherwise, so an unpublished video looks
    the same as a missing one."""
    video = (
        Recording.objects.select_related("organization")
        .filter(backend=Recording.Backend.UPLOAD, organization__slug=brand, slug=slug)
        .exclude(slug="")
        .first()
    )
    if video is None:
        raise Recording.DoesNotExist("No such video.")
    if video.is_published and video.is_ready and video.master_path:
        return video
    if permissions.can(user, permissions.Action.VIEW, video):
        return video
    raise Recording.DoesNotExist("No such video.")


def list_cues(recording: Recording) -> list[ProductCue]:
    """The recording's cues in time order, with their products (inactive products left out)."""
    return list(
        ProductCue.objects.filter(recording=recording, product__is_active=True)
        .select_related("product")
        .order_by("start_ms", "id")
    )


def list_lineup_products(recording: Recording, cues: list[ProductCue]) -> list[Product]:
    """The products the page lists: an event's lineup, then products only cued; a video's cued
    products in order of first appearance."""
    products: dict[int, Product] = {}
    if recording.event_id:
        lineup = recording.event.lineup.select_related("product").filter(product__is_active=True)
        products = {entry.product_id: entry.product for entry in lineup}
    for cue in cues:
        products.setdefault(cue.product_id, cue.product)
    return list(products.values())


def replay_products(*, recordings: QuerySet[Recording], event: LiveEvent | None) -> QuerySet[Product]:
    """Products a replay page may show a QR code for: the recordings' cued products and the
    event's lineup, of the brand that owns them."""
    in_page = Q(pk__in=ProductCue.objects.filter(recording__in=recordings).values("product"))
    if event is not None:
        in_page |= Q(pk__in=event.lineup.values("product"))
        return Product.objects.filter(in_page, organization=event.organization_id)
    return Product.objects.filter(in_page, organization__in=recordings.values("organization"))
