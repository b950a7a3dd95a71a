"""Related products in a real browser (issue 18): the row under the player follows the featured
product, and Add to cart works on it as on the lineup. A scheduled event (no video): cards show
as soon as they arrive. The brand's model is written as training would (recommendations.learning).
A signed-in viewer's personal offer shows as "Your price" and is what checkout charges; their row
leaves out what they bought."""

import pytest
from django.test import Client
from django.utils import timezone

from events import services
from recommendations.learning import Model
from recommendations.models import TrainedModel
from tests.test_viewer_browser import DEADLINE_MS, as_the_host, asgi_server, show  # noqa: F401 (fixtures)


@pytest.fixture
def trained(show):  # noqa: F811
    event, products, _ = show
    jacket, fleece, daypack, beanie = (str(product.pk) for product in products)
    model = Model(
        neighbours={jacket: [(beanie, 0.9), (daypack, 0.5)], fleece: [(jacket, 0.8)]},
        popular=[daypack, beanie, fleece, jacket],
    )
    TrainedModel.objects.create(
        organization=event.organization,
        trained_at=timezone.now(),
        interactions=40,
        products=2,
        data=model.to_json(),
    )
    return model


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_related_row_follows_the_featured_product(show, trained, asgi_server, page, artifacts_dir):  # noqa: F811
    from playwright.sync_api import expect

    event, products, host = show
    jacket, fleece, daypack, beanie = products
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{asgi_server.url}/e/{event.organization.slug}/{event.slug}/")
    related = page.locator("#related")
    expect(related).to_be_hidden()
    page.wait_for_function("window.liveshop && window.liveshop.socket === 'open'", timeout=DEADLINE_MS)

    as_the_host(services.feature_product, event=event, product=jacket, by=host)
    names = related.locator(".lineup-name")
    expect(names).to_have_text([beanie.name, daypack.name, fleece.name], timeout=DEADLINE_MS)
    expect(related.locator("h2")).to_contain_text(jacket.name)
    page.screenshot(path=artifacts_dir / "related-jacket.png", full_page=True)

    as_the_host(services.feature_product, event=event, product=fleece, by=host)
    expect(names.first).to_have_text(jacket.name, timeout=DEADLINE_MS)  # fleece's own, then popular
    expect(names).not_to_contain_text([fleece.name])

    related.locator(f'.lineup-item[data-product-id="{jacket.pk}"] [data-action="add-to-cart"]').click()
    expect(page.locator("#cart-button [data-field=count]")).to_have_text("1", timeout=DEADLINE_MS)
    assert errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_signed_in_viewers_offer_shows_and_is_charged_at_checkout(
    show,  # noqa: F811
    trained,
    asgi_server,  # noqa: F811
    page,
    artifacts_dir,
):
    """The brand offers 20% off: the viewer's top-ranked lineup product (the model's most popular,
    the daypack, 119.00) shows as "Your price" with its end; added from there, the cart says why
    it costs 95.20, and the order is charged 95.20."""
    from playwright.sync_api import expect

    from accounts.tests.factories import UserFactory
    from commerce.models import Order, ShopSettings
    from recommendations.models import OfferSettings
    from tests.test_shop_browser import checkout

    event, products, host = show
    daypack = products[2]

    def a_signed_in_viewer_at_a_brand_with_offers():  # in a thread: Playwright's loop runs here
        ShopSettings.objects.create(organization=event.organization, shipping_countries=["FR"])
        OfferSettings.objects.create(organization=event.organization, max_percent=20, minutes=30)
        viewer = UserFactory(email="ada@example.com")
        client = Client()
        client.force_login(viewer)
        return viewer, client.cookies["sessionid"].value

    viewer, session = as_the_host(a_signed_in_viewer_at_a_brand_with_offers)
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": asgi_server.url}])
    page.set_default_timeout(DEADLINE_MS)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{asgi_server.url}/e/{event.organization.slug}/{event.slug}/")

    offer = page.locator("#offer")
    expect(offer).to_be_visible()
    expect(offer.locator(".lineup-name")).to_have_text(daypack.name)
    expect(offer.locator(".lineup-price")).to_contain_text("Your price $95.20")
    expect(offer.locator("[data-field=terms]")).to_contain_text(
        f"20% off {daypack.name}, for you only, until"
    )
    page.screenshot(path=artifacts_dir / "offer-your-price.png", full_page=True)

    offer.locator('[data-action="add-to-cart"]').click()
    expect(page.locator("#cart-button [data-field=count]")).to_have_text("1")
    page.locator("#cart-button").click()
    panel = page.locator("#shop-panel")
    expect(panel.locator(".cart-note")).to_contain_text("Your price: 20% off until")
    expect(panel.locator(".shop-total strong")).to_have_text("$95.20")
    pay = checkout(page, name="Ada Lovelace")
    pay.get_by_label("Card number").fill("4242 4242 4242 4242")
    pay.get_by_role("button", name="Pay $95.20").click()
    expect(panel.locator(".confirmation")).to_be_visible()
    token = page.evaluate("window.liveshopShop.order.token")
    order = as_the_host(lambda: Order.objects.get(token=token))
    assert (order.status, str(order.total), order.user_id) == ("paid", "95.20", viewer.pk)

    # Their row is everyone's less what they bought: the shared answer (no cookies sent) and what
    # they bought, asked again after the payment. The jacket's row is otherwise beanie, daypack, fleece.
    jacket, fleece, _, beanie = products
    asked = []
    page.on("request", lambda request: asked.append(request))
    as_the_host(services.feature_product, event=event, product=jacket, by=host)
    names = page.locator("#related .lineup-name")
    expect(names).to_have_text([beanie.name, fleece.name])
    asked = [(request.url, request.all_headers().get("cookie")) for request in asked]
    shared = [cookie for url, cookie in asked if "shared=1" in url]
    assert shared == [None]  # one request, and it named nobody
    assert any("/bought/" in url and cookie for url, cookie in asked)
    assert errors == []
