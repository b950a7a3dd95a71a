"""Reads for the analytics dashboard: figures per show (live and replay apart), per highlight
and across shows, from the roll-up tables and the brand's orders. Money is summed per currency,
never across currencies."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Min, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from analytics import formatting
from analytics.models import DroppedBeacon, Source, ViewerInteraction, WatchMinute
from commerce.models import Order, OrderLine
from events.models import Highlight, LiveEvent
from recordings.models import ProductCue, Recording
from recordings.payloads import media_time

logger = logging.getLogger(__name__)
Kind = ViewerInteraction.Kind
SUBTOTAL = ExpressionWrapper(
    F("unit_price") * F("quantity"), output_field=DecimalField(max_digits=14, decimal_places=2)
)
WATCH_BUCKETS = (  # labels in the active language, read when the figures are
    (0, 60, gettext_lazy("under 1 min")),
    (60, 300, gettext_lazy("1-5 min")),
    (300, 900, gettext_lazy("5-15 min")),
    (900, 1800, gettext_lazy("15-30 min")),
    (1800, None, gettext_lazy("30 min or more")),
)


def money(amounts: dict[str, Decimal]) -> str:
    """Amounts per currency in the active locale (analytics.formatting)."""
    return formatting.money(amounts)


@dataclass
class Viewing:
    """One stream kind of a show (live, or its replays): who watched, when, for how long."""

    source: str
    unique_viewers: int = 0
    watch_ms: int = 0
    curve: list[tuple[datetime, int]] = field(default_factory=list)  # viewers per minute
    watch_buckets: list[tuple[str, int]] = field(default_factory=list)
    retention: list[tuple[int, int]] = field(
        default_factory=list
    )  # (minute or position %, viewers still there)

    @property
    def peak(self) -> int:
        return max((n for _, n in self.curve), default=0)

    @property
    def peak_at(self) -> datetime | None:
        return max(self.curve, key=lambda point: point[1])[0] if self.curve else None

    @property
    def average_watch_s(self) -> int:
        return self.watch_ms // 1000 // self.unique_viewers if self.unique_viewers else 0


def viewing(minutes: QuerySet[WatchMinute], source: str, *, duration_s: int | None = None) -> Viewing:
    """The figures of ``minutes`` (one show's live rows, or its replays' rows)."""
    result = Viewing(source)
    result.curve = list(
        minutes.order_by("minute").values_list("minute").annotate(n=Count("viewer", distinct=True))
    )
    per_viewer = list(
        minutes.order_by()
        .values("viewer")
        .annotate(ms=Sum("watched_ms"), last=Max("minute"), pos=Max("position_s"))
    )
    result.unique_viewers = len(per_viewer)
    result.watch_ms = sum(row["ms"] for row in per_viewer)
    result.watch_buckets = [
        (
            str(label),
            sum(
                1
                for row in per_viewer
                if low <= row["ms"] / 1000 and (high is None or row["ms"] / 1000 < high)
            ),
        )
        for low, high, label in WATCH_BUCKETS
    ]
    if source == Source.LIVE and result.curve:
        start = result.curve[0][0]
        lasts = [int((row["last"] - start).total_seconds() // 60) for row in per_viewer]
        span = int((result.curve[-1][0] - start).total_seconds() // 60)
        result.retention = [(m, sum(1 for last in lasts if last >= m)) for m in range(span + 1)]
    elif duration_s:
        reached = [min(100, (row["pos"] or 0) * 100 // duration_s) for row in per_viewer]
        result.retention = [(p, sum(1 for r in reached if r >= p)) for p in range(0, 101, 10)]
    return result


@dataclass
class CardFigures:
    """One product moment (a live show's highlight, a video's cue): viewers shown the card, who
    clicked it, who added it to the cart (the players' beacons), and the paid orders, units and
    revenue of lines added while it was on screen (commerce's attribution)."""

    impressions: int = 0
    clicks: int = 0
    adds: int = 0
    orders: int = 0
    units: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)

    @property
    def revenue_display(self) -> str:
        return money(self.revenue)

    @property
    def click_ratio(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def click_rate(self) -> str:
        return f"{self.clicks * 100 / self.impressions:.0f}%" if self.impressions else "—"


@dataclass
class HighlightFigures(CardFigures):
    highlight: Highlight | None = None

    @property
    def label(self) -> str:
        return self.highlight.product.name if self.highlight.product_id else gettext("Card cleared")

    @property
    def anchor(self) -> str:
        return f"highlight-{self.highlight.pk}"

    @property
    def at(self) -> str:
        """When it was featured, on the current time zone's clock (the dashboard's brand's)."""
        return timezone.localtime(self.highlight.created_at).strftime("%H:%M:%S")


@dataclass
class CueFigures(CardFigures):
    cue: ProductCue | None = None

    @property
    def label(self) -> str:
        return self.cue.product.name

    @property
    def anchor(self) -> str:
        return f"cue-{self.cue.pk}"

    @property
    def at(self) -> str:
        return media_time(self.cue.start_ms)


CARD_KINDS = {Kind.IMPRESSION: "impressions", Kind.CLICK: "clicks", Kind.ADD_TO_CART: "adds"}


def _add_card_figures(figures: dict[int, CardFigures], viewers, sold) -> None:
    """Fill ``figures`` (by moment id) from ``viewers`` ((moment id, kind, distinct viewers)) and
    ``sold`` ((moment id, currency, orders, units, revenue) of paid lines)."""
    for moment_id, kind, n in viewers:
        if moment_id in figures and kind in CARD_KINDS:
            setattr(figures[moment_id], CARD_KINDS[kind], n)
    for moment_id, currency, orders, units, revenue in sold:
        entry = figures.get(moment_id)
        if entry is None:
            continue
        entry.orders += orders
        entry.units += units
        entry.revenue[currency] = entry.revenue.get(currency, Decimal(0)) + revenue


def _sold_by(lines: QuerySet[OrderLine], moment: str):
    return (
        lines.filter(order__status=Order.Status.PAID)
        .values_list(moment, "currency")
        .annotate(orders=Count("order", distinct=True), units=Sum("quantity"), revenue=Sum(SUBTOTAL))
    )


def highlight_figures(event: LiveEvent) -> list[HighlightFigures]:
    """Each featured product of the live show, in order (CardFigures)."""
    highlights = Highlight.objects.filter(event=event).select_related("product").order_by("created_at", "id")
    figures = {h.pk: HighlightFigures(highlight=h) for h in highlights}
    viewers = (
        ViewerInteraction.objects.filter(highlight__event=event, source=Source.LIVE)
        .values_list("highlight_id", "kind")
        .annotate(n=Count("viewer", distinct=True))
    )
    _add_card_figures(
        figures, viewers, _sold_by(OrderLine.objects.filter(highlight__event=event), "highlight_id")
    )
    return list(figures.values())


def cue_figures(recording: Recording) -> list[CueFigures]:
    """Each product cue of the video, in the video's order (CardFigures): the viewers of the
    video itself (its ``replay:<id>`` stream) and the lines added on it while the cue showed."""
    cues = ProductCue.objects.filter(recording=recording).select_related("product").order_by("start_ms", "id")
    figures = {cue.pk: CueFigures(cue=cue) for cue in cues}
    viewers = (
        ViewerInteraction.objects.filter(stream=f"replay:{recording.pk}", cue__isnull=False)
        .values_list("cue_id", "kind")
        .annotate(n=Count("viewer", distinct=True))
    )
    _add_card_figures(figures, viewers, _sold_by(OrderLine.objects.filter(recording=recording), "cue_id"))
    return list(figures.values())


@dataclass
class Sales:
    orders: int = 0
    buyers: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    by_source: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    top_products: list[dict] = field(default_factory=list)

    @property
    def revenue_display(self) -> str:
        return money(self.revenue)


def show_sales(event: LiveEvent) -> Sales:
    """The show's paid orders: those with a line added on it, live or on its replay."""
    return _sales(OrderLine.objects.filter(event=event, order__status=Order.Status.PAID))


def video_sales(recording: Recording) -> Sales:
    """The video's paid orders: those with a line added while watching it."""
    return _sales(OrderLine.objects.filter(recording=recording, order__status=Order.Status.PAID))


def _sales(lines: QuerySet[OrderLine]) -> Sales:
    orders = Order.objects.filter(pk__in=lines.values("order_id"))
    sales = Sales(orders=orders.count())
    sales.buyers = _buyers(orders)
    for source, currency, revenue in (
        lines.order_by().values_list("source", "currency").annotate(r=Sum(SUBTOTAL))
    ):
        sales.revenue[currency] = sales.revenue.get(currency, Decimal(0)) + revenue
        bucket = sales.by_source.setdefault(source or Source.LIVE, {})
        bucket[currency] = bucket.get(currency, Decimal(0)) + revenue
    products = (
        lines.order_by()
        .values("name", "currency")
        .annotate(units=Sum("quantity"), revenue=Sum(SUBTOTAL))
        .order_by("-units", "name")[:10]
    )
    sales.top_products = [
        {**row, "revenue_display": formatting.price(row["revenue"], row["currency"])} for row in products
    ]
    return sales


def _buyers(orders: QuerySet[Order]) -> int:
    """Distinct buyers, counted as viewers are (commerce.Order.viewer: the signed-in user or the
    player's cookie id), so conversion divides like by like; an order placed without either is its
    account's or e-mail's."""
    people = set()
    for viewer, user_id, email in orders.order_by().values_list("viewer", "user_id", "email"):
        if viewer:
            people.add(viewer)
        else:
            people.add(f"user:{user_id}" if user_id else f"email:{email.strip().lower()}")
    return len(people)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class ShowFigures:
    event: LiveEvent
    live: Viewing
    replay: Viewing
    unique_viewers: int
    sales: Sales
    highlights: list[HighlightFigures]
    chat_messages: int
    reactions: dict[str, int]
    dropped: int

    @property
    def conversion_ratio(self) -> float | None:
        """Buyers / unique viewers (live and replay together)."""
        return _ratio(self.sales.buyers, self.unique_viewers)

    @property
    def conversion(self) -> str:
        return f"{self.sales.buyers * 100 / self.unique_viewers:.1f}%" if self.unique_viewers else "—"

    @property
    def reactions_total(self) -> int:
        return sum(self.reactions.values())


def show_figures(event: LiveEvent) -> ShowFigures:
    """Everything the show's dashboard shows (roll-ups and orders only: no beacon is read)."""
    rows = WatchMinute.objects.filter(event=event)
    durations = [r.duration_ms for r in event.recordings.all() if r.duration_ms]
    replay_rows = rows.filter(source=Source.REPLAY)
    return ShowFigures(
        event=event,
        live=viewing(rows.filter(source=Source.LIVE), Source.LIVE),
        replay=viewing(replay_rows, Source.REPLAY, duration_s=max(durations, default=0) // 1000 or None),
        unique_viewers=rows.values("viewer").distinct().count(),
        sales=show_sales(event),
        highlights=highlight_figures(event),
        chat_messages=_chat_messages(event),
        reactions=_reactions(event),
        dropped=DroppedBeacon.objects.filter(
            Q(stream=f"live:{event.pk}") | Q(stream__in=_replay_streams(event))
        ).aggregate(n=Sum("count"))["n"]
        or 0,
    )


def _replay_streams(event: LiveEvent) -> list[str]:
    return [f"replay:{pk}" for pk in event.recordings.values_list("pk", flat=True)]


def _chat_messages(event: LiveEvent) -> int:
    from chat.models import ChatMessage

    return ChatMessage.objects.filter(event=event, hidden_at__isnull=True).count()


def _reactions(event: LiveEvent) -> dict[str, int]:
    from chat import reactions

    try:
        return reactions.add_to_totals(event.pk, {})  # reads the show's totals (adds nothing)
    except Exception:  # Redis away: the dashboard still shows everything else
        logger.warning("reaction totals unavailable for event %s", event.pk, exc_info=True)
        return {}


@dataclass
class ShowRow:
    event: LiveEvent
    live_viewers: int
    replay_viewers: int
    peak: int
    watch_ms: int
    orders: int
    revenue: dict[str, Decimal]

    @property
    def revenue_display(self) -> str:
        return money(self.revenue)


def list_show_rows(events: QuerySet[LiveEvent]) -> list[ShowRow]:
    """One row per show of ``events`` (already scoped to the user's brands), in their order."""
    events = list(events)
    ids = [e.pk for e in events]
    viewers = defaultdict(dict)
    for event_id, source, n, ms in (
        WatchMinute.objects.filter(event_id__in=ids)
        .order_by()
        .values_list("event_id", "source")
        .annotate(n=Count("viewer", distinct=True), ms=Sum("watched_ms"))
    ):
        viewers[event_id][source] = (n, ms)
    peaks = defaultdict(int)
    for event_id, _, n in (
        WatchMinute.objects.filter(event_id__in=ids, source=Source.LIVE)
        .order_by()
        .values_list("event_id", "minute")
        .annotate(n=Count("viewer", distinct=True))
    ):
        peaks[event_id] = max(peaks[event_id], n)
    revenue, orders = defaultdict(dict), defaultdict(int)
    paid = OrderLine.objects.filter(event_id__in=ids, order__status=Order.Status.PAID).order_by()
    for event_id, currency, amount in paid.values_list("event_id", "currency").annotate(r=Sum(SUBTOTAL)):
        revenue[event_id][currency] = amount
    for event_id, n in paid.values_list("event_id").annotate(n=Count("order", distinct=True)):
        orders[event_id] = n
    rows = []
    for event in events:
        live, replay = (
            viewers[event.pk].get(Source.LIVE, (0, 0)),
            viewers[event.pk].get(Source.REPLAY, (0, 0)),
        )
        rows.append(
            ShowRow(
                event,
                live[0],
                replay[0],
                peaks[event.pk],
                live[1] + replay[1],
                orders[event.pk],
                revenue[event.pk],
            )
        )
    return rows


def first_minute(event: LiveEvent) -> datetime | None:
    return WatchMinute.objects.filter(event=event, source=Source.LIVE).aggregate(m=Min("minute"))["m"]


@dataclass
class VideoFigures:
    """An uploaded video's figures: its viewers (one replay stream), what sold while watching it,
    each product cue's figures."""

    recording: Recording
    viewing: Viewing
    sales: Sales
    cues: list[CueFigures]
    dropped: int

    @property
    def conversion_ratio(self) -> float | None:
        return _ratio(self.sales.buyers, self.viewing.unique_viewers)

    @property
    def conversion(self) -> str:
        ratio = self.conversion_ratio
        return "—" if ratio is None else f"{ratio * 100:.1f}%"


def video_figures(recording: Recording) -> VideoFigures:
    """Everything an uploaded video's dashboard shows (roll-ups and orders only)."""
    duration_s = (recording.duration_ms or 0) // 1000 or None
    stream = f"replay:{recording.pk}"
    return VideoFigures(
        recording=recording,
        viewing=viewing(WatchMinute.objects.filter(stream=stream), Source.REPLAY, duration_s=duration_s),
        sales=video_sales(recording),
        cues=cue_figures(recording),
        dropped=DroppedBeacon.objects.filter(stream=stream).aggregate(n=Sum("count"))["n"] or 0,
    )


@dataclass
class VideoRow:
    video: Recording
    viewers: int
    watch_ms: int
    orders: int
    revenue: dict[str, Decimal]


def list_video_rows(videos: QuerySet[Recording]) -> list[VideoRow]:
    """One row per uploaded video of ``videos`` (already scoped to the user's brands), in their
    order: viewers, watch time, paid orders and revenue while watching it."""
    videos = list(videos)
    streams = {f"replay:{video.pk}": video.pk for video in videos}
    watched = {
        streams[stream]: (n, ms)
        for stream, n, ms in WatchMinute.objects.filter(stream__in=list(streams))
        .order_by()
        .values_list("stream")
        .annotate(n=Count("viewer", distinct=True), ms=Sum("watched_ms"))
    }
    lines = OrderLine.objects.filter(recording__in=videos, order__status=Order.Status.PAID).order_by()
    orders = dict(lines.values_list("recording_id").annotate(n=Count("order", distinct=True)))
    revenue = defaultdict(dict)
    for video_id, currency, amount in lines.values_list("recording_id", "currency").annotate(r=Sum(SUBTOTAL)):
        revenue[video_id][currency] = amount
    return [
        VideoRow(video, *watched.get(video.pk, (0, 0)), orders.get(video.pk, 0), revenue[video.pk])
        for video in videos
    ]
