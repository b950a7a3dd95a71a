"""Anonymous viewers' event page and stream_details JSON, built once per event and shared.

Every anonymous viewer of a public event gets the same bytes, so a burst of page loads (a show
announced by a push notification) costs one build per event, not one per viewer:

- ``SharedResponses`` (liveshop.asgi wraps Django's HTTP app in it) answers a repeat of a request
  it has seen answered as shareable straight from memory: no thread hop, no middleware, no I/O.
  It keeps the whole response Django sent (status, every header the middleware added, the body)
  for up to LOCAL_TTL seconds, and drops it at once when this process hears of a change;
- past that, the request goes to the view, which asks Redis for the event's version (one GET)
  and reuses the response stored there under it (``serve``): one process builds, the others reuse
  it for up to SHARED_TTL seconds;
- the version is bumped when a change to the event is published (events.realtime.publishing calls
  ``changed_topic`` for every ``event-<id>`` message: feature/clear, status, lineup), which also
  drops this process's copies through events.snapshot_cache's generation, the counter the hub
  bumps in every process that follows the event. A change that publishes nothing (a product's
  price edited in the admin) is seen within SHARED_TTL.

Shared responses say ``Cache-Control: public, max-age=0, s-maxage=S_MAXAGE`` so a CDN may keep
them too. Only requests that name nobody (no session or messages cookie, no Authorization header)
are served from or stored in the cache, and only responses that set no cookie; a private event's
responses are never stored (they carry a signed playback URL). Everyone else gets a response
built for them and marked ``private``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, replace

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers

from events import snapshot_cache
from events.http_cache import no_store_if_private

logger = logging.getLogger(__name__)

LOCAL_TTL = 1.0  # seconds: how long another process's change can go unseen here
VERSION_TTL = 7 * 24 * 3600  # seconds: an event's version outlives any kept copy by far
SHARED_TTL = 10  # seconds: the longest a change that publishes nothing can go unseen
S_MAXAGE = 5  # seconds a CDN may serve a shared response without asking again
REFRESH_WAIT = 5.0  # seconds a request waits for another's refresh before asking Django itself
MAX_ENTRIES = 10_000  # SharedResponses starts again rather than grow past this many (events x hosts)
KEPT_HEADERS = ("Content-Type", "Content-Language")
# Set by the view on a shareable response, read and removed by SharedResponses: "<event id>
# <version> <generation> <built> <checked>" (never reaches a client through it).
MARK = "X-Liveshop-Shared"
MARK_NAME = MARK.lower().encode()


@dataclass(frozen=True)
class Entry:
    event_id: int
    version: int
    generation: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    built: float  # monotonic time it was built (kept SHARED_TTL at most, whatever the version)
    checked: float  # monotonic time the version was last confirmed

    def fresh(self, now: float) -> bool:
        """Unchanged here since it was checked, checked within LOCAL_TTL, built within SHARED_TTL."""
        return (
            self.generation == snapshot_cache.generation(self.event_id)
            and now - self.checked <= LOCAL_TTL
            and now - self.built <= SHARED_TTL
        )


_lock = threading.Lock()
_entries: dict[tuple, Entry] = {}  # the views' copies, by key_of
_responses: dict[tuple, tuple[Entry, int, list]] = {}  # SharedResponses' (entry, status, headers)


# The view's side ------------------------------------------------------------------------------


def is_shareable(request: HttpRequest) -> bool:
    """A GET that names nobody (no session cookie, no Authorization header) and has no flash
    messages waiting: its answer is the same for everyone."""
    return (
        request.method == "GET"
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
        and "Authorization" not in request.headers
    )


def key_of(kind: str, request: HttpRequest, *parts) -> tuple:
    """The cache key of a shared response: what it is, its URL parts, the site it names (pages
    hold absolute URLs built from the request's scheme and host) and the language it is in
    (LocaleMiddleware's choice: the language cookie, else Accept-Language)."""
    return (kind, request.scheme, request.get_host(), translation.get_language(), *parts)


def serve(request: HttpRequest, key: tuple, *, find_event, build) -> HttpResponse:
    """The response to ``request``: the shared one when the request is shareable and one is kept,
    else ``build(event)`` for ``find_event()``'s event, kept for the next anonymous viewer when it
    may be shared, and marked ``private`` (a private event's ``no-store``) when it may not."""
    if not is_shareable(request):
        event = find_event()
        return private(no_store_if_private(build(event), event))
    if (hit := _get(key)) is not None:
        return _response(hit)
    # The version is read before the event: a change committed meanwhile leaves this response
    # kept under the old version (replaced at the next check), never under the new one.
    event, marks = _find_with_marks(key, find_event)
    if event.is_private:
        return private(no_store_if_private(build(event), event))
    return _put(key, event, build(event), **marks)


def _find_with_marks(key: tuple, find_event):
    """The event, with its version and generation as they were before it was read (the event
    id is known from this process's last copy; the first build reads it twice)."""
    known = _entries.get(key)
    known_id = find_event().pk if known is None else known.event_id
    marks = {"version": version(known_id), "generation": snapshot_cache.generation(known_id)}
    event = find_event()
    if event.pk != known_id:  # another event took the address: no marks of its own were read
        marks["version"] = -1
    return event, marks


def private(response: HttpResponse) -> HttpResponse:
    """A response built for one requester: no shared cache may keep it."""
    patch_cache_control(response, private=True)
    patch_vary_headers(response, ("Cookie",))
    return response


def version(event_id: int) -> int:
    """The event's current version: a number no earlier copy of this event's responses was kept
    under (it starts from the clock, so a version key that expired, or an id reused in a test
    database, never revives an old copy); -1 when Redis cannot answer, and then nothing is kept
    beyond this process's LOCAL_TTL."""
    key = _version_key(event_id)
    try:
        current = cache.get(key)
        if current is None:
            cache.add(key, time.time_ns(), timeout=VERSION_TTL)
            current = cache.get(key, -1)
        return current
    except Exception:  # the cache is an optimisation: without Redis, build every LOCAL_TTL
        logger.warning("Page cache version unreadable", extra={"event_id": event_id}, exc_info=True)
        return -1


# Invalidation ---------------------------------------------------------------------------------


def changed(event_id: int) -> None:
    """The event changed (called after commit): bump its version for every process, and drop
    this process's responses of it now (and its socket snapshot: the same generation)."""
    try:
        cache.incr(_version_key(event_id))
    except ValueError:  # no version yet: nothing was kept under one
        pass
    except Exception:
        logger.warning("Page cache version not bumped", extra={"event_id": event_id}, exc_info=True)
    snapshot_cache.invalidate(event_id)


def changed_topic(topic: str) -> None:
    """For a published message: the event it is about (``event-<id>``) changed."""
    if topic.startswith("event-"):
        changed(int(topic.removeprefix("event-")))


def clear() -> None:
    """Forget every kept response in this process (with snapshot_cache.clear(), whose
    generations restart from zero)."""
    with _lock:
        _entries.clear()
        _responses.clear()


def _version_key(event_id: int) -> str:
    return f"liveshop:page-version:{event_id}"


def _shared_key(key: tuple, event_id: int, version_: int) -> str:
    return "liveshop:page:" + ":".join(str(part) for part in (*key, event_id, version_))


def _get(key: tuple) -> Entry | None:
    """The view's shared copy for ``key``: this process's while fresh, else the one Redis holds
    for the event's current version."""
    entry = _entries.get(key)
    now = time.monotonic()
    if entry is None or entry.generation != snapshot_cache.generation(entry.event_id):
        return None
    if entry.fresh(now):
        return entry
    if now - entry.built > SHARED_TTL:
        return None
    current = version(entry.event_id)
    if current < 0:
        return None
    if current != entry.version:
        entry = _load_shared(key, entry.event_id, current, entry.generation)
        if entry is None:
            return None
    entry = replace(entry, checked=time.monotonic())
    with _lock:
        _entries[key] = entry
    return entry


def _put(key: tuple, event, response: HttpResponse, *, version: int, generation: int) -> HttpResponse:
    """Keep ``response`` (built for an anonymous viewer) under the event's ``version`` read
    before it was built (so a response built across a change is never kept as the new one)."""
    if response.status_code != 200 or response.cookies:
        return private(response)
    now = time.monotonic()
    entry = Entry(
        event_id=event.pk,
        version=version,
        generation=generation,
        body=response.content,
        headers=tuple((name, response[name]) for name in KEPT_HEADERS if response.has_header(name)),
        built=now,
        checked=now,
    )
    with _lock:
        if snapshot_cache.generation(event.pk) == generation:
            _entries[key] = entry
    if version >= 0:
        try:
            stored = (entry.body, entry.headers, time.time())
            cache.set(_shared_key(key, event.pk, version), stored, timeout=SHARED_TTL)
        except Exception:
            logger.warning("Page not shared", extra={"event_id": event.pk}, exc_info=True)
    return _response(entry, response)


def _load_shared(key: tuple, event_id: int, version_: int, generation_: int) -> Entry | None:
    try:
        stored = cache.get(_shared_key(key, event_id, version_))
    except Exception:
        return None
    if stored is None:
        return None
    body, headers, built_at = stored
    now = time.monotonic()
    built = now - max(0.0, time.time() - built_at)  # its age counts, whoever built it
    return Entry(event_id, version_, generation_, body, tuple(headers), built=built, checked=now)


def _response(entry: Entry, response: HttpResponse | None = None) -> HttpResponse:
    if response is None:
        response = HttpResponse(entry.body)
        for name, value in entry.headers:
            response[name] = value
    patch_cache_control(response, public=True, max_age=0, s_maxage=S_MAXAGE)
    patch_vary_headers(response, ("Cookie",))
    response[MARK] = f"{entry.event_id} {entry.version} {entry.generation} {entry.built!r} {entry.checked!r}"
    return response


# The ASGI side --------------------------------------------------------------------------------


class SharedResponses:
    """ASGI middleware in front of Django's HTTP app: a GET that names nobody, repeating one
    Django answered as shareable (the view marked it), gets that answer again from memory while
    it is fresh (Entry.fresh). The key is everything about the request that the answer may
    depend on once cookies and credentials are ruled out: path, query string, scheme, Host,
    X-Forwarded-Proto, Accept and Accept-Language. Anything else goes to Django untouched."""

    NAMES_SOMEONE = (b"cookie", b"authorization")
    # The API negotiates on Accept (406); pages are in the browser's language (LocaleMiddleware).
    KEYED = (b"host", b"x-forwarded-proto", b"accept", b"accept-language")

    def __init__(self, app):
        self.app = app
        self.entries = _responses
        self.refreshing: dict[tuple, asyncio.Future] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        key = self._key(scope)
        if key is None:
            return await self.app(scope, receive, send)
        if await self._send_kept(key, send):
            return None
        if key not in self.entries or key in self.refreshing:
            return await self.app(scope, receive, self._recorder(key, send))
        # A kept answer went stale: one request asks Django again while the others wait for it
        # (a change must not send every viewer of the moment through Django at once).
        done = self.refreshing[key] = asyncio.get_running_loop().create_future()
        try:
            return await self.app(scope, receive, self._recorder(key, send))
        finally:
            del self.refreshing[key]
            kept = self.entries.get(key)
            if kept is not None and not kept[0].fresh(time.monotonic()):
                del self.entries[key]  # no longer shareable (cancelled, private): no more waiting
            done.set_result(None)

    async def _send_kept(self, key: tuple, send) -> bool:
        """Send the kept answer if it is fresh (after the refresh under way, if one is)."""
        if (pending := self.refreshing.get(key)) is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pending), REFRESH_WAIT)
        kept = self.entries.get(key)
        if kept is None or not kept[0].fresh(time.monotonic()):
            return False
        entry, status, headers = kept
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})
        return True

    def _key(self, scope) -> tuple | None:
        kept = dict.fromkeys(self.KEYED, b"")
        for name, value in scope["headers"]:
            if name in self.NAMES_SOMEONE:
                return None
            if name in kept:
                kept[name] = value
        return (scope["path"], scope["query_string"], scope.get("scheme"), *kept.values())

    def _recorder(self, key: tuple, send):
        """``send``, noting a marked response (and removing the mark) to keep it."""
        start: dict = {}
        body: list[bytes] = []

        async def record(message):
            if message["type"] == "http.response.start":
                mark = next((v for n, v in message["headers"] if n.lower() == MARK_NAME), None)
                if mark is not None:
                    headers = [(n, v) for n, v in message["headers"] if n.lower() != MARK_NAME]
                    message = {**message, "headers": headers}
                    start.update(message, mark=mark)
            elif message["type"] == "http.response.body" and start:
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._keep(key, start, b"".join(body))
            await send(message)

        return record

    def _keep(self, key: tuple, start: dict, body: bytes) -> None:
        if start["status"] != 200 or any(name == b"set-cookie" for name, _ in start["headers"]):
            return
        event_id, version_, generation_, built, checked = start["mark"].decode().split()
        entry = Entry(int(event_id), int(version_), int(generation_), body, (), float(built), float(checked))
        if len(self.entries) > MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (entry, start["status"], start["headers"])
