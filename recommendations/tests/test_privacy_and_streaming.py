"""A brand forgets a person (privacy); new interactions stream to Personalize's event tracker
(PutEvents shapes checked by botocore's Stubber)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory
from recommendations.backends.personalize import PersonalizeEvents
from recommendations.exceptions import RecommenderUnavailable
from recommendations.interactions import brand_interactions
from recommendations.learning import Interaction
from recommendations.models import StreamCursor
from recommendations.services import forget_person, stream_to_personalize
from recommendations.tests.test_services import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def bought(brand, settings):
    from commerce.payments import get_payment_backend

    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    mug, tea = ProductFactory(organization=brand, name="mug"), ProductFactory(organization=brand, name="tea")
    buyer, other = UserFactory(is_staff=False), UserFactory(is_staff=False)
    buy(buyer, mug, tea)
    buy(other, mug)
    return buyer, other


def people(brand):
    return {interaction.user for interaction in brand_interactions(brand)}


def test_an_owner_forgets_a_person_and_the_model_never_learns_from_them_again(brand, owner, bought):
    buyer, other = bought
    forget_person(organization=brand, user=buyer, by=owner)
    assert people(brand) == {f"user:{other.pk}"}


def test_only_owners_may_forget(brand, host, bought):
    with pytest.raises(PermissionDenied):
        forget_person(organization=brand, user=bought[0], by=host)
    assert len(people(brand)) == 2


def test_forget_viewer_command(brand, bought):
    out = io.StringIO()
    call_command("forget_viewer", brand.slug, bought[0].email.upper(), stdout=out)
    assert "The model was retrained" in out.getvalue()
    assert f"user:{bought[0].pk}" not in people(brand)
    with pytest.raises(CommandError, match="No accounts"):
        call_command("forget_viewer", brand.slug, "nobody@example.com")


TRACKER = "tracker-123"


@pytest.fixture
def tracker(settings):
    settings.RECOMMENDER_BACKEND = "personalize"
    settings.PERSONALIZE_TRACKING_ID = TRACKER
    client = boto3.client(
        "personalize-events", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield PersonalizeEvents(client), stubber
        stubber.assert_no_pending_responses()


def test_events_go_per_person_in_tens(tracker):
    events, stubber = tracker
    at = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    many = [Interaction("user:1", str(n), at + n, "click") for n in range(12)]
    for count in (10, 2):
        stubber.add_response(
            "put_events",
            {},
            {"trackingId": TRACKER, "userId": "user:1", "sessionId": "user:1", "eventList": [ANY] * count},
        )
    assert events.put(many) == 12


def test_streaming_sends_only_what_is_new(brand, bought, tracker):
    events, stubber = tracker
    for _ in range(2):  # buyer: mug + tea in one call; other: mug
        stubber.add_response("put_events", {}, None)
    assert stream_to_personalize(events=events) == 3
    assert StreamCursor.objects.get(organization=brand)
    assert stream_to_personalize(events=events) == 0  # nothing new since


def test_a_refused_call_keeps_the_cursor(brand, bought, tracker):
    events, stubber = tracker
    stubber.add_client_error("put_events", service_error_code="InvalidInputException", http_status_code=400)
    with pytest.raises(RecommenderUnavailable, match="InvalidInputException"):
        stream_to_personalize(events=events)
    assert not StreamCursor.objects.filter(organization=brand).exists()


def test_nothing_streams_with_the_local_backend(settings, brand, bought):
    settings.RECOMMENDER_BACKEND = "local"
    assert stream_to_personalize(events=object()) == 0
