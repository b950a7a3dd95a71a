"""Reads for the studio's order pages and CSV export: a brand's orders (only for people who may
manage them: owners and hosts, not moderators), totals per currency, what each show, video and
highlight sold. Money is summed per currency, never across currencies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    QuerySet,
    Sum,
)
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from commerce.models import Order, OrderLine, Source
from events.models import LiveEvent
from liveshop.display import format_price
from recordings.models import Recording

Status = Order.Status
LINE_RELATIONS = ("event", "recording", "highlight__product", "cue__product")
SUBTOTAL = ExpressionWrapper(
    F("unit_price") * F("quantity"), output_field=DecimalField(max_digits=14, decimal_places=2)
)


@dataclass(frozen=True)
class OrderFilters:
    """What the orders pages narrow to: a status, a show (event) or a video, a brand."""

    status: str = ""
    event: LiveEvent | None = None
    recording: Recording | None = None
    organization_id: int | None = None


def order_scope(user) -> QuerySet[Order]:
    """The orders ``user`` may see and act on (Action.MANAGE_ORDERS), any status."""
    return permissions.scope(Order.objects.all(), user, Action.MANAGE_ORDERS)


def list_orders(user, filters: OrderFilters) -> QuerySet[Order]:
    """The user's brands' orders narrowed by ``filters``, newest first, with their lines and what
    each line is attributed to."""
    orders = _narrow(order_scope(user), filters)
    if filters.status:
        orders = orders.filter(status=filters.status)
    lines = OrderLine.objects.select_related(*LINE_RELATIONS)
    return orders.select_related("organization").prefetch_related(Prefetch("lines", queryset=lines))


def _narrow(orders: QuerySet[Order], filters: OrderFilters) -> QuerySet[Order]:
    if filters.organization_id:
        orders = orders.filter(organization_id=filters.organization_id)
    lines = _lines_of_show(OrderLine.objects.filter(order=OuterRef("pk")), filters)
    return orders.filter(Exists(lines)) if lines is not None else orders


def _lines_of_show(lines: QuerySet[OrderLine], filters: OrderFilters) -> QuerySet[OrderLine] | None:
    if filters.recording is not None:
        return lines.filter(recording=filters.recording)
    if filters.event is not None:
        return lines.filter(event=filters.event)
    return None


def status_counts(user, filters: OrderFilters) -> dict[str, int]:
    """How many of the filtered orders (any status) have each status."""
    rows = _narrow(order_scope(user), filters).order_by().values_list("status").annotate(n=Count("id"))
    return dict(rows)


@dataclass
class CurrencyTotals:
    """The filtered orders in one currency: paid (and their sum), refunded, awaiting payment."""

    currency: str
    paid_orders: int = 0
    paid: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    pending_orders: int = 0
    needs_refund_orders: int = 0

    @property
    def paid_display(self) -> str:
        return format_price(self.paid, self.currency)

    @property
    def refunded_display(self) -> str:
        return format_price(self.refunded, self.currency)


def totals_by_currency(orders: QuerySet[Order]) -> list[CurrencyTotals]:
    """Per currency (alphabetical): paid orders and their sum, refunded sum, pending orders."""
    totals: dict[str, CurrencyTotals] = {}
    rows = orders.order_by().values_list("currency", "status").annotate(n=Count("id"), amount=Sum("total"))
    for currency, status, count, amount in rows:
        entry = totals.setdefault(currency, CurrencyTotals(currency))
        if status == Status.PAID:
            entry.paid_orders, entry.paid = count, amount
        elif status == Status.REFUNDED:
            entry.refunded = amount
        elif status == Status.PENDING:
            entry.pending_orders = count
        elif status == Status.NEEDS_REFUND:
            entry.needs_refund_orders = count
    return [totals[currency] for currency in sorted(totals)]


@dataclass
class MomentSales:
    """What sold while one product was on screen (a highlight of the show, a cue of the video),
    or between products (``label`` says which); paid orders only, per currency."""

    label: str
    position: object  # when the moment came: a highlight's time, a cue's start in the video
    units: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)

    @property
    def revenue_display(self) -> str:
        return " + ".join(format_price(amount, currency) for currency, amount in sorted(self.revenue.items()))


def sales_by_moment(filters: OrderFilters) -> list[MomentSales]:
    """The paid lines of the show (event) or video in ``filters``, grouped by the highlight (or
    cue) on screen when each was added to a cart, in show order; lines added between products
    come last. Empty without a show or video."""
    lines = _lines_of_show(OrderLine.objects.filter(order__status=Status.PAID), filters)
    if lines is None:
        return []
    by_cue = filters.recording is not None
    keys = (
        ("cue_id", "cue__product__name", "cue__start_ms")
        if by_cue
        else (
            "highlight_id",
            "highlight__product__name",
            "highlight__created_at",
        )
    )
    rows = (
        lines.order_by().values_list(*keys, "currency").annotate(units=Sum("quantity"), revenue=Sum(SUBTOTAL))
    )
    moments: dict[int | None, MomentSales] = {}
    for moment_id, name, position, currency, units, revenue in rows:
        label = name if moment_id else "Between products"
        if moment_id and not name:
            label = "Card cleared"
        sales = moments.setdefault(moment_id, MomentSales(label=label, position=position))
        sales.units += units
        sales.revenue[currency] = sales.revenue.get(currency, Decimal(0)) + revenue
    timed = [sales for sales in moments.values() if sales.position is not None]
    return sorted(timed, key=attrgetter("position")) + [s for s in moments.values() if s.position is None]


def shows_with_orders(user) -> dict[str, list[tuple[str, str]]]:
    """The shows (``event:<id>``) and videos (``video:<id>``) of the user's brands that sold
    something, as filter choices grouped for a <select>, newest first."""
    orgs = permissions.organization_ids(user, Action.MANAGE_ORDERS)
    everyone = permissions.is_superuser(user)
    sold = OrderLine.objects.filter(order__organization_id__in=orgs) if not everyone else OrderLine.objects
    event_ids = sold.exclude(event=None).values("event_id")
    video_ids = sold.exclude(recording=None).values("recording_id")
    events = LiveEvent.objects.filter(pk__in=event_ids).order_by("-scheduled_start")
    videos = Recording.objects.filter(pk__in=video_ids).select_related("event").order_by("-created_at")
    return {
        gettext("Live shows"): [(f"event:{event.pk}", event.title) for event in events],
        gettext("Videos and replays"): [(f"video:{video.pk}", video_title(video)) for video in videos],
    }


def video_title(video: Recording) -> str:
    if video.title:
        return video.title
    if video.event_id:
        return gettext("Replay of %(title)s") % {"title": video.event.title}
    return gettext("Video %(number)s") % {"number": video.pk}


def attribution_label(line: OrderLine) -> str:
    """Where a line was added, for the studio: "Live: Spring drop", "Replay: ..." and the product
    on screen then."""
    if line.source == Source.REPLAY and line.recording_id:
        where = gettext("Replay: %(title)s") % {"title": video_title(line.recording)}
    elif line.event_id:
        where = gettext("Live: %(title)s") % {"title": line.event.title}
    else:
        return gettext("Not from a show")
    on_screen = _on_screen(line)
    return (
        gettext("%(where)s · during %(product)s") % {"where": where, "product": on_screen}
        if on_screen
        else where
    )


EXPORT_HEADER = [
    "order",
    "placed_at",
    "status",
    "paid_at",
    "email",
    "name",
    "country",
    "currency",
    "order_total",
    "sku",
    "item",
    "quantity",
    "unit_price",
    "line_total",
    "source",
    "show",
    "video",
    "on_screen",
    "refund_id",
]


def export_rows(orders: QuerySet[Order]) -> Iterator[list]:
    """One row per order line of ``orders`` (EXPORT_HEADER's columns), read in chunks."""
    lines = (
        OrderLine.objects.filter(order__in=orders.order_by().values("pk"))
        .select_related("order", *LINE_RELATIONS)
        .order_by("-order__created_at", "-order_id", "id")
    )
    for line in lines.iterator(chunk_size=500):
        order = line.order
        yield [
            order.pk,
            order.created_at,
            order.get_status_display(),
            order.paid_at,
            order.email,
            order.full_name,
            order.country,
            order.currency,
            order.total,
            line.sku,
            line.name,
            line.quantity,
            line.unit_price,
            line.subtotal,
            line.get_source_display() if line.source else "",
            line.event.title if line.event_id else "",
            video_title(line.recording) if line.recording_id else "",
            _on_screen(line),
            order.refund_id,
        ]


def _on_screen(line: OrderLine) -> str:
    if line.cue_id:
        return line.cue.product.name
    if line.highlight_id and line.highlight.product_id:
        return line.highlight.product.name
    return ""


def group_choices(shows: dict[str, list[tuple[str, str]]]) -> list:
    """``shows`` as Django's grouped choices, groups without entries left out."""
    return [(group, entries) for group, entries in shows.items() if entries]
