"""The host console's "Seen on screen" panel in Chromium, against one real ASGI server for the
module (HTTP and the studio socket, on the test database and Redis): frames the sampler would send
are published from this process (the fake detector, the real services and realtime delivery).

- a suggestion appears in the panel and its Feature button features the product through the
  lineup card's own form (feature_product); one outside the lineup cannot be featured;
- a live show whose detector gets no frame (nothing samples it) says so instead of waiting forever."""

import concurrent.futures
import re

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from catalog.tests.factories import ProductFactory
from discovery import services
from discovery.detectors.base import Detection
from events.models import LiveEvent
from tests.conftest import page  # noqa: F401 (a fixture)
from tests.media import free_port
from tests.test_console_browser import _highlights, _log_in, _make_show, run_asgi_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STALL_SECONDS = 3
FRAME = np.zeros((270, 480, 3), np.uint8)


@pytest.fixture(scope="module")
def console_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """One ASGI server for the module; its consoles give up waiting for a frame after 3 s."""
    with django_db_blocker.unblock():
        directory = tmp_path_factory.mktemp("discovery-console")
        env = {"LIVESHOP_DISCOVERY_STALL_SECONDS": str(STALL_SECONDS)}
        with run_asgi_server(directory, free_port(), **env) as server:
            yield server.url


@pytest.fixture
def live_show(console_server, settings, fake_detector):
    """The console test's show (three products in the lineup), live, and a product outside it."""
    show = _make_show(settings)
    LiveEvent.objects.filter(pk=show["event"].pk).update(
        status=LiveEvent.Status.LIVE, status_changed_at=timezone.now()
    )
    show["outside"] = ProductFactory(organization=show["event"].organization, name="Cotton tote")
    return show


def in_thread(function, *args):
    """Run ORM work in another thread (Playwright's event loop runs in this one)."""

    def run():
        try:
            return function(*args)
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def sample_two_frames(event_id: int, detections: list[Detection]) -> None:
    """What a sampler does with two frames showing ``detections``: suggestions, then a status."""
    from discovery.detectors import get_detector

    event = LiveEvent.objects.get(pk=event_id)
    get_detector().answers = [detections]
    tracker = services.new_tracker()
    for second in range(2):
        services.analyse_frame(
            event=event, frame=FRAME, tracker=tracker, now=float(second), at=timezone.now()
        )
    services.report_status(event_id, state="running", at=timezone.now().isoformat(), fps=1.0, result=[])


def test_a_suggestion_appears_and_feature_features_it_through_the_lineup(
    console_server,
    live_show,
    page,  # noqa: F811
):
    from playwright.sync_api import expect

    event, products, outside = live_show["event"], live_show["products"], live_show["outside"]
    _log_in(page, console_server, live_show["session"])
    page.goto(f"{console_server}{event.get_absolute_url()}")
    expect(page.locator("#console-connection")).to_have_attribute("data-state", "live")
    panel = page.locator("#discovery")
    expect(panel.locator("#discovery-empty")).to_be_visible()

    in_thread(
        sample_two_frames,
        event.pk,
        [
            Detection(products[1].pk, 0.82, (0.1, 0.2, 0.3, 0.4), True),
            Detection(outside.pk, 0.7, (0.5, 0.5, 0.2, 0.2), False),
        ],
    )

    rows = panel.locator(".discovery-suggestion")
    expect(rows).to_have_count(2)
    night_cream = rows.filter(has_text="Night cream")
    expect(night_cream).to_contain_text("is on screen")
    expect(night_cream).to_contain_text("score 82%")
    expect(night_cream.locator(".discovery-thumb")).to_have_attribute(
        "src", re.compile(r"^data:image/jpeg;base64,.+")
    )
    tote = rows.filter(has_text="Cotton tote")
    expect(tote).to_contain_text("not in the lineup")
    expect(tote.get_by_role("button", name="Feature")).to_be_disabled()
    expect(panel.locator("#discovery-status")).to_contain_text("1 fps")
    expect(panel.locator("#discovery-empty")).to_be_hidden()

    night_cream.get_by_role("button", name="Feature").click()

    history = page.locator("#history-list .history-row")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Night cream")
    expect(page.locator(".product-card").nth(1)).to_have_class("product-card is-current")
    assert [name for name, _ in in_thread(_highlights, event.pk)] == ["Night cream"]


def test_a_live_console_says_when_nothing_samples_the_show(console_server, live_show, page):  # noqa: F811
    from playwright.sync_api import expect

    event = live_show["event"]
    _log_in(page, console_server, live_show["session"])
    page.goto(f"{console_server}{event.get_absolute_url()}")
    panel = page.locator("#discovery")
    status = panel.locator("#discovery-status")
    expect(status).to_have_text("Waiting for the first frame…")

    # No sampler (the tests' server is eager Celery, and no discovery_sampler runs): after 3 s.
    expect(panel).to_have_attribute("data-state", "missing", timeout=STALL_SECONDS * 1000 + 15_000)
    expect(status).to_contain_text(
        f"The detector is not running: no frame for {STALL_SECONDS} s "
        "(this server has no Celery worker: run manage.py discovery_sampler)."
    )

    # A sampler that starts says so at once, then its frames replace the message.
    services.report_status(event.pk, state="waiting", at=None, fps=0.0, result=[])  # no ORM: here
    expect(status).to_have_text("Detector started: waiting for the stream's video…")
    expect(panel).to_have_attribute("data-state", "waiting")
