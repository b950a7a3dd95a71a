"""Limits a brand hears about before waiting: an upload over the size limit is refused from its
Content-Length before a byte of its body is read (413 with the reason)."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core import signals
from django.db import close_old_connections

from recordings.models import Recording
from recordings.tests.upload_media import files_in

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def post_through_asgi(client, path: str, *, size: int, accept: str, chunks: int = 16):
    """POST ``path`` through the project's ASGI application (as uvicorn does) with a body that
    claims ``size`` bytes; returns (status, headers, body, body chunks the application read)."""
    from liveshop.asgi import django_asgi_app

    read, sent = [0], []

    async def receive():
        if read[0] == chunks:  # the whole body sent: the client waits for the answer
            await asyncio.Future()
        read[0] += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": read[0] < chunks}

    async def send(message):
        sent.append(message)

    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            (b"content-length", str(size).encode()),
            (b"content-type", b"multipart/form-data; boundary=liveshop"),
            (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode()),
            (b"accept", accept.encode()),
        ],
    }  # fmt: skip
    # As Django's test client does: the request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(django_asgi_app)(scope, receive, send)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body.decode(), read[0]


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_an_upload_over_the_limit_is_refused_before_its_body_is_read(
    host_client, brand, on_disk, settings, accept
):
    settings.LIVESHOP_MAX_UPLOAD_BYTES = 10 * MB
    status, _, body, read = post_through_asgi(
        host_client, f"/studio/videos/new/?brand={brand.slug}", size=234 * MB, accept=accept
    )

    assert (status, read) == (413, 0)  # not one chunk of the body was asked for
    reason = "This upload is 234 MB; videos may be at most 10 MB."
    if accept == "application/json":
        assert json.loads(body)["errors"]["__all__"][0]["message"] == reason
    else:
        assert reason in body and 'class="event-form upload-form' in body  # the form, with the reason
    assert Recording.objects.count() == 0 and files_in(on_disk[0]) == []


def test_a_replacement_over_the_limit_is_refused_before_its_body_is_read(host_client, brand, settings):
    settings.LIVESHOP_MAX_UPLOAD_BYTES = 10 * MB
    video = Recording.objects.create(
        organization=brand, backend="upload", title="Clip", slug="clip", status="ready"
    )
    status, _, body, read = post_through_asgi(
        host_client, f"/studio/videos/{video.pk}/replace/", size=50 * MB, accept="application/json"
    )
    assert (status, read) == (413, 0)
    assert "videos may be at most 10 MB" in body


def test_a_body_within_the_limit_is_read_as_before(host_client, brand, settings):
    settings.LIVESHOP_MAX_UPLOAD_BYTES = 10 * MB
    _, _, _, read = post_through_asgi(
        host_client, f"/studio/videos/new/?brand={brand.slug}", size=16 * 65536, accept="application/json"
    )
    assert read == 16
