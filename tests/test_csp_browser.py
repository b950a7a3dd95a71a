"""The studio and the admin in Chromium under the Content-Security-Policy: every page carries it,
their scripts (static files now, not inline) still work, and no page reports a violation (the
``page`` fixture fails the test on any). The viewer, replay, video, console and timeline pages
are proven by their own browser tests, under the same fixture."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Organization
from catalog.models import Product
from demo.brand import BRAND_SLUG
from events import services
from events.models import LiveEvent

OWNER_PASSWORD = "csp-browser-owner-password"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def studio_data(monkeypatch, media_on_disk):
    """The demo brand (products with images, its owner) and a scheduled event with a lineup."""
    monkeypatch.setenv("LIVESHOP_DEMO_OWNER_PASSWORD", OWNER_PASSWORD)
    call_command("seed_demo", stdout=io.StringIO())
    brand = Organization.objects.get(slug=BRAND_SLUG)
    owner = brand.memberships.get(user__username="demo-owner").user
    event = services.create_event(
        organization=brand, title="Spring Drop", scheduled_start=timezone.now() + timedelta(days=1), by=owner
    )
    products = list(Product.objects.filter(organization=brand)[:2])
    services.set_lineup(event=event, products=products, by=owner)
    return {"event": LiveEvent.objects.get(pk=event.pk), "product": products[0]}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_studio_and_admin_pages_work_under_the_content_security_policy(
    live_server, studio_data, page, artifacts_dir
):
    from playwright.sync_api import expect

    event, product = studio_data["event"], studio_data["product"]
    policies = {}
    page.on(
        "response",
        lambda response: (
            response.request.resource_type == "document"
            and policies.setdefault(response.url, response.headers.get("content-security-policy"))
        ),
    )

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("demo-owner")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/studio/")  # brand staff land in their studio
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("demo-owner")

    page.goto(f"{live_server.url}/studio/")
    expect(page.get_by_text("Spring Drop").first).to_be_visible()

    # The event form's lineup picker (static/js/event_form.js): ticking gives the next position.
    page.goto(f"{live_server.url}/studio/events/new/?brand={BRAND_SLUG}")
    row = page.locator(".lineup-picker .pick").first
    row.locator("input[type=checkbox]").check()
    expect(row.locator("input.position")).to_have_value("1")
    expect(row).to_have_class(re.compile(r"\bis-picked\b"))

    # The go-live panel (static/js/studio.js): Copy copies, and a confirmation guards Cancel.
    page.goto(f"{live_server.url}/studio/events/{event.slug}/")
    copy = page.locator("[data-copy=ingest-url]")
    copy.click()
    expect(copy).to_have_text("Copied")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator("form[data-confirm] button[type=submit]", has_text="Cancel").first.click()
    expect(page).to_have_url(f"{live_server.url}/studio/events/{event.slug}/")
    assert questions == ["Cancel this event? Its video channel is deleted."]

    page.goto(f"{live_server.url}/studio/videos/")
    page.goto(f"{live_server.url}/studio/videos/new/?brand={BRAND_SLUG}")
    expect(page.locator("[data-role=upload-fill]")).to_have_count(1)

    # The admin: its own scripts, our colours (static/css/admin.css) and the product images.
    page.goto(f"{live_server.url}/admin/catalog/product/")
    expect(page.locator("#header")).to_have_css("background-color", "rgb(29, 27, 34)")
    expect(page.locator("img.liveshop-thumbnail").first).to_have_css("width", "48px")
    page.goto(f"{live_server.url}/admin/catalog/product/{product.pk}/change/")
    expect(page.locator("img.liveshop-preview")).to_be_visible()
    page.goto(f"{live_server.url}/admin/events/liveevent/{event.pk}/change/")
    expect(page.locator("#liveevent_form")).to_be_visible()
    page.screenshot(path=artifacts_dir / "csp-admin-event.png", full_page=True)

    assert len(policies) >= 9
    for url, policy in policies.items():
        assert policy and "script-src 'self' 'wasm-unsafe-eval'" in policy, url
        assert "unsafe-inline" not in policy, url


@pytest.fixture
def live_ivs_event(video) -> str:
    """A live event whose playback URL is an IVS one; its viewer page's path."""
    from events.tests.factories import LiveEventFactory

    event = LiveEventFactory(
        status=LiveEvent.Status.LIVE,
        channel_id="fake-channel",
        playback_url="https://0123abcd.us-west-2.playback.live-video.net/api/video/v1/liveshop.m3u8",
    )
    return f"/e/{event.organization.slug}/{event.slug}/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_ivs_player_starts_under_the_policy(live_server, settings, live_ivs_event, page):
    """With VIDEO_BACKEND=ivs the viewer page runs the IVS web player from our static files: its
    script, its same-origin WebAssembly worker and its MediaSource (blob:) video, with playback
    from *.live-video.net (unreachable here: the player reports a network error, not a policy
    violation). The fake backend stays in place (cached) behind the IVS page."""
    if not (ROOT / "node_modules" / ".liveshop" / "ivs" / "amazon-ivs-player.min.js").exists():
        pytest.skip("the IVS player is not installed (npm ci)")
    url = f"{live_server.url}{live_ivs_event}"
    settings.VIDEO_BACKEND = "ivs"  # the page and the policy; get_video_backend() stays the fake
    workers, requests = [], []
    page.on("worker", lambda worker: workers.append(worker.url))
    page.on("request", lambda request: requests.append(request.url))

    response = page.goto(url)

    assert "https://*.live-video.net" in response.headers["content-security-policy"]
    for _ in range(150):  # the player starts its worker once the page's scripts have run
        if workers:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(2000)  # the worker loads its .wasm and tries the playlist
    assert any(u.endswith("/static/vendor/ivs/amazon-ivs-wasmworker.min.js") for u in workers), workers
    assert any(u.endswith("/static/vendor/ivs/amazon-ivs-player.min.js") for u in requests), requests
