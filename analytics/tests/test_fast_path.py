"""The beacon's fast path on the ASGI server (analytics.asgi): an anonymous viewer with the
signed cookie is answered on the event loop, counted as Django's view would; the rest goes on to
Django."""

import json
import time

import pytest
from channels.testing import HttpCommunicator
from django.core import signing

from analytics import services, views
from analytics.models import WatchMinute
from analytics.tests.helpers import beacon, heartbeat
from liveshop import viewer_id
from liveshop.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
URL = "/api/analytics/beacon/"


def signed(value: str) -> str:
    return signing.get_cookie_signer(salt=viewer_id.COOKIE + viewer_id.SALT).sign(value)


async def post(payload, cookie: str, origin="http://testserver"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = [(b"host", b"testserver"), (b"cookie", cookie.encode()), (b"content-type", b"text/plain")]
    if origin:
        headers.append((b"origin", origin.encode()))
    response = await HttpCommunicator(application, "POST", URL, body=body, headers=headers).get_response()
    return response["status"], json.loads(response["body"] or b"{}")


def batch(event, seq=0):
    now = int(time.time() * 1000)
    return beacon({"event": event.pk}, seq=seq, sent_at=now, items=[heartbeat(at=now)])


@pytest.fixture
def no_django_view(monkeypatch):
    """Fail if Django's view answers: the fast path must."""

    def refuse(*args, **kwargs):
        raise AssertionError("Django's BeaconView answered")

    monkeypatch.setattr(views.BeaconView, "post", refuse)


async def test_a_viewer_with_the_cookie_is_counted_on_the_event_loop(live_event, no_django_view):
    from asgiref.sync import sync_to_async

    cookie = f"{viewer_id.COOKIE}={signed('fast-viewer')}"
    assert await post(batch(live_event), cookie) == (200, {"stored": 1, "dropped": {}})
    assert await post(batch(live_event), cookie) == (200, {"stored": 0, "dropped": {"duplicate_batch": 1}})
    assert await post(batch(live_event, seq=1), cookie) == (
        200,
        {"stored": 0, "dropped": {"too_frequent": 1}},
    )
    await sync_to_async(services.flush_buffer)()
    rows = await sync_to_async(lambda: list(WatchMinute.objects.values_list("watched_ms", flat=True)))()
    assert rows == [15_000]


async def test_the_fast_path_refuses_what_django_refuses(live_event, no_django_view):
    good = f"{viewer_id.COOKIE}={signed('fast-viewer')}"
    assert (await post(batch(live_event), f"{viewer_id.COOKIE}=forged:x"))[0] == 400
    assert (await post(b"nope", good))[1] == {"error": "The batch is not JSON."}
    assert (await post(batch(live_event), good, origin="https://evil.example"))[0] == 403
    status, body = await post(beacon({"event": 999_999}, items=[heartbeat()]), good)
    assert status == 400 and "No such event" in body["error"]


async def test_signed_in_viewers_and_new_ones_go_on_to_django(live_event):
    status, body = await post(batch(live_event), "")
    assert (status, body) == (200, {"stored": 0, "retry": True})  # Django's answer: a cookie first
