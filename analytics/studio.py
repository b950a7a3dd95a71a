"""The studio's analytics (mounted at /studio/analytics/): a table of the brand's shows with a
chart of viewers and orders per show, and each show's dashboard (headline numbers, the viewers
curve with its highlights, drop-off, highlights and products, live vs replay), updating itself
while the show is live; each uploaded video's dashboard (viewers, how far they got, its product
cues and what sold); CSV of every table. For owners and hosts (Action.VIEW_ANALYTICS); another
brand's show or video is a 404."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.cache import never_cache

from accounts import permissions
from accounts.permissions import Action
from analytics import charts, selectors
from events.models import LiveEvent
from liveshop.csvexport import stream_csv
from recordings.models import Recording

SORTS = {
    "date": lambda row: row.event.scheduled_start,
    "viewers": lambda row: row.live_viewers + row.replay_viewers,
    "peak": lambda row: row.peak,
    "watch": lambda row: row.watch_ms,
    "orders": lambda row: row.orders,
}
MAX_SHOWS = 200


def _show_rows(request) -> tuple[list[selectors.ShowRow], dict]:
    if not permissions.can_in_any(request.user, Action.VIEW_ANALYTICS):
        raise PermissionDenied(gettext("Analytics are for the brand's owners and hosts."))
    events = permissions.scope(LiveEvent.objects.all(), request.user, Action.VIEW_ANALYTICS)
    start, end = parse_date(request.GET.get("from", "") or ""), parse_date(request.GET.get("to", "") or "")
    if start:
        events = events.filter(scheduled_start__gte=timezone.make_aware(datetime.combine(start, time.min)))
    if end:
        events = events.filter(scheduled_start__lte=timezone.make_aware(datetime.combine(end, time.max)))
    events = events.exclude(status=LiveEvent.Status.CANCELLED).order_by("-scheduled_start")[:MAX_SHOWS]
    rows = selectors.list_show_rows(events.select_related("organization"))
    sort = request.GET.get("sort", "date")
    sort = sort if sort.lstrip("-") in SORTS else "date"
    rows.sort(key=SORTS[sort.lstrip("-")], reverse=not sort.startswith("-"))
    return rows, {"sort": sort, "from": start, "to": end}


@method_decorator(never_cache, name="dispatch")
class ShowListView(LoginRequiredMixin, View):
    def get(self, request):
        rows, filters = _show_rows(request)
        recent = sorted(rows[:12], key=lambda row: row.event.scheduled_start)
        videos = permissions.scope(
            Recording.objects.filter(backend=Recording.Backend.UPLOAD), request.user, Action.VIEW_ANALYTICS
        )
        context = {
            "rows": rows,
            "video_rows": selectors.list_video_rows(videos.order_by("-created_at")[:MAX_SHOWS]),
            "filters": filters,
            "query": request.GET.urlencode(),
            "viewers_chart": charts.bars(
                [(r.event.title[:14], r.live_viewers + r.replay_viewers) for r in recent],
                gettext("Viewers per show"),
            ),
            "orders_chart": charts.bars(
                [(r.event.title[:14], r.orders) for r in recent], gettext("Orders per show")
            ),
            **_revenue_chart(recent),
        }
        return render(request, "analytics/show_list.html", context)


def _revenue_chart(rows: list[selectors.ShowRow]) -> dict:
    """Revenue per show in the currency most of them sold in (money never adds across currencies)."""
    sold = Counter(currency for row in rows for currency in row.revenue)
    if not sold:
        return {"revenue_chart": charts.bars([], gettext("Revenue per show")), "revenue_currency": ""}
    currency = sold.most_common(1)[0][0]
    values = [(r.event.title[:14], int(r.revenue.get(currency, 0))) for r in rows]
    return {
        "revenue_chart": charts.bars(
            values, gettext("Revenue per show (%(currency)s)") % {"currency": currency}
        ),
        "revenue_currency": currency,
    }


class ShowListExportView(LoginRequiredMixin, View):
    def get(self, request):
        rows, _ = _show_rows(request)
        header = [
            "show",
            "starts",
            "status",
            "live_viewers",
            "replay_viewers",
            "peak",
            "watch_minutes",
            "orders",
            "revenue",
        ]
        data = (
            [
                r.event.title,
                r.event.scheduled_start,
                r.event.status,
                r.live_viewers,
                r.replay_viewers,
                r.peak,
                r.watch_ms // 60000,
                r.orders,
                r.revenue_display,
            ]
            for r in rows
        )
        return stream_csv("shows.csv", header, data)


def _event(request, pk: int) -> LiveEvent:
    return permissions.get_for_user_or_404(
        LiveEvent.objects.select_related("organization"), request.user, Action.VIEW_ANALYTICS, pk=pk
    )


def _video(request, pk: int) -> Recording:
    """An uploaded video of the user's brands (an event's replay is on its show's page)."""
    videos = Recording.objects.filter(backend=Recording.Backend.UPLOAD).select_related("organization")
    return permissions.get_for_user_or_404(videos, request.user, Action.VIEW_ANALYTICS, pk=pk)


