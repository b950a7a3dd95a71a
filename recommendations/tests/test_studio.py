"""The studio's recommendations page: an owner sets the brand's personal offers and forgets a
person (confirmed, by their account's e-mail); hosts cannot; bad input gets a form error."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from analytics.models import ViewerInteraction
from catalog.tests.factories import ProductFactory
from recommendations.models import ForgottenPerson, OfferSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def csrf(client, url) -> str:
    page = client.get(url)
    assert page.status_code == 200
    return page.context["csrf_token"]


def test_an_owner_sets_the_brands_personal_offers(owner_client, brand):
    url = reverse("recommendations:studio")
    token = csrf(owner_client, url)
    refused = owner_client.post(
        url, {"brand": brand.slug, "max_percent": 60, "minutes": 30, "csrfmiddlewaretoken": token}
    )
    assert refused.status_code == 400
    assert "less than or equal to 50" in refused.content.decode()
    assert not OfferSettings.objects.exists()
    saved = owner_client.post(
        url,
        {"brand": brand.slug, "max_percent": 15, "minutes": 45, "csrfmiddlewaretoken": token},
        follow=True,
    )
    assert "Personal offers of Acme: up to 15% off for 45 min." in saved.content.decode()
    assert OfferSettings.objects.values_list("max_percent", "minutes").get(organization=brand) == (15, 45)


def test_posts_without_the_csrf_token_are_refused(owner_client, brand):
    answer = owner_client.post(reverse("recommendations:studio"), {"brand": brand.slug, "max_percent": 10})
    assert answer.status_code == 403


def test_an_owner_forgets_a_person_after_confirming(owner_client, brand):
    viewer = UserFactory(email="ada@example.com")
    product = ProductFactory(organization=brand)
    now = timezone.now()
    ViewerInteraction.objects.create(
        organization=brand, user=viewer, product=product, kind=ViewerInteraction.Kind.CLICK,
        stream="s1", source="live", viewer="v1", count=1, first_at=now, last_at=now,
    )  # fmt: skip
    url = reverse("recommendations:forget")
    token = csrf(owner_client, reverse("recommendations:studio"))
    unconfirmed = owner_client.post(
        url, {"brand": brand.slug, "email": "ada@example.com", "csrfmiddlewaretoken": token}
    )
    assert unconfirmed.status_code == 400 and "This field is required" in unconfirmed.content.decode()
    for bad, reason in (
        ("not-an-email", "Enter a valid email address."),
        ("bob@example.com", "No account has this e-mail."),
    ):
        answer = owner_client.post(
            url, {"brand": brand.slug, "email": bad, "confirm": "on", "csrfmiddlewaretoken": token}
        )
        assert answer.status_code == 400 and reason in answer.content.decode()
    assert ViewerInteraction.objects.filter(user=viewer).exists()
    done = owner_client.post(
        url,
        {"brand": brand.slug, "email": "ADA@example.com", "confirm": "on", "csrfmiddlewaretoken": token},
        follow=True,
    )
    assert "Acme forgot ADA@example.com: 1 interactions deleted" in done.content.decode()
    assert not ViewerInteraction.objects.filter(user=viewer).exists()
    assert ForgottenPerson.objects.filter(organization=brand, person=f"user:{viewer.pk}").exists()


def test_hosts_and_other_brands_owners_cannot(client, host, brand, other_brand):
    from accounts.models import Membership
    from accounts.tests.factories import member

    client.force_login(host)
    assert client.get(reverse("recommendations:studio"), {"brand": brand.slug}).status_code in (403, 404)
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    answer = client.post(
        reverse("recommendations:forget"), {"brand": brand.slug, "email": "a@b.c", "confirm": "on"}
    )
    assert answer.status_code == 404


def test_the_studio_nav_links_owners_to_the_page(client, owner, host):
    client.force_login(owner)
    page = client.get(reverse("recommendations:studio")).content.decode()
    assert f'href="{reverse("recommendations:studio")}" aria-current="page">Recommendations</a>' in page
    client.force_login(host)
    studio = client.get(reverse("events:list"))
    assert studio.status_code == 200 and "Recommendations</a>" not in studio.content.decode()
