"""Reads for live events: who may watch, what viewers and host consoles get on (re)connect, the
stream details, the seller dashboard's lists and the go-live panel."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action, may_watch
from catalog.models import Product
from events import extensions, payloads, playback, snapshot_cache
from events.encoder import SUGGESTED
from events.invitations import is_invited
from events.models import WATCHABLE_STATUSES, EventProduct, Highlight, LiveEvent, StreamSession

Status = LiveEvent.Status

# Dashboard groups, in page order: (key, heading, statuses).
EVENT_GROUPS = (
    ("live", _("Live now"), (Status.LIVE,)),
    ("upcoming", _("Upcoming"), (Status.SCHEDULED, Status.NEEDS_CHANNEL)),
    ("past", _("Past"), LiveEvent.CLOSED_STATUSES),
)

# Suggested encoder settings for a STANDARD IVS channel (and the local media server): IVS wants
# a 2 s keyframe interval, constant bitrate, H.264 and AAC-LC of at most 160 kbps.
ENCODER_SETTINGS = SUGGESTED.summary()  # what preencode makes, at 1280x720 and 30 fps
STREAM_KEY_PLACEHOLDER = "<stream key>"
# A card shows its product's variants and stock (events.payloads.card): read them with the
# product, in one query per list, never one per card.
PRODUCT_VARIANTS = "product__variants"


def live_event_count() -> int:
    """How many shows are live now (liveshop.metrics: each has a discovery sampler)."""
    return LiveEvent.objects.filter(status=LiveEvent.Status.LIVE).count()


def watch_rule(user, event: LiveEvent) -> bool:
    """Action.WATCH on an event (registered in EventsConfig.ready): the event has a viewer page
    (not cancelled, not waiting for a channel), and it is public, or the user is one of the
    brand's people or invited (events.invitations). A public event's answer needs no query."""
    if not event.is_watchable:
        return False
    if not event.is_private or permissions.can(user, Action.VIEW, event):
        return True
    return is_invited(user, event)


def get_watchable_event(user, **lookup) -> LiveEvent:
    """The event matching ``lookup`` if ``user`` may watch it; Http404 otherwise (a private event
    looks the same as a missing one to people outside its brand). The viewer page, its QR codes,
    stream_details and the replay pages all find their event here."""
    queryset = LiveEvent.objects.select_related("organization").filter(status__in=WATCHABLE_STATUSES)
    event = get_object_or_404(queryset, **lookup)
    if not may_watch(user, event):
        raise Http404("No such event.")
    return event


def list_events(user, *, status: str = "", organization_id: int | None = None) -> QuerySet[LiveEvent]:
    """The events of the user's brands, newest start first, with their brand and lineup size."""
    events = permissions.scope(LiveEvent.objects.all(), user, Action.VIEW)
    if status:
        events = events.filter(status=status)
    if organization_id:
        events = events.filter(organization_id=organization_id)
    return events.select_related("organization").annotate(lineup_size=Count("lineup"))


def group_events(events) -> list[tuple[str, str, list[LiveEvent]]]:
    """``events`` split into the dashboard's groups (live, upcoming soonest first, past newest
    first); empty groups are left out."""
    groups = []
    for key, heading, statuses in EVENT_GROUPS:
        members = [event for event in events if event.status in statuses]
        if key == "upcoming":
            members.sort(key=lambda event: event.scheduled_start)
        if members:
            groups.append((key, heading, members))
    return groups


def event_status_counts(user) -> dict[str, int]:
    """How many of the user's brands' events are in each status (every status is a key)."""
    counts = dict.fromkeys(Status.values, 0)
    events = permissions.scope(LiveEvent.objects.all(), user, Action.VIEW).order_by()
    counts.update(events.values_list("status").annotate(n=Count("id")))
    return counts


def list_brands(user, action: Action = Action.VIEW) -> QuerySet[Organization]:
    """The brands in which ``user`` may perform ``action``, by name."""
    return permissions.scope(Organization.objects.all(), user, action).order_by("name")


def lineup_choices(organization: Organization, event: LiveEvent | None = None) -> QuerySet[Product]:
    """Products the brand may put in a lineup: its active ones, plus any already in ``event``'s
    lineup (so editing never drops one silently), by name."""
    condition = Q(is_active=True)
    if event is not None and event.pk:
        condition |= Q(pk__in=EventProduct.objects.filter(event=event).values("product_id"))
    return Product.objects.filter(condition, organization=organization).order_by("name", "pk")


def lineup_of(event: LiveEvent) -> QuerySet[EventProduct]:
    """The event's lineup entries with their products and the products' variants (their stock)."""
    lineup = EventProduct.objects.filter(event=event).select_related("product")
    return lineup.prefetch_related(PRODUCT_VARIANTS)


def sessions_of(event: LiveEvent) -> QuerySet[StreamSession]:
    return StreamSession.objects.filter(event=event).order_by("-created_at")


@dataclass(frozen=True)
class GoLivePanel:
    """What an encoder needs, without the stream key (the page shows it only when revealed)."""

    ingest_url: str
    playback_url: str
    settings: tuple[tuple[str, str], ...]
    ffmpeg_command: str


def go_live_panel(event: LiveEvent) -> GoLivePanel:
    """The ingest URL, suggested settings and a ready-made ffmpeg command with a key placeholder."""
    ingest = event.ingest_url if event.ingest_url.endswith("/") else f"{event.ingest_url}/"
    command = SUGGESTED.command(f'"{ingest}{STREAM_KEY_PLACEHOLDER}"')
    return GoLivePanel(
        ingest_url=event.ingest_url,
        playback_url=event.playback_url,
        settings=ENCODER_SETTINGS,
        ffmpeg_command=command,
    )


