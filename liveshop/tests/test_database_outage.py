"""A database that cannot be reached (a restart, a failover, a pool timeout) is a 503 with a
reason and Retry-After, never a 500; other errors stay 500s."""

import pytest
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from liveshop.urls import urlpatterns as project_urls


def unreachable(request):
    with connection.wrap_database_errors:
        import psycopg

        raise psycopg.OperationalError("connection failed: server closed the connection unexpectedly")


def pool_timeout(request):
    raise OperationalError("couldn't get a connection after 5.00 sec")


def broken(request):
    raise ValueError("a bug")


def fine(request):
    return HttpResponse("ok")


urlpatterns = [
    path("t/unreachable/", unreachable),
    path("api/t/pool-timeout/", pool_timeout),
    path("t/broken/", broken),
    path("t/fine/", fine),
    *project_urls,
]
handler500 = "liveshop.views.server_error"


@pytest.fixture
def client(settings):
    settings.ROOT_URLCONF = __name__
    return Client(raise_request_exception=False)


def test_a_console_call_during_a_database_outage_gets_503_json_with_a_reason(client):
    response = client.post("/t/unreachable/", headers={"Accept": "application/json"})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "try again" in response.json()["error"]


def test_an_api_call_during_a_database_outage_gets_503_json(client):
    response = client.get("/api/t/pool-timeout/")

    assert response.status_code == 503 and "database" in response.json()["error"]


def test_a_page_during_a_database_outage_is_a_small_try_again_page(client):
    response = client.get("/t/unreachable/")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert b"Try again in a moment" in response.content


@pytest.mark.django_db
def test_other_errors_stay_500s(client):
    assert client.get("/t/broken/").status_code == 500
    assert client.get("/t/fine/").status_code == 200
