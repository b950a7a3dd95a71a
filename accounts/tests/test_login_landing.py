"""Where a login lands without a ``next``: a brand's people on the studio (the demo's staff
logins among them), viewers on the home page; a ``next`` still wins."""

import pytest

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def log_in(client, user, **extra):
    user.set_password("pw-for-tests-1")
    user.save()
    return client.post("/login/", {"username": user.username, "password": "pw-for-tests-1", **extra})


def test_a_brands_host_lands_on_the_studio(client, host):
    assert log_in(client, host)["Location"] == "/studio/"


def test_a_viewer_lands_on_the_home_page(client):
    assert log_in(client, UserFactory())["Location"] == "/"


def test_a_next_address_still_wins(client, host):
    assert log_in(client, host, next="/b/somewhere/")["Location"] == "/b/somewhere/"
