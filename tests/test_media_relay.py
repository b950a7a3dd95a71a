"""The relay between the run's shared media server and the test running now (tests/media.py,
CallbackRelay): nginx's callback URLs are fixed when it starts, each test's Django server is not.
No nginx here: the relay is called as nginx's callback proxy calls it."""

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests import media


@pytest.fixture
def target():
    """An HTTP server that records each request and answers on_publish with a redirect."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers.get("X-Liveshop-Media-Secret"), body))
            self.send_response(302)
            self.send_header("Location", "rtmp://127.0.0.1/show/ch_1")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def relay():
    relay = media.CallbackRelay()
    yield relay
    relay.close()


def post(relay, path: str, body: bytes = b"call=publish&name=sk_x") -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", int(relay.url.rsplit(":", 1)[1]), timeout=10)
    try:
        connection.request("POST", path, body=body, headers={"X-Liveshop-Media-Secret": "s3cret"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_a_callback_reaches_the_current_tests_server_as_it_was_sent_and_its_answer_comes_back(relay, target):
    url, seen = target
    server = media.MediaServer(None, 0, 0, None, None, relay)

    with server.calling_back(url):
        status, headers, body = post(relay, "/hooks/media/on_publish?rtmp_port=1935")

    assert (status, headers["Location"], body) == (302, "rtmp://127.0.0.1/show/ch_1", b"ok")
    assert seen == [("/hooks/media/on_publish?rtmp_port=1935", "s3cret", b"call=publish&name=sk_x")]


def test_between_tests_a_publish_is_refused_and_a_server_reset_is_swallowed(relay, target):
    url, seen = target
    server = media.MediaServer(None, 0, 0, None, None, relay)
    with server.calling_back(url):
        pass

    assert post(relay, "/hooks/media/on_publish?rtmp_port=1935")[0] == 403
    assert post(relay, "/hooks/media/on_record_done?rtmp_port=1935")[0] == 403
    # Answered, so the supervisor does not retry it into a later test (which would end its shows).
    assert post(relay, "/hooks/media/on_server_reset", b"call=server_reset&at=1")[0] == 204
    assert seen == []


def test_a_test_server_not_up_yet_is_a_bad_gateway(relay):
    server = media.MediaServer(None, 0, 0, None, None, relay)
    with server.calling_back(f"http://127.0.0.1:{media.free_port()}"):
        assert post(relay, "/hooks/media/on_publish")[0] == 502
