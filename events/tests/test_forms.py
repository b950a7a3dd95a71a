"""events.forms.EventForm: brand-limited, ordered lineup; clear errors for bad input."""

import pytest

from catalog.models import Product
from catalog.tests.factories import ProductFactory
from events.forms import EventForm
from events.models import EventProduct
from events.tests.factories import LiveEventFactory

pytestmark = pytest.mark.django_db


def data(**overrides):
    values = {"title": "Spring drop", "scheduled_start": "2031-05-04T18:30", "is_recorded": "on"}
    values.update(overrides)
    return values


def test_valid_form_orders_the_lineup_by_position_then_catalogue_order(brand):
    a = ProductFactory(organization=brand, name="A")
    b = ProductFactory(organization=brand, name="B")
    c = ProductFactory(organization=brand, name="C")
    form = EventForm(
        data(products=[a.pk, b.pk, c.pk], **{f"position_{c.pk}": "1", f"position_{a.pk}": "2"}),
        organization=brand,
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["lineup"] == [c, a, b]  # b had no position: last
    fields = form.event_fields()
    assert fields["title"] == "Spring drop"
    assert fields["slug"] == ""
    assert (fields["is_private"], fields["is_recorded"]) == (False, True)
    assert fields["scheduled_start"].isoformat() == "2031-05-04T18:30:00+00:00"


def test_only_the_brands_active_products_are_offered(brand):
    active = ProductFactory(organization=brand)
    ProductFactory(organization=brand, is_active=False)
    ProductFactory()  # another brand's

    form = EventForm(organization=brand)

    assert list(form.fields["products"].queryset) == [active]


def test_another_brands_product_is_a_form_error(brand):
    foreign = ProductFactory()

    form = EventForm(data(products=[foreign.pk]), organization=brand)

    assert not form.is_valid()
    assert form.errors["products"] == [f"Product {foreign.pk} is not one of this brand's active products."]


def test_an_unknown_product_id_is_a_form_error(brand):
    form = EventForm(data(products=["999999"]), organization=brand)

    assert not form.is_valid()
    assert "Product 999999 is not one of this brand's active products." in form.errors["products"]


def test_a_non_numeric_product_id_is_a_form_error(brand):
    form = EventForm(data(products=["lipstick"]), organization=brand)

    assert not form.is_valid()
    assert form.errors["products"] == ["“lipstick” is not a valid product id."]


def test_a_slug_taken_in_the_brand_is_a_form_error(brand):
    LiveEventFactory(organization=brand, slug="spring-drop")

    form = EventForm(data(slug="spring-drop"), organization=brand)

    assert not form.is_valid()
    assert "Another event of this brand already uses this address" in form.errors["slug"][0]


def test_another_brands_slug_is_not_taken(brand):
    """Slugs are unique per brand, so the form reveals nothing about other brands' events."""
    LiveEventFactory(slug="spring-drop")

    assert EventForm(data(slug="spring-drop"), organization=brand).is_valid()


def test_a_missing_start_time_is_a_form_error(brand):
    form = EventForm(data(scheduled_start=""), organization=brand)

    assert not form.is_valid()
    assert form.errors["scheduled_start"] == ["Enter the start date and time."]


def test_edit_form_starts_from_the_event_and_keeps_its_own_slug(brand):
    a, b = ProductFactory(organization=brand), ProductFactory(organization=brand)
    event = LiveEventFactory(organization=brand, slug="mine", channel_id="")
    EventProduct.objects.create(event=event, product=b, position=1)
    EventProduct.objects.create(event=event, product=a, position=2)

    initial = EventForm(organization=brand, event=event)
    assert initial["products"].value() == [b.pk, a.pk]
    assert [row.product for row in initial.lineup_rows() if row.checked] == [b, a]

    form = EventForm(data(slug="", products=[a.pk, b.pk]), organization=brand, event=event)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["slug"] == "mine"
    # No positions given: catalogue order.
    assert form.cleaned_data["lineup"] == list(Product.objects.filter(pk__in=[a.pk, b.pk]))


def test_edit_keeps_an_inactive_product_already_in_the_lineup(brand):
    retired = ProductFactory(organization=brand, is_active=False)
    event = LiveEventFactory(organization=brand)
    EventProduct.objects.create(event=event, product=retired, position=1)

    form = EventForm(
        data(products=[retired.pk], **{f"position_{retired.pk}": "1"}), organization=brand, event=event
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["lineup"] == [retired]


def test_privacy_and_recording_are_fixed_once_the_channel_exists(brand):
    event = LiveEventFactory(organization=brand, is_private=False, is_recorded=True)

    form = EventForm(data(is_private="on", is_recorded=""), organization=brand, event=event)

    assert form.is_valid(), form.errors
    assert form.fields["is_private"].disabled
    assert (form.cleaned_data["is_private"], form.cleaned_data["is_recorded"]) == (False, True)


def test_a_services_validation_error_lands_on_the_form(brand):
    from django.core.exceptions import ValidationError

    form = EventForm(data(), organization=brand)
    assert form.is_valid()

    form.add_service_error(ValidationError({"slug": ["Taken."], "organization": ["Gone."]}))
    form.add_service_error(ValidationError("Backend said no."))

    assert form.errors["slug"] == ["Taken."]
    assert form.non_field_errors() == ["Gone.", "Backend said no."]
