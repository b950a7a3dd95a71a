"""Viewers' sign-up page: an account to chat with, by e-mail, display name and password."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("sign-up")
GOOD = {"email": "Ada@Example.com", "display_name": "Ada L.", "password": "correct horse battery", "next": ""}


def test_a_viewer_signs_up_and_is_signed_in_back_on_the_show(client):
    response = client.post(URL, {**GOOD, "next": "/e/acme/spring-drop/"})

    assert response.status_code == 302 and response["Location"] == "/e/acme/spring-drop/"
    user = get_user_model().objects.get()
    assert (user.username, user.email, user.first_name) == ("ada@example.com", "ada@example.com", "Ada L.")
    assert not user.is_staff and not user.memberships.exists()
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.login(username="ada@example.com", password="correct horse battery")


def test_a_next_url_off_the_site_is_ignored(client):
    response = client.post(URL, {**GOOD, "next": "https://evil.example/"})

    assert response["Location"] == reverse("home")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("password", "password", "This password is too common."),
        ("password", "ada@example.com1", "too similar"),
        ("password", "83917265", "entirely numeric"),
        ("email", "not-an-address", "Enter a valid email address."),
        ("display_name", " \u200b\u200b ", "Choose a name others will see."),
        ("display_name", "x" * 41, "at most 40 characters"),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_nothing_is_stored(client, field, value, message):
    response = client.post(URL, {**GOOD, field: value})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not get_user_model().objects.exists()


def test_an_address_with_an_account_is_told_to_log_in(client):
    UserFactory(username="someone", email="ada@example.com")

    response = client.post(URL, GOOD)

    assert response.status_code == 400
    assert "exists already: log in instead" in response.content.decode()
    assert get_user_model().objects.count() == 1


def test_the_display_name_is_stored_cleaned(client):
    client.post(URL, {**GOOD, "display_name": "  Ad\u200ba\u202e\tL.  "})

    assert get_user_model().objects.get().first_name == "Ada L."


def test_the_page_renders_a_labelled_form(client):
    page = client.get(URL, {"next": "/e/acme/spring-drop/"}).content.decode()

    for label in ('for="id_email"', 'for="id_display_name"', 'for="id_password"'):
        assert label in page
    assert 'value="/e/acme/spring-drop/"' in page
