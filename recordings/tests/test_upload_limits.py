"""Limits a brand hears about before waiting: an upload over the size limit is refused from its
Content-Length before a byte of its body is read (413 with the reason), and a video longer than
LIVESHOP_UPLOAD_MAX_DURATION_SECONDS with both lengths (its transcode would not fit its time limit)."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.db import close_old_connections

from recordings.exceptions import InvalidUpload
from recordings.models import Recording
from recordings.services import uploads
from recordings.tests.upload_media import files_in, upload

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def post_through_asgi(
    client, path: str, *, size: int | None, accept: str, chunks: int = 16, method: str = "POST", headers=()
):
    """POST (or ``method``) ``path`` through the project's ASGI application (as uvicorn does) with
    a body that claims ``size`` bytes (None: no Content-Length, a chunked body); returns (status,
    headers, body, body chunks the application read)."""
    from liveshop.asgi import django_asgi_app

    read, sent = [0], []

    async def receive():
        if read[0] == chunks:  # the whole body sent: the client waits for the answer
            await asyncio.Future()
        read[0] += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": read[0] < chunks}

    async def send(message):
        sent.append(message)

    cookies = "; ".join(f"{name}={cookie.value}" for name, cookie in client.cookies.items())
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            *([(b"content-length", str(size).encode())] if size is not None else []),
            (b"content-type", b"multipart/form-data; boundary=liveshop"),
            (b"cookie", cookies.encode()),
            (b"accept", accept.encode()),
            *headers,
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


# Duration --------------------------------------------------------------------------------------


def test_a_video_longer_than_the_limit_is_refused_with_both_lengths(
    host_client, brand, on_disk, sample_video, settings
):
    settings.LIVESHOP_UPLOAD_MAX_DURATION_SECONDS = 3
    response = upload(host_client, brand, name="long.mp4", content=sample_video.read_bytes())

    assert response.status_code == 400
    (message,) = response.context["form"].errors["file"]
    assert message.startswith("This video is 4 s long; videos may be at most 3 s. Trim it")
    assert Recording.objects.count() == 0 and files_in(on_disk[0]) == []


def test_the_duration_limit_allows_half_a_second_of_container_rounding(settings, sample_video):
    # A "30-minute" file is 1800.02 s to ffprobe: refusing it read "30 min long; at most 30 min".
    assert uploads.probe_video(sample_video).duration == 4.0
    settings.LIVESHOP_UPLOAD_MAX_DURATION_SECONDS = 3.6  # 0.4 s short: accepted, as by the page
    uploads.probe_video(sample_video)
    settings.LIVESHOP_UPLOAD_MAX_DURATION_SECONDS = 3.4
    with pytest.raises(InvalidUpload, match=r"This video is 4 s long; videos may be at most 3 s\."):
        uploads.probe_video(sample_video)


def test_the_upload_form_says_the_limits_and_gives_them_to_the_page(host_client, brand, settings):
    settings.LIVESHOP_UPLOAD_MAX_DURATION_SECONDS = 90 * 60
    page = host_client.get(f"/studio/videos/new/?brand={brand.slug}").content.decode()
    assert "up to 2 GB and 1 h 30 min long" in page
    assert 'data-max-seconds="5400"' in page and 'data-max-bytes="2147483648"' in page


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(12, "12 s"), (90, "1 min 30 s"), (3600, "1 h"), (3 * 3600 + 5 * 60 + 9, "3 h 5 min"), (0.2, "0 s")],
)
def test_human_duration(seconds, text):
    assert uploads.human_duration(seconds) == text
