"""The beacon endpoint's fast path, in front of Django on the ASGI server: the players' beacons
arrive every 15 s from every viewer, to the same processes that hold the viewers' sockets, so
they must cost next to nothing there. An anonymous viewer's beacon that already carries its
signed viewer cookie (every beacon but a browser's first) is answered here, on the event loop:
no middleware chain, no thread, one Redis round trip (redis.asyncio, the same Lua step as
analytics.buffer). Everything else (a signed-in viewer, no cookie yet, no Redis) goes on to
Django's BeaconView, which answers the same way."""

from __future__ import annotations

import asyncio
import json
import time
from http.cookies import CookieError, SimpleCookie

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing
from django.core.exceptions import SynchronousOnlyOperation
from django.db import close_old_connections
from django.urls import reverse

from analytics import buffer, ingest
from analytics.exceptions import BeaconRejected
from liveshop import viewer_id

SESSION_COOKIE = settings.SESSION_COOKIE_NAME


class BeaconFastPath:
    def __init__(self, inner):
        self.inner = inner
        self.path = None

    async def __call__(self, scope, receive, send):
        if self.path is None:
            self.path = reverse("analytics:beacon")
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] != "POST"
            or not settings.REDIS_URL
        ):
            return await self.inner(scope, receive, send)
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        cookies = _cookies(headers.get("cookie", ""))
        if SESSION_COOKIE in cookies or viewer_id.COOKIE not in cookies:
            return await self.inner(scope, receive, send)  # Django: the session's user, or a new cookie
        status, answer = await handle(scope, headers, cookies, receive)
        body = json.dumps(answer).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})


def _cookies(header: str) -> dict[str, str]:
    try:
        parsed = SimpleCookie()
        parsed.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in parsed.items()}


async def _body(receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > ingest.MAX_BODY_BYTES:
            return b"x" * (ingest.MAX_BODY_BYTES + 1)  # parse_body refuses it with the reason
        if not message.get("more_body"):
            return b"".join(chunks)


def _same_origin(scope, headers: dict[str, str]) -> bool:
    origin = headers.get("origin")
    if origin:
        scheme = "https" if scope.get("scheme") == "https" else "http"
        return origin == f"{scheme}://{headers.get('host', '')}"
    return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


async def handle(scope, headers: dict[str, str], cookies: dict[str, str], receive) -> tuple[int, dict]:
    if not _same_origin(scope, headers):
        return 403, {"error": "Beacons come from our own pages."}
    body = await _body(receive)
    if body is None:
        return 400, {"error": "The batch did not arrive."}
    try:
        payload = ingest.parse_body(body)
        known = signing.get_cookie_signer(salt=viewer_id.COOKIE + viewer_id.SALT).unsign(
            cookies[viewer_id.COOKIE], max_age=viewer_id.MAX_AGE
        )
    except BeaconRejected as error:
        return 400, {"error": str(error)}
    except signing.BadSignature:
        return 400, {"error": "The viewer id is not one of ours."}
    from django.contrib.auth.models import AnonymousUser

    viewer = ingest.Viewer(f"id:{known}", AnonymousUser())
    try:
        prepared = await _prepare(payload, viewer)
        outcome = await _submit(prepared)
    except BeaconRejected as error:
        return 400, {"error": str(error)}
    return 200, {"stored": outcome.stored, "dropped": dict(outcome.dropped)}


async def _prepare(payload: dict, viewer: ingest.Viewer) -> ingest.Prepared:
    """On the event loop when no query is needed (a public show described lately, heartbeat
    only); in Django's thread otherwise (the ORM refuses the loop, and nothing was written)."""
    try:
        return ingest.prepare(payload=payload, viewer=viewer)
    except SynchronousOnlyOperation:
        return await sync_to_async(_prepare_in_thread)(payload, viewer)


def _prepare_in_thread(payload: dict, viewer: ingest.Viewer) -> ingest.Prepared:
    try:
        return ingest.prepare(payload=payload, viewer=viewer)
    finally:
        close_old_connections()  # as Django's handler does at the end of a request


async def _submit(prepared: ingest.Prepared) -> ingest.Outcome:
    redis = _redis()
    if prepared.drops:
        await redis.client.rpush(buffer.BUFFER, *prepared.drops)
    if prepared.rejected:
        raise BeaconRejected(prepared.rejected)
    status = ""
    if prepared.submission:
        result = await redis.script(keys=_keys(prepared.submission), args=_args(prepared.submission))
        status = result.decode() if isinstance(result, bytes) else result
    if _flush_due():
        await sync_to_async(ingest.schedule_flush, thread_sensitive=False)()
    return ingest.finish(prepared, status)


def _keys(submission: buffer.Submission) -> list[str]:
    hb = submission.heartbeat
    return [buffer.PREFIX + submission.seen_key, buffer.PREFIX + (hb.key if hb else "none"), buffer.BUFFER]


def _args(submission: buffer.Submission) -> list:
    hb = submission.heartbeat
    return [
        submission.seen_ttl,
        *(hb.args() if hb else ["", "", "", "", "", "", ""]),
        submission.duplicate_record,
        *submission.records,
    ]


_flush_checked_at = -1e9


def _flush_due() -> bool:
    """This process asks for a flush at most once per interval (ingest.schedule_flush)."""
    global _flush_checked_at
    if time.monotonic() - _flush_checked_at < settings.ANALYTICS_FLUSH_SECONDS:
        return False
    _flush_checked_at = time.monotonic()
    return True


class _AsyncRedis:
    def __init__(self, url: str):
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self.script = self.client.register_script(buffer._SUBMIT)


_clients: dict[int, _AsyncRedis] = {}


def _redis() -> _AsyncRedis:
    """One client per event loop (an asyncio connection belongs to the loop that made it)."""
    loop = id(asyncio.get_running_loop())
    if loop not in _clients:
        _clients.clear()  # a server has one loop; tests make a new one per test
        _clients[loop] = _AsyncRedis(settings.REDIS_URL)
    return _clients[loop]
