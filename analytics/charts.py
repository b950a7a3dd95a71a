"""Charts: each drawn on the server as SVG (it prints, reads the page's colours, and is what a
page without scripts or a screen reader gets: role=img with a label, a title per point) and
carrying its data in ``data-chart``, from which static/js/analytics/charts.js draws it again with
uPlot (npm, served from our static files: no CDN), interactive: hover values, the highlight
flags clickable. Every label is escaped; numbers are written in the active locale
(analytics.formatting)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from analytics.formatting import number

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 220, 40, 24, 12


def _frame(inner: str, label: str, data: dict | None = None) -> SafeString:
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{inner}</svg>'
    )
    if data is not None:  # charts.js draws it with uPlot
        chart = escape(json.dumps({**data, "label": label}, separators=(",", ":")))
        svg = f'<div class="chart-box" data-chart="{chart}">{svg}</div>'
    return mark_safe(svg)  # noqa: S308 (every text in it is escaped)


def _y(value: float, top: float) -> float:
    plot = HEIGHT - PAD_BOTTOM - PAD_TOP
    return HEIGHT - PAD_BOTTOM - (value / top * plot if top else 0)


def _axes(top: int, first: str, last: str) -> str:
    base = HEIGHT - PAD_BOTTOM
    return (
        f'<line class="axis" x1="{PAD_LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}"/>'
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end">{number(top)}</text>'
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{base}" text-anchor="end">0</text>'
        f'<text class="tick" x="{PAD_LEFT}" y="{HEIGHT - 6}">{escape(first)}</text>'
        f'<text class="tick" x="{WIDTH}" y="{HEIGHT - 6}" text-anchor="end">{escape(last)}</text>'
    )


def viewers_curve(
    curve: list[tuple[datetime, int]], marks: list[tuple[datetime, str, str]] = ()
) -> SafeString:
    """Concurrent viewers per minute as a line, with ``marks`` (time, label, link) as flags on
    the timeline: the highlights."""
    if not curve:
        empty = escape(gettext("No viewers yet"))
        return _frame(
            f'<text class="empty" x="50%" y="50%" text-anchor="middle">{empty}</text>', gettext("No viewers")
        )
    # Times read in the active time zone (the brand's, where the view activated it).
    curve = [(timezone.localtime(m), n) for m, n in curve]
    marks = [(timezone.localtime(m), label, link) for m, label, link in marks]
    start, end = curve[0][0], curve[-1][0]
    span = max((end - start).total_seconds(), 60.0)
    top = max(n for _, n in curve)

    def x(moment: datetime) -> float:
        return PAD_LEFT + (moment - start).total_seconds() / span * (WIDTH - PAD_LEFT - 4)

    points = " ".join(f"{x(m):.1f},{_y(n, top):.1f}" for m, n in curve)
    dots = "".join(
        f'<circle class="dot" cx="{x(m):.1f}" cy="{_y(n, top):.1f}" r="2.5">'
        f"<title>{escape(_viewers_at(m, n))}</title></circle>"
        for m, n in curve
    )
    flags = ""
    for moment, label, link in marks:
        if not start <= moment <= end + timedelta(minutes=1):
            continue
        position = min(x(moment), WIDTH - 2)
        flags += (
            f'<a href="{escape(link)}"><line class="mark" x1="{position:.1f}" y1="{PAD_TOP}" '
            f'x2="{position:.1f}" y2="{HEIGHT - PAD_BOTTOM}"/>'
            f'<circle class="mark-dot" cx="{position:.1f}" cy="{PAD_TOP}" r="4">'
            f"<title>{escape(_product_at(label, moment))}</title></circle></a>"
        )
    inner = (
        _axes(top, f"{start:%H:%M}", f"{end:%H:%M}")
        + f'<polyline class="line" points="{points}"/>'
        + dots
        + flags
    )
    data = {
        "kind": "curve",
        "tz": timezone.get_current_timezone_name(),  # the axis reads the brand's clock, as above
        "x": [int(m.timestamp()) for m, _ in curve],
        "y": [n for _, n in curve],
        "marks": [
            {"x": int(m.timestamp()), "label": label, "href": link}
            for m, label, link in marks
            if start <= m <= end + timedelta(minutes=1)
        ],
    }
    return _frame(inner, gettext("Viewers per minute, peak %(peak)s") % {"peak": number(top)}, data)


def _product_at(label: str, moment: datetime) -> str:
    return gettext("%(product)s at %(time)s") % {"product": label, "time": f"{moment:%H:%M}"}


def _viewers_at(moment: datetime, n: int) -> str:
    return ngettext("%(time)s: %(count)s viewer", "%(time)s: %(count)s viewers", n) % {
        "time": f"{moment:%H:%M}",
        "count": number(n),
    }


def bars(values: list[tuple[str, int]], label: str) -> SafeString:
    """One bar per (label, value), labelled under it."""
    if not values or not any(v for _, v in values):
        empty = escape(gettext("No data yet"))
        return _frame(f'<text class="empty" x="50%" y="50%" text-anchor="middle">{empty}</text>', label)
    top = max(v for _, v in values)
    slot = (WIDTH - PAD_LEFT) / len(values)
    inner = _axes(top, "", "")
    for i, (name, value) in enumerate(values):
        x = PAD_LEFT + i * slot + slot * 0.15
        y = _y(value, top)
        inner += (
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{HEIGHT - PAD_BOTTOM - y:.1f}">'
            f"<title>{escape(name)}: {number(value)}</title></rect>"
            f'<text class="tick" x="{x + slot * 0.35:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(name)}</text>'
        )
    data = {"kind": "bars", "labels": [name for name, _ in values], "values": [float(v) for _, v in values]}
    return _frame(inner, label, data)
