"""One-time sign-in links: single use, expiring, stored hashed, viewer accounts only, and the
next URL never leaves the site."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import SignInLink
from accounts.tests.factories import OrganizationFactory, UserFactory, member
from liveshop import crypto

pytestmark = pytest.mark.django_db

URL = reverse("sign-in-link")


def test_a_link_signs_in_a_new_viewer_once_and_creates_their_account(client):
    link, token = services.create_sign_in_link(email=" New@Example.com", next_url="/e/brand/show/")

    first = client.post(URL, {"token": token})
    again = type(client)().post(URL, {"token": token})

    assert first.status_code == 302 and first["Location"] == "/e/brand/show/"
    user = client.get("/").wsgi_request.user
    assert user.is_authenticated and user.email == "new@example.com"
    assert not user.is_staff and not user.has_usable_password()
    assert again.status_code == 400 and "already used" in again.content.decode()
    assert SignInLink.objects.get(pk=link.pk).token_digest == crypto.digest(token)


def test_an_existing_viewer_account_is_signed_in_not_duplicated(client):
    ana = UserFactory(email="ana@example.com", is_staff=False)
    _, token = services.create_sign_in_link(email="ANA@example.com", next_url="")

    response = client.post(URL, {"token": token})

    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get("/").wsgi_request.user == ana


def test_an_expired_link_is_refused(client):
    link, token = services.create_sign_in_link(email="ana@example.com", next_url="/")
    SignInLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.post(URL, {"token": token})

    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_a_missing_or_forged_token_is_a_clear_400(client):
    assert client.post(URL, {}).status_code == 400
    assert client.post(URL, {"token": "forged"}).status_code == 400
    assert client.post(URL, {"token": "x" * 1000}).status_code == 400


@pytest.mark.parametrize("kind", ["staff", "superuser", "member", "two_accounts"])
def test_privileged_or_ambiguous_addresses_get_no_link(kind):
    email = "boss@example.com"
    if kind == "staff":
        UserFactory(email=email, is_staff=True)
    elif kind == "superuser":
        UserFactory(email=email, is_staff=False, is_superuser=True)
    elif kind == "member":
        member(OrganizationFactory(), email=email, is_staff=False)
    else:
        UserFactory(email=email, is_staff=False)
        UserFactory(email=email.upper(), is_staff=False)

    with pytest.raises(services.SignInLinkRefused):
        services.create_sign_in_link(email=email, next_url="/")


def test_a_link_made_before_the_address_became_staff_no_longer_works(client):
    ana = UserFactory(email="ana@example.com", is_staff=False)
    _, token = services.create_sign_in_link(email=ana.email, next_url="/")
    type(ana).objects.filter(pk=ana.pk).update(is_staff=True)

    response = client.post(URL, {"token": token})

    assert response.status_code == 400
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_the_next_url_never_leaves_the_site(client):
    _, token = services.create_sign_in_link(email="ana@example.com", next_url="https://evil.example/")

    response = client.post(URL, {"token": token})

    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_an_address_cannot_be_flooded_with_links():
    for _ in range(services.MAX_OPEN_LINKS_PER_EMAIL):
        services.create_sign_in_link(email="ana@example.com", next_url="/")

    with pytest.raises(services.SignInLinkRefused):
        services.create_sign_in_link(email="ana@example.com", next_url="/")


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_sign_in_only_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent transactions")
    _, token = services.create_sign_in_link(email="ana@example.com", next_url="/")
    barrier = threading.Barrier(6)
    outcomes = []

    def use():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            services.use_sign_in_link(token=token)
            outcomes.append("in")
        except services.SignInLinkInvalid:
            outcomes.append("refused")
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["in"] + ["refused"] * 5