@method_decorator(never_cache, name="dispatch")
class _Dashboard(LoginRequiredMixin, View):
    """A show's or a video's dashboard, read on its brand's clock (its studio's)."""

    find = staticmethod(_event)

    def get(self, request, pk: int):
        subject = self.find(request, pk)
        with timezone.override(subject.organization.zone):
            return self.render_page(request, subject)


class _Export(LoginRequiredMixin, View):
    """One table of a show's or a video's dashboard as CSV."""

    find = staticmethod(_event)
    figures = staticmethod(selectors.show_figures)
    tables: dict = {}

    def get(self, request, pk: int, table: str):
        if table not in self.tables:
            raise Http404("No such table.")
        subject = self.find(request, pk)
        header, rows = self.tables[table]
        name = subject.slug or f"video-{subject.pk}"
        return stream_csv(f"{name}-{table}.csv", header, rows(self.figures(subject)))


class ShowAnalyticsView(_Dashboard):
    """A show's dashboard; ``?fragment=1`` is its body alone (the page refreshes it while live)."""

    def render_page(self, request, event: LiveEvent):
        figures = selectors.show_figures(event)
        marks = [
            (h.highlight.created_at, h.label, f"#highlight-{h.highlight.pk}") for h in figures.highlights
        ]
        context = {
            "event": event,
            "f": figures,
            "live_chart": charts.viewers_curve(figures.live.curve, marks),
            "replay_chart": charts.viewers_curve(figures.replay.curve),
            "retention_chart": charts.bars(
                _sampled([(str(m), n) for m, n in figures.live.retention]),
                gettext("Viewers still watching, by minute"),
            ),
            "replay_retention_chart": charts.bars(
                [(f"{p}%", n) for p, n in figures.replay.retention],
                gettext("Replay viewers reaching each point"),
            ),
            "watch_chart": charts.bars(figures.live.watch_buckets, gettext("Viewers by watch time")),
            "fragment_url": reverse("analytics:show", args=[event.pk]) + "?fragment=1",
        }
        template = "analytics/_show_body.html" if request.GET.get("fragment") else "analytics/show.html"
        return render(request, template, context)


def _sampled(points: list, most: int = 40) -> list:
    """About ``most`` evenly spaced points (a long show's minutes), the last one kept."""
    if len(points) <= most:
        return points
    step = -(-len(points) // most)
    return points[::step] + ([points[-1]] if (len(points) - 1) % step else [])


EXPORTS = {
    "highlights": (
        [
            "featured_at",
            "product",
            "impressions",
            "clicks",
            "click_rate",
            "adds_to_cart",
            "orders",
            "units",
            "revenue",
        ],
        lambda f: (
            [
                h.highlight.created_at,
                h.label,
                h.impressions,
                h.clicks,
                h.click_rate,
                h.adds,
                h.orders,
                h.units,
                h.revenue_display,
            ]
            for h in f.highlights
        ),
    ),
    "products": (
        ["product", "currency", "units", "revenue"],
        lambda f: ([p["name"], p["currency"], p["units"], p["revenue"]] for p in f.sales.top_products),
    ),
    "viewers": (
        ["source", "minute", "viewers"],
        lambda f: ([source.source, minute, n] for source in (f.live, f.replay) for minute, n in source.curve),
    ),
}


class ShowExportView(_Export):
    tables = EXPORTS


class VideoAnalyticsView(_Dashboard):
    """An uploaded video's dashboard: the figures of a show's replay part, and its cues'."""

    find = staticmethod(_video)

    def render_page(self, request, video: Recording):
        figures = selectors.video_figures(video)
        context = {
            "video": video,
            "title": video.title or str(video),
            "f": figures,
            "curve_chart": charts.viewers_curve(figures.viewing.curve),
            "retention_chart": charts.bars(
                [(f"{p}%", n) for p, n in figures.viewing.retention], gettext("Viewers reaching each point")
            ),
            "watch_chart": charts.bars(figures.viewing.watch_buckets, gettext("Viewers by watch time")),
        }
        return render(request, "analytics/video.html", context)


VIDEO_EXPORTS = {
    "cues": (
        [
            "starts_s",
            "product",
            "impressions",
            "clicks",
            "click_rate",
            "adds_to_cart",
            "orders",
            "units",
            "revenue",
        ],
        lambda f: (
            [
                c.cue.start_ms / 1000,
                c.label,
                c.impressions,
                c.clicks,
                c.click_rate,
                c.adds,
                c.orders,
                c.units,
                c.revenue_display,
            ]
            for c in f.cues
        ),
    ),
    "products": EXPORTS["products"],
    "viewers": (
        ["minute", "viewers"],
        lambda f: ([minute, n] for minute, n in f.viewing.curve),
    ),
}


class VideoExportView(_Export):
    find = staticmethod(_video)
    figures = staticmethod(selectors.video_figures)
    tables = VIDEO_EXPORTS
