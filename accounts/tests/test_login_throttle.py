"""Logins are throttled per account and per address, on the site's login page and the admin's
(issue #12, finding 3): after too many failures even the right password waits a cool-down."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import authenticate
from django.urls import reverse

from accounts import throttle
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"
PAGES = {"site": "login", "admin": "admin:login"}


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LIVESHOP_LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LIVESHOP_LOGIN_FAILURES_PER_ADDRESS = 20
    settings.LIVESHOP_LOGIN_COOLDOWN = 900


@pytest.fixture
def user():
    user = UserFactory(is_superuser=True)
    yield user
    throttle.reset(username=user.username, address="127.0.0.1")


@pytest.fixture(autouse=True)
def _clean_address():
    yield
    throttle.reset(address="127.0.0.1")


def log_in(client, page, username, password, address="127.0.0.1"):
    data = {"username": username, "password": password}
    if page == "admin":
        data["next"] = "/admin/"
    return client.post(reverse(PAGES[page]), data, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("page", PAGES)
def test_the_right_password_after_25_wrong_ones_waits_for_the_cool_down(client, user, page):
    for _ in range(25):
        assert log_in(client, page, user.username, "wrong").status_code in (200, 429)

    response = log_in(client, page, user.username, PASSWORD)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 800
    assert "Too many failed login attempts" in response.content.decode()
    assert "try again in 15 minutes" in response.content.decode()
    assert not logged_in(client)


@pytest.mark.parametrize("page", PAGES)
def test_an_account_is_paused_after_its_limit_from_any_address(client, user, page):
    for number in range(5):
        response = log_in(client, page, user.username, "wrong", address=f"10.0.0.{number}")
        assert response.status_code == 200  # the usual "wrong password" page until the limit

    response = log_in(client, page, user.username, PASSWORD, address="10.0.1.1")

    assert response.status_code == 429 and not logged_in(client)
    throttle.reset(username=user.username)
    for number in range(5):
        throttle.reset(address=f"10.0.0.{number}")


@pytest.mark.parametrize("page", PAGES)
def test_an_address_is_paused_after_its_limit_across_accounts(client, user, page):
    for number in range(20):
        log_in(client, page, f"guess{number}", "wrong", address="10.9.9.9")

    response = log_in(client, page, user.username, PASSWORD, address="10.9.9.9")
    assert response.status_code == 429 and not logged_in(client)

    response = log_in(client, page, user.username, PASSWORD, address="10.9.9.10")  # another address
    assert response.status_code == 302 and logged_in(client)
    throttle.reset(address="10.9.9.9")
    for number in range(20):
        throttle.reset(username=f"guess{number}")


def test_the_cool_down_ends(client, user, settings):
    settings.LIVESHOP_LOGIN_COOLDOWN = 1
    for _ in range(5):
        log_in(client, "site", user.username, "wrong")
    assert log_in(client, "site", user.username, PASSWORD).status_code == 429

    time.sleep(1.1)

    assert log_in(client, "site", user.username, PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_success_clears_the_accounts_count_but_not_the_addresss(client, user):
    for _ in range(4):
        log_in(client, "site", user.username, "wrong")
    assert log_in(client, "site", user.username, PASSWORD).status_code == 302
    client.logout()

    for _ in range(4):  # four more: the account's count started again
        log_in(client, "site", user.username, "wrong")
    assert log_in(client, "site", user.username, PASSWORD).status_code == 302


def test_usernames_are_counted_whatever_their_case(client, user):
    for variant in [user.username.upper(), user.username, f" {user.username}", user.username.title(), "x"]:
        log_in(client, "site", variant if variant != "x" else user.username, "wrong")

    assert log_in(client, "site", user.username, PASSWORD).status_code == 429


def test_authenticate_without_a_request_is_throttled_per_account(user):
    for _ in range(5):
        assert authenticate(username=user.username, password="wrong") is None

    assert authenticate(username=user.username, password=PASSWORD) is None
    throttle.reset(username=user.username)
    assert authenticate(username=user.username, password=PASSWORD) == user


def test_sessions_made_before_the_throttle_stay_logged_in_through_a_deploy(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200


def test_a_throttled_account_is_refused_by_every_listed_backend(user):
    for _ in range(5):
        assert authenticate(username=user.username, password="wrong") is None

    assert authenticate(username=user.username, password=PASSWORD) is None
