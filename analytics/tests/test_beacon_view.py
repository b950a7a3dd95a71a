"""POST /api/analytics/beacon/: the viewer id (cookie, signed-in user, cookieless address), the
source check, and a clear 400 for every malformed batch (never a 500, never a count)."""

import json
import time

import pytest
from django.urls import reverse

from analytics import services
from analytics.models import DroppedBeacon, WatchMinute
from analytics.tests.helpers import beacon, heartbeat
from liveshop import viewer_id

pytestmark = pytest.mark.django_db
URL = "/api/analytics/beacon/"


def now_ms() -> int:
    return int(time.time() * 1000)


def post(client, payload, **headers):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    headers.setdefault("HTTP_ORIGIN", "http://testserver")
    return client.post(URL, body, content_type="text/plain", **headers)


def batch(event, seq=0, **extra):
    now = now_ms()
    return beacon({"event": event.pk}, seq=seq, sent_at=now, items=[heartbeat(at=now)], **extra)


def test_the_url_is_the_beacon_endpoint():
    assert reverse("analytics:beacon") == URL


def test_a_browser_without_the_cookie_gets_one_and_its_retry_counts_under_it(client, live_event):
    first = post(client, batch(live_event))
    assert first.status_code == 200 and first.json() == {"stored": 0, "retry": True}
    assert viewer_id.COOKIE in first.cookies  # the test client keeps it, as a browser does
    again = post(client, batch(live_event, retry=True))
    assert again.json() == {"stored": 1, "dropped": {}}
    services.flush_buffer()
    assert WatchMinute.objects.get().watched_ms == 15_000


def test_a_client_that_keeps_no_cookie_is_counted_once_by_its_address(client, live_event):
    for seq in range(3):
        client.cookies.clear()
        response = post(client, batch(live_event, seq=seq, retry=True))
        assert response.status_code == 200
    services.flush_buffer()
    assert WatchMinute.objects.values("viewer").distinct().count() == 1


def test_a_forged_viewer_cookie_is_refused(client, live_event):
    client.cookies[viewer_id.COOKIE] = "made-up:value"
    response = post(client, batch(live_event))
    assert response.status_code == 400 and "not one of ours" in response.json()["error"]


def test_a_beacon_from_another_site_is_refused(client, live_event):
    assert post(client, batch(live_event), HTTP_ORIGIN="https://evil.example").status_code == 403
    assert (
        post(client, batch(live_event), HTTP_ORIGIN="", HTTP_SEC_FETCH_SITE="cross-site").status_code == 403
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"event": NaN}', "not JSON"),
        ({"tab": "tab-aaaaaaaa", "seq": 0, "sentAt": 1, "items": [{"type": "heartbeat"}]}, "exactly one"),
        ({"event": 1, "recording": 2}, "exactly one"),
        (
            {"event": "1", "tab": "tab-aaaaaaaa", "seq": 0, "sentAt": 1, "items": [{"type": "x", "at": 1}]},
            "type",
        ),
        ({"event": 1, "tab": "bad tab!", "seq": 0, "sentAt": 1, "items": []}, "tab"),
        ({"event": 1, "tab": "tab-aaaaaaaa", "seq": 0, "sentAt": 1, "items": []}, "items"),
        ({"event": 1, "tab": "tab-aaaaaaaa", "seq": -1, "sentAt": 1, "items": [heartbeat()]}, "seq"),
        (
            {"event": 1, "tab": "tab-aaaaaaaa", "seq": 0, "sentAt": 1, "items": [heartbeat(played_ms=True)]},
            "playedMs",
        ),
        (
            {"event": 1, "tab": "tab-aaaaaaaa", "seq": 0, "sentAt": 1, "items": [heartbeat(), heartbeat()]},
            "one heartbeat",
        ),
        (
            {"event": 1, "tab": "tab-aaaaaaaa", "seq": 0, "sentAt": 1, "items": [{"type": "click", "at": 1}]},
            "highlightId",
        ),
        ({"event": 1, "tab": "tab-aaaaaaaa", "seq": 0, "sentAt": 1, "items": [heartbeat()] * 41}, "items"),
        ("x" * 20_000, "at most"),
    ],
)
def test_malformed_batches_get_a_400_with_the_reason(client, live_event, payload, reason):
    client.cookies[viewer_id.COOKIE] = "ignored"  # shape is checked before the viewer
    response = post(client, payload)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_an_unknown_or_private_show_is_refused_and_counted(client, live_event):
    from events.models import LiveEvent

    client.force_login(__import__("accounts.tests.factories", fromlist=["UserFactory"]).UserFactory())
    missing = post(client, beacon({"event": 999_999}, items=[heartbeat()]))
    assert missing.status_code == 400 and "No such event" in missing.json()["error"]
    LiveEvent.objects.filter(pk=live_event.pk).update(is_private=True)
    from analytics import streams

    streams.clear_cache()
    assert post(client, batch(live_event)).status_code == 400
    services.flush_buffer()
    assert DroppedBeacon.objects.get(stream="").count == 2


def test_the_brands_own_people_are_not_counted(host_client, live_event):
    response = post(host_client, batch(live_event))
    assert response.json() == {"stored": 0, "dropped": {"brand_viewer": 1}}
