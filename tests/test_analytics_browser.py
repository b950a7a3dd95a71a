"""Show analytics end to end in a real browser against a real ASGI server (issue 17): two
viewers watch the replay (hls.js plays the ffmpeg-made VOD; static/js/viewer/beacon.js sends
their heartbeats and card events, the second batch with the viewer cookie the first one got), one
of them buys, the buffer is rolled up, and the owner's dashboard shows two viewers, one order and
the replay's curve. Screenshot: test-artifacts/analytics-dashboard.png."""

# ruff: noqa: F811 (the replay fixtures are imported from test_replay_browser and requested by name)

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.models import Variant
from tests.test_replay_browser import (  # noqa: F401
    DEADLINE_MS,
    asgi_server,
    in_a_thread,
    load_replay,
    make_hls_vod,
    recordings_on_disk,
    replay,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch(context, url: str) -> None:
    """One viewer: open the replay, play it from the fleece's cue for two seconds, send the batch."""
    page = context.new_page()
    page.goto(url)
    load_replay(page, longer_than=11)
    page.evaluate(
        "() => { const v = document.getElementById('video'); v.muted = true; v.currentTime = 8.5; v.play(); }"
    )
    page.wait_for_function("() => document.getElementById('video').currentTime > 10.6", timeout=DEADLINE_MS)
    page.evaluate("() => { window.liveshopBeacon.tick(); return window.liveshopBeacon.flush(); }")
    return page


@pytest.fixture
def owner_session(replay):
    event = replay[0]
    owner = member(event.organization, role=Membership.Role.OWNER)
    client = Client()
    client.force_login(owner)
    return client.cookies["sessionid"].value


def test_two_viewers_and_a_purchase_show_on_the_dashboard(
    replay, asgi_server, owner_session, page, artifacts_dir
):
    from analytics.models import ViewerInteraction
    from analytics.services import flush_buffer
    from commerce.tests.orders import place_order

    event, recording, (_, fleece, _) = replay
    url = asgi_server.url + reverse(
        "replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug}
    )
    first = watch(page.context, url)
    second_context = page.context.browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        watch(second_context, url)
    finally:
        second_context.close()
    first.close()

    def buy_and_flush():
        variant = Variant.objects.get(product=fleece, is_default=True)
        place_order(variant, recording=recording, position_ms=9_000)
        flush_buffer()
        shown = ViewerInteraction.objects.filter(kind="impression", cue__product=fleece)
        return shown.values("viewer").distinct().count()

    assert in_a_thread(buy_and_flush) == 2  # both were shown the fleece's card

    page.context.clear_cookies()
    page.context.add_cookies([{"name": "sessionid", "value": owner_session, "url": asgi_server.url}])
    dashboard = page.context.new_page()
    dashboard.goto(asgi_server.url + reverse("analytics:show", args=[event.pk]))
    assert dashboard.locator('[data-stat="unique-viewers"]').inner_text() == "2"
    assert dashboard.locator('[data-stat="replay-viewers"]').inner_text() == "2"
    assert dashboard.locator('[data-stat="live-viewers"]').inner_text() == "0"
    assert dashboard.locator('[data-stat="orders"]').inner_text() == "1"
    assert dashboard.locator('[data-stat="revenue"]').inner_text() == f"${fleece.price:.2f}"
    assert dashboard.locator('[data-stat="conversion"]').inner_text() == "50.0%"
    assert dashboard.locator("svg.chart polyline").count() >= 1  # the replay's viewers curve
    # Every chart with data is drawn again by uPlot (vendor/uplot, from npm) once it has loaded;
    # its SVG stays for screen readers, visually hidden. No page error, no CSP violation.
    errors = []
    dashboard.on("pageerror", lambda error: errors.append(str(error)))
    boxes = dashboard.locator(".chart-box[data-chart]")
    assert boxes.count() >= 2  # the replay's curve, the drop-off and watch-time bars...
    dashboard.wait_for_function(
        "() => [...document.querySelectorAll('.chart-box[data-chart]')].every((b) => b.dataset.drawn)",
        timeout=DEADLINE_MS,
    )
    assert dashboard.locator(".chart-box .chart-drawn .uplot canvas").count() == boxes.count()
    curve = dashboard.locator(".chart-box:has(polyline)").first
    assert curve.locator(".u-legend").inner_text().startswith("Viewers") or "Viewers" in curve.inner_text()
    assert curve.locator("svg.chart").get_attribute("aria-label").startswith("Viewers per minute")
    assert curve.locator("svg.chart").bounding_box()["width"] <= 1  # read by screen readers, not shown
    assert errors == []
    assert fleece.price == Decimal("79.00")
    dashboard.screenshot(path=artifacts_dir / "analytics-dashboard.png", full_page=True)


def test_the_curves_highlight_flags_lead_to_their_figures(replay, asgi_server, owner_session, page):
    """A show with history (the demo's: 60 viewers, five products featured): the live curve,
    drawn by uPlot, carries a flag per highlight; hovering one names its product, clicking it
    goes to that highlight's row of clicks, adds and revenue."""
    from analytics.demo import seed_show_history

    event, _, products = replay

    def history():
        return seed_show_history(brand=event.organization, products=list(products), host=event.created_by)

    show = in_a_thread(history)
    page.context.add_cookies([{"name": "sessionid", "value": owner_session, "url": asgi_server.url}])
    page.goto(asgi_server.url + reverse("analytics:show", args=[show.pk]))
    curve = page.locator(".chart-box[data-chart]").first
    page.wait_for_function(
        "() => document.querySelector('.chart-box[data-chart]')?.dataset.drawn === 'uplot'",
        timeout=DEADLINE_MS,
    )
    marks = curve.evaluate("(box) => JSON.parse(box.dataset.chart).marks")
    assert len(marks) == len(products)
    first = marks[0]
    x, y = curve.evaluate(
        """(box, at) => { const u = box.uplot, r = u.over.getBoundingClientRect();
                          return [r.left + u.valToPos(at, 'x'), r.top + r.height / 2]; }""",
        first["x"],
    )
    page.mouse.move(x, y)
    assert curve.locator(".u-over").get_attribute("title") == first["label"]
    page.mouse.click(x, y)
    page.wait_for_url(f"**{first['href']}", timeout=DEADLINE_MS)
    row = page.locator(first["href"])
    assert row.evaluate("(el) => el.matches(':target')") and first["label"].split(" ")[0] in row.inner_text()


def test_a_german_owner_reads_the_charts_in_german(replay, asgi_server, owner_session, page):
    """The charts in the page's language and locale (issue 16): a German owner's curve, drawn by
    uPlot, names its series in German (lib/i18n.js) and reads its times on a 24-hour clock
    (Intl, the page's locale), not "6:05 PM"; the server-drawn chart's label is German too."""
    import re

    from analytics.demo import seed_show_history

    event, _, products = replay

    def history():
        return seed_show_history(brand=event.organization, products=list(products), host=event.created_by)

    show = in_a_thread(history)
    german = page.context.browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    german.add_cookies([{"name": "sessionid", "value": owner_session, "url": asgi_server.url}])
    dashboard = german.new_page()
    dashboard.goto(asgi_server.url + reverse("analytics:show", args=[show.pk]))
    dashboard.wait_for_function(
        "() => document.querySelector('.chart-box[data-chart]')?.dataset.drawn === 'uplot'",
        timeout=DEADLINE_MS,
    )
    curve = dashboard.locator(".chart-box[data-chart]").first
    legend = curve.evaluate(
        """(box) => { const u = box.uplot;
                      u.setCursor({ left: u.over.clientWidth / 2, top: 10 });
                      const rows = u.root.querySelectorAll('.u-legend .u-series');
                      return [...rows].map((row) => row.innerText); }"""
    )

    assert curve.locator("svg.chart").get_attribute("aria-label").startswith("Zuschauer pro Minute, Spitze")
    assert legend[0].startswith("Zeit") and legend[1].startswith("Zuschauer")
    assert re.search(r"\b\d{1,2}:\d\d\b", legend[0]) and not re.search(r"AM|PM|am|pm", legend[0]), legend
    german.close()
