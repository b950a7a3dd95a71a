"""The viewer API: stream_details and the OpenAPI schema."""

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events import services
from events.models import EventProduct, LiveEvent
from events.payloads import buy_url
from events.tests.factories import LiveEventFactory

pytestmark = pytest.mark.django_db

Status = LiveEvent.Status
PRIVATE_NAMES = ("stream_key", "streamkey", "ingest", "channel")


def details_url(event) -> str:
    return reverse("viewer:stream-details", kwargs={"pk": event.pk})


def make_show(**event_fields):
    event = LiveEventFactory(**event_fields)
    product = ProductFactory(
        organization=event.organization, price="79.00", external_url="https://shop.example.com/fleece?c=red"
    )
    EventProduct.objects.create(event=event, product=product)
    return event, product


def test_stream_details_of_a_public_event(client):
    event, product = make_show(status=Status.LIVE)

    response = client.get(details_url(event))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {
        "id",
        "title",
        "status",
        "scheduledStart",
        "playbackUrl",
        "lineup",
        "currentHighlight",
        "viewerPage",
    }
    assert data["id"] == event.pk and data["title"] == event.title and data["status"] == "live"
    assert data["scheduledStart"] == event.scheduled_start.isoformat()
    assert data["playbackUrl"] == event.playback_url
    assert data["currentHighlight"] is None
    page = reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})
    assert data["viewerPage"] == f"http://testserver{page}"
    assert data["lineup"] == [
        {
            "id": product.pk,
            "sku": product.sku,
            "externalId": "",
            "name": product.name,
            "description": "",
            "price": "79.00",
            "currency": "USD",
            "image": "",
            "buyUrl": buy_url(product, event),
            "inStock": True,
            "left": 10,  # ProductFactory's stock: at the default threshold
            "variants": [
                {
                    "id": product.variants.get().pk,
                    "label": "",
                    "options": {},
                    "sku": product.sku,
                    "price": "79.00",
                    "inStock": True,
                    "left": 10,
                }
            ],
            "deal": None,
        }
    ]
    assert data["lineup"][0]["buyUrl"].startswith("https://shop.example.com/fleece?c=red&utm_source=")


def test_stream_details_carries_the_current_highlight(client):
    event, product = make_show()
    highlight = services.feature_product(event=event, product=product, by=member(event.organization))

    current = client.get(details_url(event)).json()["currentHighlight"]

    assert current["highlightId"] == highlight.pk
    assert current["eventId"] == event.pk
    assert current["offsetMs"] is None  # featured before going live
    assert current["product"]["id"] == product.pk
    assert current["at"] == highlight.created_at.isoformat()


def test_cards_carry_the_products_external_id(client):
    event, product = make_show()
    product.external_id = "89728417-5269-403d-baa3-04b59cdffd0a"
    product.save()

    lineup = client.get(details_url(event)).json()["lineup"]

    assert lineup[0]["externalId"] == "89728417-5269-403d-baa3-04b59cdffd0a"
    schema = client.get(reverse("viewer:schema"), {"format": "json"}).json()
    assert "externalId" in property_names(schema["components"]["schemas"])


def test_inactive_products_are_left_out_of_the_lineup(client):
    event, product = make_show()
    product.is_active = False
    product.save()

    assert client.get(details_url(event)).json()["lineup"] == []


def test_private_event_as_a_brand_member_and_as_anonymous(client, video):
    event, _ = make_show(is_private=True)
    host = member(event.organization, role=Membership.Role.HOST)

    anonymous = client.get(details_url(event))
    client.force_login(member(OrganizationFactory(), role=Membership.Role.OWNER))
    other_brand = client.get(details_url(event))
    client.force_login(host)
    as_member = client.get(details_url(event))

    assert anonymous.status_code == 404 and other_brand.status_code == 404
    assert anonymous.json() == {"detail": "No such event."}
    assert event.title not in anonymous.content.decode()
    assert as_member.status_code == 200
    data = as_member.json()
    assert data["title"] == event.title
    assert data["playbackUrl"].startswith(event.playback_url) and data["playbackUrl"] != event.playback_url
    assert "no-store" in as_member["Cache-Control"] and "private" in as_member["Cache-Control"]


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.NEEDS_CHANNEL])
def test_events_without_a_viewer_page_are_not_found(client, status):
    event, _ = make_show(status=status)

    assert client.get(details_url(event)).status_code == 404


def test_unknown_event_is_not_found(client):
    assert client.get(reverse("viewer:stream-details", kwargs={"pk": 987654})).status_code == 404


def test_the_api_is_read_only(client):
    event, _ = make_show()
    client.force_login(member(event.organization))

    assert client.post(details_url(event), {}, content_type="application/json").status_code == 405


def property_names(schema) -> set[str]:
    """Every property name anywhere in a JSON schema fragment."""
    names = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= property_names(value)
    return names


def test_schema_documents_stream_details_without_private_fields(client):
    response = client.get(reverse("viewer:schema"), {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Liveshop API"
    operation = schema["paths"]["/api/events/{id}/stream_details/"]["get"]
    assert operation["operationId"] == "stream_details"
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    components = schema["components"]["schemas"]
    names = property_names(components[name]) | property_names(components)
    assert {"playbackUrl", "lineup", "currentHighlight", "buyUrl", "price", "currency"} <= names
    for field in names:
        assert not any(private in field.lower() for private in PRIVATE_NAMES), field
    assert not any(private in response.content.decode().lower() for private in ("stream_key", "ingest"))
