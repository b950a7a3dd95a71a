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
    make_hls_vod,
    recordings_on_disk,
    replay,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch(context, url: str) -> None:
    """One viewer: open the replay, play it from the fleece's cue for two seconds, send the batch."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(
        "() => { const v = document.getElementById('video'); return v.readyState >= 1 && v.duration > 11; }",
        timeout=DEADLINE_MS,
    )
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
    assert fleece.price == Decimal("79.00")
    dashboard.screenshot(path=artifacts_dir / "analytics-dashboard.png", full_page=True)
