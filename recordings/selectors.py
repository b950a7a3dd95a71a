"""Reads for the replay and video pages."""

from __future__ import annotations

from django.db.models import Count, F, Q, QuerySet
from django.urls import reverse

from accounts import permissions
from accounts.permissions import may_watch
from catalog.models import Product
from events.models import LiveEvent
from recordings.models import CaptionTrack, ProductCue, Recording

Status = Recording.Status


def list_event_replays(event: LiveEvent) -> QuerySet[Recording]:
    """The event's playable recordings, newest first (by when the stream started)."""
    return (
        Recording.objects.filter(event=event, status=Status.READY)
        .exclude(master_path="")
        .order_by(F("started_at").desc(nulls_last=True), "-created_at", "-id")
    )


def list_event_recordings(event: LiveEvent) -> QuerySet[Recording]:
    """Every recording of the event (any status), newest first: the dashboard's list, each with
    ``late_cues``, how many of its cues were clamped to its end (list_late_cues)."""
    late = Count("cues", filter=Q(cues__clamped_from_ms__isnull=False))
    return (
        Recording.objects.filter(event=event)
        .annotate(late_cues=late)
        .order_by(F("started_at").desc(nulls_last=True), "-created_at", "-id")
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
    if video is None or not may_watch_recording(user, video):
        raise Recording.DoesNotExist("No such video.")
    return video


def may_watch_recording(user, recording: Recording) -> bool:
    """The one rule for a recording's page and its media files: an uploaded video is for
    everyone once published and ready, and for the brand's people before (a preview); an
    event's recording follows the event (accounts.permissions.may_watch)."""
    if recording.is_upload:
        if recording.is_published and recording.is_ready and recording.master_path:
            return True
        return permissions.can(user, permissions.Action.VIEW, recording)
    return recording.event is not None and may_watch(user, recording.event)


def get_recording_for_media(name: str) -> Recording:
    """The recording whose files include ``name`` (a name in the "recordings" storage), by its
    folder: ``<top>/<key>/...``, or ``<top>/<a>/<b>/...`` for rows older than random keys.
    Raises Recording.DoesNotExist for a name no recording owns."""
    parts = name.split("/")
    candidates = ["/".join(parts[:n]) for n in (1, 2, 3) if len(parts) > n and all(parts[:n])]
    recording = (
        Recording.objects.select_related("organization", "event", "event__organization")
        .filter(cdn_prefix__in=candidates)
        .first()
    )
    if recording is None:
        raise Recording.DoesNotExist("No recording owns this file.")
    return recording


def list_late_cues(recording: Recording) -> list[ProductCue]:
    """The recording's cues whose highlight fell after its end and were clamped to it, in time
    order with their products: the studio warns about each."""
    return list(
        recording.cues.filter(clamped_from_ms__isnull=False)
        .select_related("product")
        .order_by("start_ms", "id")
    )


def list_cues(recording: Recording) -> list[ProductCue]:
    """The recording's cues in time order, with their products (inactive products left out)."""
    return list(
        ProductCue.objects.filter(recording=recording, product__is_active=True)
        .select_related("product")
        .prefetch_related("product__variants")  # the cards' variants and stock
        .order_by("start_ms", "id")
    )


def list_lineup_products(recording: Recording, cues: list[ProductCue]) -> list[Product]:
    """The products the page lists: an event's lineup, then products only cued; a video's cued
    products in order of first appearance."""
    products: dict[int, Product] = {}
    if recording.event_id:
        lineup = recording.event.lineup.select_related("product").prefetch_related("product__variants")
        lineup = lineup.filter(product__is_active=True)
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


def list_caption_tracks(recording: Recording) -> list[CaptionTrack]:
    """The recording's caption tracks, without their text (the page names them; the track's own
    URL serves the text)."""
    return list(CaptionTrack.objects.filter(recording=recording).defer("text"))


def caption_track_urls(recording: Recording) -> list[dict]:
    """``[{"language", "label", "url"}]`` for the replay page's <track> elements; the URL changes
    with each new file (``?v=``), so a cached old file is never shown."""
    return [
        {
            "language": track.language,
            "label": track.label,
            "url": reverse("replays:captions", args=[track.pk]) + f"?v={int(track.updated_at.timestamp())}",
        }
        for track in list_caption_tracks(recording)
    ]
