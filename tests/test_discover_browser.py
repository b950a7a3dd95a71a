"""Finding and sharing shows in a real browser: the home page's upcoming show counts down in the
viewer's time zone, and the event page's share button copies the link (desktop) or opens the
phone's share sheet. One server for the module's one test, to keep it quick."""

import re
import secrets
from datetime import UTC, timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory
from demo.brand import product_card_png
from events.tests.factories import LiveEventFactory, LiveNowEventFactory
from tests.asgi_server import running_asgi_server

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def shows(media_on_disk):
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    # A start on the hour in UTC, so the Tokyo time the page shows is known (UTC+9, no DST).
    start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    upcoming = LiveEventFactory(organization=brand, title="Winter Boots Launch", scheduled_start=start)
    upcoming.thumbnail.save(
        "boots.png", ContentFile(product_card_png("Winter Boots", ("#1f4e5f", "#3fa7a3")))
    )
    live = LiveNowEventFactory(organization=brand, title="Trail Jackets Live")
    return brand, upcoming, live


@pytest.fixture
def asgi_server(shows, media_on_disk, tmp_path):
    with running_asgi_server(tmp_path, env={"DJANGO_MEDIA_ROOT": str(media_on_disk)}) as server:
        yield server


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_viewers_find_a_show_count_down_to_it_and_share_its_link(shows, asgi_server, page, artifacts_dir):
    from playwright.sync_api import expect

    brand, upcoming, live = shows
    errors = []
    browser = page.context.browser

    # A viewer in Tokyo: the start is shown in their time zone, with a ticking countdown.
    tokyo = browser.new_context(
        timezone_id="Asia/Tokyo", locale="en-GB", viewport=PHONE, has_touch=True, is_mobile=True
    )
    phone = tokyo.new_page()
    phone.on("pageerror", lambda error: errors.append(str(error)))
    phone.goto(f"{asgi_server.url}/b/{brand.slug}/")
    card = phone.locator(f"#show-{upcoming.pk}")
    local = upcoming.scheduled_start.astimezone(UTC) + timedelta(hours=9)
    expect(card.locator("time")).to_contain_text(f"{local:%H}:00")
    expect(card.locator("time")).to_contain_text("GMT+9")
    countdown = card.locator(".show-countdown")
    expect(countdown).to_have_text(re.compile(r"^Starts in (1 d 00:00:00|23:\d\d:\d\d)$"))
    first = countdown.text_content()
    expect(countdown).not_to_have_text(first)  # it ticks
    expect(card.get_by_role("link", name=f"Add to calendar: {upcoming.title}")).to_have_attribute(
        "href", f"/e/{brand.slug}/{upcoming.slug}/calendar.ics"
    )
    expect(phone.locator(f"#show-{live.pk} .show-badge")).to_have_text("Live")
    phone.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=card.locator("img").element_handle()
    )
    phone.screenshot(path=artifacts_dir / "discover-brand-phone.png", full_page=True)

    # On the phone, Share opens the share sheet with the page's canonical URL and title.
    tokyo.add_init_script(
        "navigator.share = (data) => { window.__shared = data; return Promise.resolve(); };"
    )
    phone.goto(f"{asgi_server.url}/e/{brand.slug}/{upcoming.slug}/")
    phone.get_by_role("button", name="Share this show").click()
    phone.wait_for_function("() => window.__shared !== undefined")
    shared = phone.evaluate("window.__shared")
    assert shared == {
        "title": f"Winter Boots Launch · {brand.name}",
        "url": f"{asgi_server.url}/e/{brand.slug}/{upcoming.slug}/",
    }
    tokyo.close()

    # On a desktop, Share copies the link and says so.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server.url)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{asgi_server.url}/")
    expect(page.locator(f"#show-{upcoming.pk}")).to_be_visible()
    page.screenshot(path=artifacts_dir / "discover-home-desktop.png", full_page=True)
    page.goto(f"{asgi_server.url}/e/{brand.slug}/{upcoming.slug}/")  # (the live one would play)
    page.get_by_role("button", name="Share: copy this show's link").click()
    expect(page.get_by_role("status").filter(has_text="Link copied")).to_be_visible()
    assert (
        page.evaluate("navigator.clipboard.readText()")
        == f"{asgi_server.url}/e/{brand.slug}/{upcoming.slug}/"
    )
    page.screenshot(path=artifacts_dir / "share-link-copied.png")
    assert errors == []
