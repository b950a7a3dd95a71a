"""Where an order's web CPU goes: orders one after another through the ASGI application in this
process (no socket, no uvicorn), on bench/checkout.py's production settings, scratch database and
seed; the CPU of each request and of the steps inside it.

    .venv/bin/python bench/checkout_inprocess.py                 # 200 orders, pinned to core 0
    .venv/bin/python bench/checkout_inprocess.py --orders 150 --profile   # + cProfile (CPU clock)

One buyer tab at a time (four tabs, round robin, each with its session cookie and CSRF pair as
bench/_http.py sends them) adds the hot variant on the live show, checks out and pays with the
test card: the same three requests as checkout.py's throughput mode, through
``liveshop.asgi.application`` (the page cache and beacon wrappers, the one-hop handler, the thread
it runs Django on, middleware, views). Sequential, so the process's CPU time during a request is
that request's (no other request's share) and nothing queues; the rate is not the server's.

Printed per order: the process's CPU (all threads) and the split by thread (the event loop's,
the stock pusher's; the per-request threads are what is left), then the steps, as CPU time of
the thread that ran them (nested steps are inside their parents): Django's chain (middleware and
view), the session read, the services, the answers' payloads, Celery publishes, the ORM's SQL
compilation and the cursor calls (CPU only: a thread waiting for PostgreSQL spends none). Each
order makes one stock change: at checkout.py's rates the pusher coalesces them to one frame per
product and 250 ms, here (a few orders/s) each order's frame is pushed, so its thread's share is
an upper bound. Last, the floor: as many GET /healthz/ (the same stack and middleware, one
pooled connection, ``SELECT 1``, a small JSON answer), the cheapest request Django serves here.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
import checkout

CPU_TOTALS: collections.defaultdict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter = collections.Counter()
_local = threading.local()


def _span(owner, attribute: str, name: str, *, outermost: bool = False) -> None:
    """Add the thread CPU time of ``owner.attribute``'s calls to CPU_TOTALS[name] (``outermost``:
    a call inside another call of the same span is not counted twice)."""
    function = getattr(owner, attribute)

    @functools.wraps(function)
    def timed(*args, **kwargs):
        depth = getattr(_local, name, 0)
        setattr(_local, name, depth + 1)
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            setattr(_local, name, depth)
            if not (outermost and depth):
                CPU_TOTALS[name] += time.thread_time() - started
                CALLS[name] += 1

    setattr(owner, attribute, timed)


STEPS = [
    ("Django's chain (middleware + view)", "chain"),
    ("  session read (the cart's id; DB sessions)", "session"),
    ("  services.add_to_cart", "add_to_cart"),
    ("  services.start_checkout", "start_checkout"),
    ("  services.apply_payment_delivery (pay)", "apply_payment"),
    ("  views._attribution (the show, may_watch)", "attribution"),
    ("  payloads (cart, order)", "payloads"),
    ("  Celery publishes (after commit)", "celery"),
    ("  ORM: compiling SQL (all of the above)", "compile"),
    ("  cursor.execute (CPU: psycopg, not the wait)", "execute"),
]


def install_spans() -> None:
    from celery.app.task import Task
    from django.contrib.sessions.backends import db as session_db
    from django.core.handlers.base import BaseHandler
    from django.db.backends.utils import CursorWrapper
    from django.db.models.sql import compiler

    from commerce import services, views

    _span(BaseHandler, "get_response", "chain")
    _span(session_db.SessionStore, "load", "session")
    _span(services, "add_to_cart", "add_to_cart")
    _span(services, "start_checkout", "start_checkout")
    _span(services, "apply_payment_delivery", "apply_payment")
    _span(views, "_attribution", "attribution")
    _span(views, "cart_payload", "payloads")
    _span(views, "order_payload", "payloads")
    _span(Task, "apply_async", "celery", outermost=True)
    _span(CursorWrapper, "execute", "execute")
    for kind in ("SQLCompiler", "SQLInsertCompiler", "SQLUpdateCompiler", "SQLDeleteCompiler"):
        cls = getattr(compiler, kind)
        if "as_sql" in cls.__dict__:
            _span(cls, "as_sql", "compile", outermost=True)


class Tab:
    """One buyer's tab: cookies and the CSRF pair, requests as ASGI calls."""

    def __init__(self, application):
        self.application = application
        self.csrf = secrets.token_hex(16)
        self.cookies = {"csrftoken": self.csrf}
        self.loop_cpu = 0.0  # the event loop thread's CPU inside the application

    async def post(self, path: str, data: dict) -> tuple[int, dict]:
        return await self.request("POST", path, data)

    async def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, dict]:
        body = b"" if data is None else json.dumps(data).encode()
        headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"accept", b"application/json"),
            (b"x-forwarded-proto", b"https"),
            (b"cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()).encode()),
        ]
        if method != "GET":
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"origin", b"https://127.0.0.1:8000"),
                (b"x-csrftoken", self.csrf.encode()),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Future()  # no disconnect: cancelled when the response has gone

        answer = {"body": b""}

        async def send(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for name, value in message["headers"]:
                    if name.lower() == b"set-cookie":
                        key, _, val = value.split(b";", 1)[0].decode().partition("=")
                        self.cookies[key] = val
            else:
                answer["body"] += message.get("body", b"")

        started = time.thread_time()
        await self.application(scope, receive, send)
        self.loop_cpu += time.thread_time() - started
        return answer["status"], json.loads(answer["body"] or b"null")


async def one_order(tab: Tab, shop: checkout.Shop, n: int, cpu: dict[str, list[float]]) -> None:
    t0 = time.process_time()
    status, _ = await tab.post(
        shop.add_path,
        {"variant_id": shop.ids["variants"]["hot"], "quantity": 1, "event_id": shop.ids["event"]},
    )
    t1 = time.process_time()
    if status != 201:
        raise RuntimeError(f"add answered {status}")
    status, order = await tab.post(
        shop.checkout_path, {"email": f"buyer{n}@bench.example", **checkout.ADDRESS}
    )
    t2 = time.process_time()
    if status != 201:
        raise RuntimeError(f"checkout answered {status}: {order}")
    data = {"client_secret": order["payment"]["clientSecret"], "card_number": checkout.SUCCEED_CARD}
    status, paid = await tab.post(f"/api/orders/{order['token']}/test-payment/", data)
    t3 = time.process_time()
    if status != 200 or paid.get("status") != "paid":
        raise RuntimeError(f"pay answered {status}: {paid}")
    for name, took in (("add", t1 - t0), ("checkout", t2 - t1), ("pay", t3 - t2), ("order", t3 - t0)):
        cpu[name].append(took * 1000)


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's live threads, by name (per-request threads have ended)."""
    import psutil

    names = {t.native_id: t.name for t in threading.enumerate()}
    totals: dict[str, float] = collections.defaultdict(float)
    for thread in psutil.Process().threads():
        totals[names.get(thread.id, "(other)")] += thread.user_time + thread.system_time
    return totals


async def run(application, shop: checkout.Shop, orders: int) -> dict:
    tabs = [Tab(application) for _ in range(4)]
    warm: dict[str, list[float]] = collections.defaultdict(list)
    for i in range(12):  # each tab's session and cart made, the first-request work done
        await one_order(tabs[i % 4], shop, i, warm)
    CPU_TOTALS.clear()
    CALLS.clear()
    for tab in tabs:
        tab.loop_cpu = 0.0
    cpu: dict[str, list[float]] = collections.defaultdict(list)
    threads0, process0, wall0 = thread_cpu(), time.process_time(), time.monotonic()
    for i in range(orders):
        await one_order(tabs[i % 4], shop, i, cpu)
    threads1, process1, wall1 = thread_cpu(), time.process_time(), time.monotonic()
    steps, calls = dict(CPU_TOTALS), dict(CALLS)
    floor = time.process_time()
    for _ in range(orders):  # the floor: Django's cheapest request with a query (the health check)
        status, _ = await tabs[0].request("GET", "/healthz/")
        if status != 200:
            raise RuntimeError(f"/healthz/ answered {status}")
    floor = (time.process_time() - floor) * 1000 / orders
    CPU_TOTALS.clear()
    CALLS.clear()
    CPU_TOTALS.update(steps)
    CALLS.update(calls)
    return {
        "floor_ms": floor,
        "cpu": cpu,
        "process_ms": (process1 - process0) * 1000 / orders,
        "wall_ms": (wall1 - wall0) * 1000 / orders,
        "loop_ms": sum(t.loop_cpu for t in tabs) * 1000 / orders,
        "pusher_ms": (threads1.get("liveshop-stock-push", 0) - threads0.get("liveshop-stock-push", 0))
        * 1000
        / orders,
    }


def report(result: dict, orders: int, load_before: str) -> None:
    cpu = result["cpu"]
    print(f"\n### in-process: {orders} orders one after another (load {load_before} -> {checkout.load()})\n")
    print("| request | CPU ms p50 | mean |")
    print("|---|---:|---:|")
    for name in ("add", "checkout", "pay", "order"):
        values = sorted(cpu[name])
        print(f"| {name} | {values[len(values) // 2]:.2f} | {sum(values) / len(values):.2f} |")
    process, loop, pusher = result["process_ms"], result["loop_ms"], result["pusher_ms"]
    chain = CPU_TOTALS["chain"] * 1000 / orders
    print(
        f"\nper order: process CPU {process:.2f} ms (wall {result['wall_ms']:.1f} ms, one at a time); "
        f"the floor, GET /healthz/ (the same stack, one SELECT 1): {result['floor_ms']:.2f} ms per request\n"
    )
    print("| where (CPU per order) | ms | share | calls/order |")
    print("|---|---:|---:|---:|")
    rows = [
        ("event loop thread (ASGI: request, response, handing over to the thread)", loop, None),
        ("stock pusher thread (upper bound: see the docstring)", pusher, None),
        (
            "the request's thread, outside Django's chain (signals, hand-offs)",
            process - loop - pusher - chain,
            None,
        ),
    ]
    rows += [(label, CPU_TOTALS[key] * 1000 / orders, CALLS[key] / orders) for label, key in STEPS]
    for label, ms, calls in rows:
        print(f"| {label} | {ms:.2f} | {ms / process:.0%} | {'' if calls is None else f'{calls:.1f}'} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin this process to (0)")
    parser.add_argument("--profile", action="store_true", help="cProfile (thread CPU clock) the chain too")
    parser.add_argument("--db-url", default=checkout.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=checkout.DEFAULT_REDIS_URL)
    args = parser.parse_args()
    env = _common.server_env(
        args.db_url, args.redis_url, PAYMENT_BACKEND="test", DJANGO_EMAIL_URL="dummymail://"
    )
    _common.ensure_database(args.db_url)
    _common.migrate(env)
    _common.pin(args.cpu)
    _common.setup_django(env)
    ids = checkout.seed()
    checkout.reset(ids["variants"]["hot"], checkout.HOT_STOCK)
    from liveshop.asgi import application

    install_spans()
    profile = None
    if args.profile:
        import cProfile

        from django.core.handlers.base import BaseHandler

        profile = cProfile.Profile(time.thread_time)
        chain = BaseHandler.get_response

        def profiled(self, request):
            profile.enable()
            try:
                return chain(self, request)
            finally:
                profile.disable()

        BaseHandler.get_response = profiled
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    load_before = checkout.load()
    try:
        result = asyncio.run(run(application, checkout.Shop(0, ids), args.orders))
    finally:
        _common.cleanup_redis(args.redis_url)
    report(result, args.orders, load_before)
    if profile is not None:
        import pstats

        print("\n(cProfile: proportions only, the profiler slows every call)")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
