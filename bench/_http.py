"""A small keep-alive HTTP/1.1 client for the benchmarks: one connection per simulated browser,
asyncio streams and httptools' C parser (uvicorn's dependency; the venv has neither httpx nor
aiohttp), so a 1,000-buyer load costs the load client little CPU next to the server it measures.

``Browser`` plays a viewer's tab behind the TLS-ending load balancer: ``X-Forwarded-Proto: https``
(production settings redirect plain HTTP and mark cookies Secure, so the cookies are kept here by
name rather than by a cookie jar that would refuse them over http), an ``Origin`` of the site,
and Django's CSRF pair: a ``csrftoken`` cookie and the same value in ``X-CSRFToken``, as the page's
script sends the cookie the site set (any well-formed token works: Django compares the two).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import time

import httptools

_TOKEN_CHARS = string.ascii_letters + string.digits


class HTTPError(Exception):
    """The connection failed or closed before a whole response arrived."""


class _Response:
    __slots__ = ("body", "cookies", "done", "headers", "status")

    def __init__(self):
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.cookies: dict[str, str] = {}
        self.body = bytearray()
        self.done = False

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"set-cookie":
            pair = value.split(b";", 1)[0].decode("latin-1")
            key, _, val = pair.partition("=")
            self.cookies[key.strip()] = val.strip()
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


class Browser:
    """One viewer's tab: a keep-alive connection (reopened if the server closes it) and cookies."""

    def __init__(self, port: int, *, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.authority = f"{host}:{port}"
        self.origin = f"https://{self.authority}"
        self.csrf = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(32))
        self.cookies: dict[str, str] = {"csrftoken": self.csrf}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.connects = 0

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self.connects += 1

    def forget_session(self) -> None:
        """A new visitor in the same tab: the session cookie (and so the cart) is dropped."""
        self.cookies.pop("sessionid", None)

    async def request(self, method: str, path: str, data=None) -> tuple[int, dict | bytes, float]:
        """(status, JSON body or raw bytes, seconds from send to the whole response)."""
        body = b"" if data is None else json.dumps(data).encode()
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.authority}",
            "Accept: application/json",
            "X-Forwarded-Proto: https",
            f"Cookie: {'; '.join(f'{k}={v}' for k, v in self.cookies.items())}",
        ]
        if method != "GET":
            head += [
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                f"Origin: {self.origin}",
                f"X-CSRFToken: {self.csrf}",
            ]
        payload = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        if self._writer is None or self._writer.is_closing():
            await self.connect()
        started = time.monotonic()
        response = _Response()
        parser = httptools.HttpResponseParser(response)
        try:
            self._writer.write(payload)
            while not response.done:
                chunk = await self._reader.read(65536)
                if not chunk:
                    raise HTTPError("the server closed the connection")
                parser.feed_data(chunk)
        except (OSError, httptools.HttpParserError, HTTPError) as exc:
            self.close()
            raise HTTPError(f"{method} {path}: {exc!r}") from exc
        elapsed = time.monotonic() - started
        response.status = parser.get_status_code()
        if not parser.should_keep_alive():
            self.close()
        self.cookies.update(response.cookies)
        try:
            parsed = json.loads(response.body)
        except ValueError:
            parsed = bytes(response.body)
        return response.status, parsed, elapsed

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