def current_highlight(event: LiveEvent) -> Highlight | None:
    """The highlight on screen now: the newest one, unless it cleared the card."""
    latest = event.highlights.select_related("product", "event").prefetch_related(PRODUCT_VARIANTS).first()
    return None if latest is None or latest.is_clear else latest


def latest_highlight_id(event: LiveEvent) -> int | None:
    """The newest highlight's id, a cleared card's too (None before the first)."""
    return event.highlights.values_list("pk", flat=True).first()


def viewer_lineup(event: LiveEvent) -> list[Product]:
    """The lineup viewers see: its active products, in order."""
    lineup = event.lineup.select_related("product").prefetch_related(PRODUCT_VARIANTS)
    return [entry.product for entry in lineup.filter(product__is_active=True)]


def stream_details(event: LiveEvent, *, user, viewer_page: str) -> dict:
    """What a viewer needs to watch ``event``: status, playback URL (signed for ``user`` when the
    event is private: one gateway call), lineup, the current card. Call it for events the user
    may watch (get_watchable_event)."""
    return payloads.stream_details_payload(
        event,
        highlight=current_highlight(event),
        lineup=viewer_lineup(event),
        playback_url=playback.playback_url(event, user),
        viewer_page=viewer_page,
        deals=extensions.card_deals(event.pk),
    )


def event_state_snapshot(*, event_id: int, user, shared: dict | None = None) -> dict | None:
    """What a viewer's socket gets on (re)connect, or None when the event does not exist or the
    user may not watch it. With ``shared`` (a dict kept for one wave of resyncs) the event and its
    snapshot are read once per event and only the permission is checked per user; across connects
    they come from events.snapshot_cache for up to a second, until the event's next change."""
    cached = shared.get(("viewer", event_id)) if shared is not None else None
    if cached is None:
        entry = snapshot_cache.get(event_id)
        if entry is not None:
            cached = (entry.event, entry.snapshot)
        else:
            generation = snapshot_cache.generation(event_id)
            event = LiveEvent.objects.select_related("organization").filter(pk=event_id).first()
            snapshot = (
                payloads.event_state_payload(
                    event,
                    current_highlight(event),
                    deals=extensions.card_deals(event.pk),
                    lineup=viewer_lineup(event),
                )
                if event
                else None
            )
            cached = (event, snapshot)
            if event is not None:
                snapshot_cache.put(event_id, generation, event, snapshot)
        if shared is not None:
            shared[("viewer", event_id)] = cached
    event, snapshot = cached
    if event is None or not may_watch(user, event):
        return None
    return {**snapshot}  # a copy: the consumer adds the viewer count


@dataclass(frozen=True)
class StockAudiences:
    """Who sees which products' stock, with each product's payloads (``public`` for viewers,
    ``exact`` for host consoles): per open event, and per brand (its replay and video pages)."""

    events: dict[int, list[dict]]
    brands: dict[int, list[dict]]


def stock_audiences(product_ids: set[int]) -> StockAudiences:
    """The products' stock now and where it is shown: scheduled and live events whose lineup
    holds them or that featured them, and their brands. Three queries whatever the count."""
    products = Product.objects.filter(pk__in=product_ids, is_active=True).prefetch_related("variants")
    states = {
        product.pk: (
            product.organization_id,
            {"public": payloads.stock_payload(product), "exact": payloads.stock_payload(product, exact=True)},
        )
        for product in products
    }
    open_events = LiveEvent.objects.filter(status__in=(Status.SCHEDULED, Status.LIVE))
    in_lineup = EventProduct.objects.filter(product_id__in=states, event__in=open_events)
    featured = Highlight.objects.filter(product_id__in=states, event__in=open_events)
    pairs = set(
        in_lineup.values_list("event_id", "product_id").union(featured.values_list("event_id", "product_id"))
    )
    events: dict[int, list[dict]] = {}
    for event_id, product_id in sorted(pairs):
        events.setdefault(event_id, []).append(states[product_id][1])
    brands: dict[int, list[dict]] = {}
    for organization_id, state in states.values():
        brands.setdefault(organization_id, []).append(state)
    return StockAudiences(events=events, brands=brands)


def highlight_history(event: LiveEvent, limit: int = 50) -> list[dict]:
    """The console's history: newest first, with each cue's state."""
    rows = event.highlights.select_related("product", "event").prefetch_related(PRODUCT_VARIANTS)[:limit]
    return [payloads.studio_highlight_payload(h) for h in rows]


def studio_snapshot(*, event_id: int, user) -> dict | None:
    """A host console's (re)connect state: the viewers' snapshot plus the highlight history and
    the stream's health (asked of the video service). None unless the user is one of the brand's
    people (who follow even a cancelled event)."""
    from events.stream_state import stream_health  # stream_state publishes through realtime

    event = LiveEvent.objects.filter(pk=event_id).first()
    if event is None or not permissions.can(user, Action.VIEW, event):
        return None
    snapshot = payloads.event_state_payload(event, current_highlight(event))
    snapshot["type"] = "studio_snapshot"
    snapshot["history"] = highlight_history(event)
    snapshot["streamHealth"] = stream_health(event)
    snapshot["stock"] = [payloads.stock_payload(entry.product, exact=True) for entry in lineup_of(event)]
    return snapshot
