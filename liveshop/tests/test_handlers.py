"""Django's HTTP side under ASGI: the middleware chain and the view run in one thread hop."""

import asyncio
import threading

import pytest
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from liveshop import asgi
from liveshop.handlers import OneHopASGIHandler

seen: list[tuple[str, int]] = []


class RecordingMiddleware:
    """A sync middleware: notes the thread its request and response halves run on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        seen.append(("request", threading.get_ident()))
        response = self.get_response(request)
        seen.append(("response", threading.get_ident()))
        return response


def view(request):
    seen.append(("view", threading.get_ident()))
    return HttpResponse(b"ok")


urlpatterns = [path("hop/", view)]


async def _get(app, path_):
    sent, requests = [], [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # no disconnect: the handler cancels this once it answers

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "method": "GET",
        "path": path_,
        "raw_path": path_.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return sent


def test_the_asgi_application_serves_http_through_the_one_hop_handler():
    assert isinstance(asgi.django_asgi_app, OneHopASGIHandler)
    assert not asyncio.iscoroutinefunction(asgi.django_asgi_app._middleware_chain)


@pytest.mark.asyncio
@override_settings(
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[f"{__name__}.RecordingMiddleware", "django.middleware.common.CommonMiddleware"],
)
async def test_middleware_and_view_run_on_one_thread_off_the_event_loop():
    seen.clear()
    sent = await _get(OneHopASGIHandler(), "/hop/")

    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"ok"
    assert [step for step, _ in seen] == ["request", "view", "response"]
    threads = {thread for _, thread in seen}
    assert len(threads) == 1 and threading.get_ident() not in threads


inside = {"now": 0, "most": 0}
release = threading.Event()
lock = threading.Lock()


def slow_view(request):
    with lock:
        inside["now"] += 1
        inside["most"] = max(inside["most"], inside["now"])
    try:
        release.wait(timeout=30)
    finally:
        with lock:
            inside["now"] -= 1
    return HttpResponse(b"ok")


urlpatterns.append(path("slow/", slow_view))


async def _until(condition, timeout: float = 10):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
@override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], LIVESHOP_MAX_CONCURRENT_REQUESTS=2)
async def test_a_burst_queues_on_the_event_loop_with_at_most_the_limit_inside_django():
    inside.update(now=0, most=0)
    release.clear()
    app = OneHopASGIHandler()
    requests = [asyncio.create_task(_get(app, "/slow/")) for _ in range(6)]
    await _until(lambda: inside["now"] == 2)
    await asyncio.sleep(0.2)  # a third would have entered by now, were it let in
    assert inside["most"] == 2
    release.set()
    answers = await asyncio.gather(*requests)
    assert [sent[0]["status"] for sent in answers] == [200] * 6
    assert inside["most"] == 2


@pytest.mark.asyncio
@override_settings(
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    LIVESHOP_MAX_CONCURRENT_REQUESTS=1,
    LIVESHOP_REQUEST_QUEUE_TIMEOUT=0.3,
)
async def test_a_request_that_waits_its_whole_turn_is_told_to_retry():
    inside.update(now=0, most=0)
    release.clear()
    app = OneHopASGIHandler()
    first = asyncio.create_task(_get(app, "/slow/"))
    await _until(lambda: inside["now"] == 1)
    sent = await _get(app, "/slow/")
    release.set()
    assert (await first)[0]["status"] == 200
    assert sent[0]["status"] == 503
    headers = {name.lower(): value for name, value in sent[0]["headers"]}
    assert headers[b"retry-after"] == b"2" and b"busy" in sent[1]["body"]
