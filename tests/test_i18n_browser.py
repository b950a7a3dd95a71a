"""The live page in a German-speaking browser (issue 16): the server answers in German (Accept-
Language), the page's scripts draw their words from the German catalogue, prices come out in
the browser's own locale in the product's currency (Intl.NumberFormat: de-CH writes francs and
euros its own way), the start in the viewer's time zone; the header's switcher turns the page
English and the choice sticks. One server for the module's one test, to keep it quick."""

import re
import secrets
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory
from catalog.tests.factories import ProductFactory
from events.models import EventProduct
from events.tests.factories import LiveEventFactory
from tests.asgi_server import running_asgi_server


@pytest.fixture
def show(db):
    brand = OrganizationFactory(name="Alpenglühen", slug=f"alpen-{secrets.token_hex(3)}")
    start = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    event = LiveEventFactory(organization=brand, title="Winterjacken live", scheduled_start=start)
    coat = ProductFactory(organization=brand, name="Lodenmantel", price="1234.50", currency="EUR")
    EventProduct.objects.create(event=event, product=coat, position=0)
    return event


@pytest.fixture
def asgi_server(show, tmp_path):
    with running_asgi_server(tmp_path) as server:
        yield server


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_german_speaking_viewer_gets_the_live_page_in_german_with_local_prices(
    show, asgi_server, page, artifacts_dir
):
    from playwright.sync_api import expect

    errors = []
    swiss = page.context.browser.new_context(locale="de-CH", timezone_id="Europe/Zurich")
    viewer = swiss.new_page()
    viewer.on("pageerror", lambda error: errors.append(str(error)))
    url = f"{asgi_server.url}/e/{show.organization.slug}/{show.slug}/"
    viewer.goto(url)

    # The server's words, in German (the browser's Accept-Language: de-CH).
    expect(viewer.locator("html")).to_have_attribute("lang", "de")
    expect(viewer.locator("#lineup-title")).to_have_text("In dieser Show")
    expect(viewer.locator(".lineup-add").first).to_contain_text("In den Warenkorb")
    expect(viewer.get_by_role("button", name="Teilen: Link zu dieser Show kopieren")).to_be_visible()

    # The scripts' words, from the German catalogue: the status pill and the countdown.
    expect(viewer.locator("#status-pill [data-field=label]")).to_have_text("Demnächst")
    expect(viewer.locator("#viewer-count")).to_have_text(re.compile(r"^\d+ Zuschauer$"))
    expect(viewer.locator("#countdown")).to_have_text(re.compile(r"^(1 T 2\d|2 T 00):\d\d:\d\d$"))

    # The price in the browser's locale (Swiss German groups with an apostrophe: "EUR 1'234.50"),
    # not in the server's German ("1.234,50 €").
    price = viewer.locator(".lineup-price").first
    expected = viewer.evaluate(
        "new Intl.NumberFormat('de-CH', { style: 'currency', currency: 'EUR' }).format(1234.5)"
    )
    assert re.search(r"1[\u2019']234\.50", expected), expected
    expect(price).to_have_text(expected)

    # The start in the viewer's time zone (Zurich: MEZ in winter, MESZ in summer), in German.
    expect(viewer.locator("#start-time")).to_have_text(re.compile(r"MES?Z"))
    viewer.screenshot(path=artifacts_dir / "i18n-live-de.png")

    # The header's switcher: English, for this browser from now on.
    viewer.get_by_label("Sprache").select_option("en")
    viewer.get_by_role("button", name="Sprache ändern").click()
    expect(viewer.locator("#lineup-title")).to_have_text("In this show")
    expect(viewer.locator("html")).to_have_attribute("lang", "en")
    expect(viewer.locator("#status-pill [data-field=label]")).to_have_text("Upcoming")
    assert any(cookie["name"] == "django_language" and cookie["value"] == "en" for cookie in swiss.cookies())
    viewer.goto(url)
    expect(viewer.locator("#lineup-title")).to_have_text("In this show")
    expect(price).to_have_text("€1,234.50")  # an English page writes English numbers

    assert errors == []
    swiss.close()
