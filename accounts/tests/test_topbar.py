"""The top bar offers the studio only to people with a brand: a viewer's account (signed up to
chat) has nothing there."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_studio_link_shows_for_a_brands_people_not_for_viewers(host_client):
    viewer = Client()
    viewer.force_login(get_user_model().objects.create_user("viewer@example.com", password="pw-1"))
    assert ">Studio</a>" in host_client.get("/").content.decode()
    assert ">Studio</a>" not in viewer.get("/").content.decode()
