"""The embed pages' framing headers, the next-show redirect, oEmbed, the loader, the debug shop."""

import json
from urllib.parse import quote

import pytest
from django.urls import reverse

from embed.models import EmbedSettings
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory, LiveNowEventFactory

pytestmark = pytest.mark.django_db

SHOP = "https://shop.acme.example"


@pytest.fixture
def allowed(brand):
    return EmbedSettings.objects.create(organization=brand, allowed_origins=f"{SHOP}\nhttps://*.acme.example")


def embed_url(event):
    return reverse("embed:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})


def csp(response) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    return {name: value for name, value in (d if len(d) == 2 else (d[0], "") for d in directives)}


def test_an_embed_page_may_be_framed_by_the_brands_sites_only(client, event, allowed):
    response = client.get(embed_url(event))

    assert response.status_code == 200
    assert csp(response)["frame-ancestors"] == f"{SHOP} https://*.acme.example"
    assert "X-Frame-Options" not in response
    page = response.content.decode()
    assert 'class="topbar"' not in page  # the shop's page is the frame, not Liveshop's
    config = json.loads(page.split('id="embed-config" type="application/json">')[1].split("</script>")[0])
    assert config["allowedOrigins"] == [SHOP, "https://*.acme.example"]
    assert config["ownCart"] is False and config["v"] == 1
    assert config["event"] == f"{event.organization.slug}/{event.slug}"


def test_every_other_page_keeps_deny(client, event, allowed):
    watch = client.get(reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug}))

    assert watch["X-Frame-Options"] == "DENY"
    assert csp(watch)["frame-ancestors"] == "'none'"


def test_a_brand_without_allowed_sites_is_framed_by_no_one(client, event):
    response = client.get(embed_url(event))

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert csp(response)["frame-ancestors"] == "'none'"


def test_another_brands_list_does_not_open_this_brands_frame(client, event, other_brand):
    EmbedSettings.objects.create(organization=other_brand, allowed_origins=SHOP)

    response = client.get(embed_url(event))

    assert csp(response)["frame-ancestors"] == "'none'"


def test_the_shared_copy_of_the_embed_page_is_not_the_event_pages(client, event, allowed):
    watch_url = reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})
    client.get(watch_url)  # kept for the next anonymous viewer

    embed = client.get(embed_url(event)).content.decode()
    watch = client.get(watch_url).content.decode()

    assert 'id="embed-config"' in embed and 'id="embed-config"' not in watch


def test_own_cart_reaches_the_page(client, event, allowed):
    allowed.own_cart = True
    allowed.save()

    page = client.get(embed_url(event)).content.decode()

    assert "embed-own-cart" in page


def test_a_private_or_missing_event_is_404(client, brand, allowed):
    private = LiveEventFactory(organization=brand, is_private=True)

    assert client.get(embed_url(private)).status_code == 404
    assert client.get("/embed/e/acme/nope/").status_code == 404


def test_the_next_show_is_the_live_one_then_the_soonest(client, brand, allowed):
    LiveEventFactory(organization=brand, slug="later")
    live = LiveNowEventFactory(organization=brand, slug="on-now")
    url = reverse("embed:brand", kwargs={"brand": brand.slug})

    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == embed_url(live)
    assert csp(response)["frame-ancestors"] == f"{SHOP} https://*.acme.example"

    live.status = LiveEvent.Status.ENDED
    live.save()
    assert client.get(url)["Location"] == "/embed/e/acme/later/"


def test_a_brand_without_shows_says_so(client, brand):
    response = client.get(reverse("embed:brand", kwargs={"brand": brand.slug}))

    assert response.status_code == 404


def test_the_loader_has_a_fixed_address(client):
    response = client.get("/embed.js")

    assert response.status_code == 302 and response["Location"].endswith("/js/embed.js")
    assert "max-age=300" in response["Cache-Control"]


# oEmbed -------------------------------------------------------------------------------------


def oembed(client, url, **params):
    query = "&".join([f"url={quote(url, safe='')}", *(f"{k}={v}" for k, v in params.items())])
    return client.get(f"/oembed/?{query}")


def test_oembed_answers_a_public_show_with_the_embed_frame(client, event):
    page = f"http://testserver/e/{event.organization.slug}/{event.slug}/"

    response = oembed(client, page, maxwidth=480)

    assert response.status_code == 200
    data = response.json()
    assert data["version"] == "1.0" and data["type"] == "rich"
    assert data["title"] == event.title and data["author_name"] == event.organization.name
    assert data["width"] == 480
    assert f'src="http://testserver/embed/e/{event.organization.slug}/{event.slug}/"' in data["html"]
    assert "<script" not in data["html"]


def test_the_event_page_names_its_oembed_answer(client, event):
    page = client.get(f"/e/{event.organization.slug}/{event.slug}/").content.decode()

    expected = quote(f"http://testserver/e/{event.organization.slug}/{event.slug}/", safe="")
    assert f'type="application/json+oembed" href="http://testserver/oembed/?url={expected}"' in page


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        ("", {}, 400),
        ("http://testserver/e/acme/spring-drop/", {"format": "xml"}, 501),
        ("http://testserver/e/acme/spring-drop/", {"maxwidth": "abc"}, 400),
        ("http://testserver/e/acme/spring-drop/", {"maxwidth": "10"}, 400),
        ("https://elsewhere.example/e/acme/spring-drop/", {}, 404),
        ("http://testserver/studio/", {}, 404),
        ("http://testserver/e/acme/no-such-show/", {}, 404),
        ("javascript:alert(1)", {}, 404),
        ("http://testserver/%ZZ", {}, 404),
    ],
)
def test_oembed_refuses_with_a_reason(client, event, url, params, status):
    event.slug = "spring-drop"
    event.save()

    response = oembed(client, url, **params) if url else client.get("/oembed/")

    assert response.status_code == status
    assert response.json()["error"]


def test_oembed_never_reveals_a_private_show(client, event, host):
    event.is_private = True
    event.save()
    client.force_login(host)  # even asked by someone who may watch it: a CMS embeds for anyone

    response = oembed(client, f"http://testserver/e/{event.organization.slug}/{event.slug}/")

    assert response.status_code == 404


# The demo shop ------------------------------------------------------------------------------


def test_the_demo_shop_is_served_in_debug_only(client, settings):
    settings.DEBUG = False
    assert client.get("/embed/demo-shop/", HTTP_HOST="localhost").status_code == 404

    settings.DEBUG = True
    response = client.get("/embed/demo-shop/", HTTP_HOST="localhost:8000")

    assert response.status_code == 200
    assert (
        'src="http://127.0.0.1:8000/embed.js" data-liveshop-event="northwind/northwind-live"'
        in response.content.decode()
    )
    assert "http://127.0.0.1:8000" in csp(response)["script-src"]
    assert "http://127.0.0.1:8000" in csp(response)["frame-src"]


def test_a_brands_show_list_is_framed_for_its_sites(client, brand, allowed):
    upcoming = LiveEventFactory(organization=brand, title="Winter boots")

    response = client.get(reverse("embed:shows", kwargs={"brand": brand.slug}))

    assert response.status_code == 200
    assert csp(response)["frame-ancestors"] == f"{SHOP} https://*.acme.example"
    page = response.content.decode()
    assert f'href="/e/{brand.slug}/{upcoming.slug}/"' in page  # the bridge keeps it in the frame
    assert 'id="embed-config"' in page and 'class="topbar"' not in page
    assert client.get("/embed/b/no-such-brand/shows/").status_code == 404
