"""Related products in a real browser (issue 18): the row under the player follows the featured
product, and Add to cart works on it as on the lineup. A scheduled event (no video): cards show
as soon as they arrive. The brand's model is written as training would (recommendations.learning)."""

import pytest
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
