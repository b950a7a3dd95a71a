"""End to end in a real browser: the demo data, the login page and the brand-scoped admin."""

import io

import pytest
from django.core.management import call_command

from demo.brand import DEMO_PRODUCTS

HOST_PASSWORD = "browser-test-host-password"


@pytest.fixture
def demo_data(monkeypatch, media_on_disk):
    monkeypatch.setenv("LIVESHOP_DEMO_HOST_PASSWORD", HOST_PASSWORD)
    call_command("seed_demo", stdout=io.StringIO())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_demo_host_logs_in_and_sees_the_demo_products_in_the_admin(
    live_server, demo_data, page, artifacts_dir
):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("demo-host")
    page.get_by_label("Password").fill(HOST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/studio/")  # brand staff land in their studio
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("demo-host")

    page.goto(f"{live_server.url}/admin/catalog/product/")
    results = page.locator("#result_list")
    for product in DEMO_PRODUCTS:
        expect(results.get_by_text(product.name, exact=False).first).to_be_visible()
    expect(page.locator("#changelist")).to_contain_text(f"{len(DEMO_PRODUCTS)} products")
    # The seeded images are served (page.goto waited for the load event, so they have loaded).
    thumbnails = results.locator("img[src*='/media/']")
    expect(thumbnails).to_have_count(len(DEMO_PRODUCTS))
    assert thumbnails.evaluate_all("images => images.every(image => image.naturalWidth > 0)")
    # The admin's stylesheet is served, so the page is styled and the screenshot is worth a look.
    expect(page.locator("#header")).to_have_css("display", "flex")

    page.screenshot(path=artifacts_dir / "admin-products.png", full_page=True)
