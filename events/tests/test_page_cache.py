"""Anonymous viewers of a public event share one event page and one stream_details answer
(events.page_cache): built once, marked for a CDN, rebuilt after a change; signed-in viewers and
private events always get their own, never shared."""

import asyncio
import json
from dataclasses import replace

import pytest
from channels.db import database_sync_to_async
from django.core.asgi import get_asgi_application
from django.urls import reverse

from catalog.tests.factories import ProductFactory
from events import page_cache, services

pytestmark = pytest.mark.django_db


def watch_url(event):
    return reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})


def details_url(event):
    return reverse("viewer:stream-details", kwargs={"pk": event.pk})


def page_config(response) -> dict:
    return config_of(response.content)


def config_of(content: bytes) -> dict:
    html = content.decode()
    opening = '<script id="watch-config" type="application/json">'
    start = html.index(opening) + len(opening)
    return json.loads(html[start : html.index("</script>", start)])


def shared(response) -> bool:
    control = response["Cache-Control"]
    return "public" in control and f"s-maxage={page_cache.S_MAXAGE}" in control and "private" not in control


@pytest.mark.parametrize("url", [watch_url, details_url])
def test_anonymous_viewers_share_one_answer_a_cdn_may_keep(client, event, django_assert_num_queries, url):
    first = client.get(url(event))

    with django_assert_num_queries(0):
        second = client.get(url(event))

    assert first.status_code == second.status_code == 200
    assert shared(first) and shared(second)
    assert "Cookie" in second["Vary"]
    assert not second.cookies  # no CSRF token or session in a shared answer
    assert second.content == first.content


def test_a_featured_product_is_on_the_next_load(client, event, host, django_capture_on_commit_callbacks):
    product = event.lineup.get().product
    assert page_config(client.get(watch_url(event)))["currentHighlight"] is None
    assert client.get(details_url(event)).json()["currentHighlight"] is None

    with django_capture_on_commit_callbacks(execute=True):
        services.feature_product(event=event, product=product, by=host)

    assert page_config(client.get(watch_url(event)))["currentHighlight"]["product"]["id"] == product.pk
    assert client.get(details_url(event)).json()["currentHighlight"]["product"]["id"] == product.pk


def test_a_lineup_edit_is_on_the_next_load(client, event, host, django_capture_on_commit_callbacks):
    assert "Silk scarf" not in client.get(watch_url(event)).content.decode()
    client.get(details_url(event))
    scarf = ProductFactory(organization=event.organization, name="Silk scarf")

    with django_capture_on_commit_callbacks(execute=True):
        services.set_lineup(event=event, products=[event.lineup.get().product, scarf], by=host)

    assert "Silk scarf" in client.get(watch_url(event)).content.decode()
    assert [card["name"] for card in client.get(details_url(event)).json()["lineup"]][-1] == "Silk scarf"


def test_a_status_change_is_on_the_next_load(client, event, host, django_capture_on_commit_callbacks):
    assert client.get(watch_url(event)).status_code == 200
    assert client.get(details_url(event)).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_event(event=event, by=host)

    assert client.get(watch_url(event)).status_code == 404
    assert client.get(details_url(event)).status_code == 404


def test_another_process_change_is_seen_once_the_local_copy_is_checked(client, event, monkeypatch):
    """Another process's change bumps the version in Redis; this process notices it at the next
    check (after LOCAL_TTL, here at once) and builds again."""
    monkeypatch.setattr(page_cache, "LOCAL_TTL", 0)
    product = event.lineup.get().product
    assert product.name in client.get(watch_url(event)).content.decode()

    type(product).objects.filter(pk=product.pk).update(name="Coral lipstick")
    page_cache.cache.set(page_cache._version_key(event.pk), page_cache.version(event.pk) + 1, timeout=None)

    assert "Coral lipstick" in client.get(watch_url(event)).content.decode()


def test_signed_in_viewers_get_their_own_page_never_shared(client, event, host):
    anonymous = client.get(watch_url(event))
    client.force_login(host)

    signed_in = client.get(watch_url(event))
    details = client.get(details_url(event))

    assert host.username in signed_in.content.decode()
    for response in (signed_in, details):
        assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    client.logout()
    again = client.get(watch_url(event))
    assert host.username not in again.content.decode()
    assert again.content == anonymous.content


def test_a_request_with_flash_messages_is_not_served_the_shared_page(client, event):
    client.get(watch_url(event))
    client.cookies["messages"] = "something-waiting"

    response = client.get(watch_url(event))

    assert "private" in response["Cache-Control"]


def test_a_private_event_is_never_kept(client, event, host, video):
    type(event).objects.filter(pk=event.pk).update(is_private=True)
    client.force_login(host)

    response = client.get(watch_url(event))

    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert page_cache.MARK not in response
    assert not page_cache._entries


# The ASGI layer (liveshop.asgi wraps Django's HTTP app in SharedResponses) ----------------------


async def asgi_get(app, path: str, *headers: tuple[bytes, bytes]) -> tuple[int, dict, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent, requests = [], [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


class CountingApp:
    """Django's real ASGI app, counting the requests that reach it."""

    def __init__(self):
        self.app, self.calls = get_asgi_application(), 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await self.app(scope, receive, send)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_shared_responses_answers_repeats_from_memory_until_a_change(event, host):
    django = CountingApp()
    app = page_cache.SharedResponses(django)
    url = await database_sync_to_async(watch_url)(event)

    status, headers, body = await asgi_get(app, url)
    again = await asgi_get(app, url)

    assert status == 200 and django.calls == 1
    assert again == (status, headers, body)  # every header Django's middleware added, too
    assert page_cache.MARK.lower() not in headers
    assert "s-maxage" in headers["cache-control"] and "content-security-policy" in headers

    await asgi_get(app, url, (b"cookie", b"sessionid=someone"))
    await asgi_get(app, url, (b"authorization", b"Basic c29tZW9uZTpzZWNyZXQ="))
    assert django.calls == 3  # a request that may name someone always reaches Django
    await asgi_get(app, url, (b"accept", b"text/html"))
    assert django.calls == 4  # nor is a request answered as another was negotiated

    product = await database_sync_to_async(lambda: event.lineup.get().product)()
    await database_sync_to_async(services.feature_product)(event=event, product=product, by=host)
    status, _, body = await asgi_get(app, url)

    assert django.calls == 5
    assert config_of(body)["currentHighlight"]["product"]["id"] == product.pk


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_stale_answer_is_refreshed_by_one_request_while_the_others_wait(event):
    django = CountingApp()
    app = page_cache.SharedResponses(django)
    url = await database_sync_to_async(watch_url)(event)
    first = await asgi_get(app, url)
    for entries in (page_cache._entries, page_cache._responses):  # both copies past LOCAL_TTL
        for key, kept in entries.items():
            entry = kept[0] if isinstance(kept, tuple) else kept
            aged = replace(entry, checked=entry.checked - 2 * page_cache.LOCAL_TTL)
            entries[key] = (aged, *kept[1:]) if isinstance(kept, tuple) else aged

    answers = await asyncio.gather(*(asgi_get(app, url) for _ in range(8)))

    assert django.calls == 2  # the first load, then one refresh for all eight
    assert all(answer == first for answer in answers)
