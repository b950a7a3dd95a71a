"""Checkout under load through the real HTTP API, on the production server settings.

    .venv/bin/python bench/checkout.py                          # race, throughput, cart; 2 rounds each
    .venv/bin/python bench/checkout.py --modes race --buyers 1000 --stock 10 --rounds 3
    .venv/bin/python bench/checkout.py --modes throughput --clients 16 --duration 8 --trace

One uvicorn process with the production command (docker/start-web: ``liveshop.asgi:application``,
one process, ``--proxy-headers``; bench/_common.py: DJANGO_DEBUG=false, PAYMENT_BACKEND=test)
pinned to --server-cpu, its own scratch database ``liveshop_bench_checkout`` on the machine's
PostgreSQL and Redis database 9. Each buyer is a browser tab (bench/_http.py): its own keep-alive
connection and session (anonymous: the cart lives in the session), CSRF cookie + header, requests
as from the TLS-ending load balancer. A buyer adds to cart (``POST /api/shop/<brand>/cart/lines/``,
attributed to the brand's live show), checks out (``POST /api/shop/<brand>/checkout/`` with e-mail,
name and a shipping address in a country the brand ships to) and pays with the test provider's
success card (``POST /api/orders/<token>/test-payment/``: the provider's signed webhook applied).

Modes (each measured --rounds times; the machine is shared, so every round is printed):
  race        one variant with --stock items, --buyers buyers: all add to cart, then all check
              out at the same moment and the winners pay. Invariants (exit 1 if any fails): paid
              orders == stock, 409 "sold out" answers == buyers - stock, no 5xx, no other
              answer, stock 0, no reservation left active, no order left pending.
  throughput  a hot variant with ample stock: --clients buyers loop add + checkout + pay for
              --duration s (after --warmup s); orders/s against pgbench's single-row UPDATE
              (``UPDATE bench_hot_row SET n = n - 1 WHERE id = 1``, --clients clients, the same
              duration, pinned like the load client) run in the same round. Also the server's and
              PostgreSQL's CPU per order. --trace splits an order's server time into its steps.
              --order-sql: also pgbench running the order's own statements (bench/order_sql.py:
              one order captured through Django, replayed with fresh ids, a cart per client),
              the fair reference: what PostgreSQL alone does with the same SQL.
  cart        --viewers viewers loop "add to cart, then GET the cart" for --duration s: the add's
              answer (the updated cart the drawer shows) and add + GET, p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
import order_sql
from _http import Browser, HTTPError

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/liveshop_bench_checkout"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"  # 13 is _common's, 14 sync.py's
BRAND_SLUG = "bench-shop"
EVENT_ID = 7_100_001  # far from test databases' ids and from _common.EVENT_ID (pub/sub is global)
EVENT_SLUG = "bench-shop-live"
SUCCEED_CARD = "4242424242424242"
SHIP_TO = "DE"
ADDRESS = {
    "full_name": "Bench Buyer",
    "address_line1": "Teststrasse 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": SHIP_TO,
}
HOT_STOCK = 1_000_000_000
CART_VARIANTS = 4
CART_RESET_EVERY = 40 * CART_VARIANTS  # a new session before a line reaches MAX_QUANTITY (99)
GOAL_RATIO = 0.5


# Setup (this process: Django on the scratch database) -----------------------------------------


def seed() -> dict:
    """Idempotent: the brand (shipping to SHIP_TO), its live show and the variants. Returns ids."""
    from django.utils import timezone

    from accounts.models import Organization
    from catalog.models import Product
    from catalog.variants import ensure_default_variant
    from commerce.models import ShopSettings
    from events.models import EventProduct, LiveEvent

    brand, _ = Organization.objects.get_or_create(slug=BRAND_SLUG, defaults={"name": "Bench Shop"})
    ShopSettings.objects.update_or_create(organization=brand, defaults={"shipping_countries": [SHIP_TO]})
    now = timezone.now()
    LiveEvent.objects.update_or_create(
        pk=EVENT_ID,
        defaults={
            "organization": brand,
            "title": "Bench shop live",
            "slug": EVENT_SLUG,
            "scheduled_start": now,
            "status": LiveEvent.Status.LIVE,
            "status_changed_at": now,
            "backend": "fake",
        },
    )
    names = ["race", "hot", "warm"] + [f"cart-{i}" for i in range(CART_VARIANTS)]
    variants = {}
    for name in names:
        product, _ = Product.objects.get_or_create(
            organization=brand,
            sku=f"BENCH-SHOP-{name.upper()}",
            defaults={"name": f"Bench {name}", "price": "49.90", "currency": "EUR"},
        )
        variants[name] = ensure_default_variant(product=product, stock=HOT_STOCK).pk
        if name in ("race", "hot"):  # in the show's lineup: each sale pushes stock to its viewers
            EventProduct.objects.get_or_create(event_id=EVENT_ID, product=product, defaults={"position": 1})
    return {"brand": brand.slug, "event": EVENT_ID, "variants": variants}


def reset(variant_id: int, stock: int) -> None:
    """Forget earlier rounds (orders, carts, sessions: the scratch database's own) and set stock."""
    from django.contrib.sessions.models import Session

    from catalog.models import Variant
    from commerce.models import Cart, Order, PaymentEvent

    Order.objects.all().delete()
    PaymentEvent.objects.all().delete()
    Cart.objects.all().delete()
    Session.objects.all().delete()
    Variant.objects.filter(pk=variant_id).update(stock=stock)


def database_state(variant_id: int) -> dict:
    from catalog.models import Variant
    from commerce.models import Order, StockReservation

    orders = Counter(Order.objects.values_list("status", flat=True))
    active = StockReservation.objects.filter(status=StockReservation.Status.ACTIVE).count()
    return {
        "stock": Variant.objects.get(pk=variant_id).stock,
        "orders": dict(orders),
        "active_reservations": active,
    }


# The buyers -------------------------------------------------------------------------------------


class Shop:
    """The API paths of the seeded brand, and what one buyer does."""

    def __init__(self, port: int, ids: dict):
        self.port, self.ids = port, ids
        brand = ids["brand"]
        self.add_path = f"/api/shop/{brand}/cart/lines/"
        self.cart_path = f"/api/shop/{brand}/cart/"
        self.checkout_path = f"/api/shop/{brand}/checkout/"

    async def add(self, browser: Browser, variant: str, quantity: int = 1):
        data = {
            "variant_id": self.ids["variants"][variant],
            "quantity": quantity,
            "event_id": self.ids["event"],
        }
        return await browser.request("POST", self.add_path, data)

    async def checkout(self, browser: Browser, n: int):
        return await browser.request(
            "POST", self.checkout_path, {"email": f"buyer{n}@bench.example", **ADDRESS}
        )

    async def pay(self, browser: Browser, order: dict):
        data = {"client_secret": order["payment"]["clientSecret"], "card_number": SUCCEED_CARD}
        return await browser.request("POST", f"/api/orders/{order['token']}/test-payment/", data)


async def open_all(port: int, n: int, concurrency: int = 100) -> list[Browser]:
    browsers = [Browser(port) for _ in range(n)]
    gate = asyncio.Semaphore(concurrency)

    async def one(browser: Browser) -> None:
        async with gate:
            await browser.connect()

    await asyncio.gather(*(one(b) for b in browsers))
    return browsers


def close_all(browsers: list[Browser]) -> None:
    for browser in browsers:
        browser.close()


def classify(status: int, body) -> str:
    if status >= 500:
        return "5xx"
    if (
        status == 409
        and isinstance(body, dict)
        and body.get("soldOut")
        and "Sold out" in body.get("error", "")
    ):
        return "sold out"
    return str(status)


async def warm_up(shop: Shop, buyers: int = 8, orders: int = 3) -> None:
    """A few whole purchases on the warm-up variant: the server's first-request work is not measured."""
    browsers = await open_all(shop.port, buyers)

    async def one(i: int, browser: Browser) -> None:
        for _ in range(orders):
            await shop.add(browser, "warm")
            status, order, _ = await shop.checkout(browser, i)
            if status != 201:
                raise RuntimeError(f"warm-up checkout answered {status}: {order}")
            status, paid, _ = await shop.pay(browser, order)
            if status != 200 or paid.get("status") != "paid":
                raise RuntimeError(f"warm-up payment answered {status}: {paid}")

    try:
        await asyncio.gather(*(one(i, b) for i, b in enumerate(browsers)))
    finally:
        close_all(browsers)


# Race ------------------------------------------------------------------------------------------


async def race_round(shop: Shop, buyers: int, stock: int, cpu: CPU, add_concurrency: int) -> dict:
    browsers = await open_all(shop.port, buyers)
    gate = asyncio.Semaphore(add_concurrency or buyers)

    async def fill(browser: Browser):
        async with gate:
            return await shop.add(browser, "race")

    try:
        cpu0, t0 = cpu.sample(), time.monotonic()
        added = await asyncio.gather(*(fill(b) for b in browsers), return_exceptions=True)
        cpu1, t1 = cpu.sample(), time.monotonic()
        add_outcomes = Counter(
            "error" if isinstance(a, BaseException) else ("201" if a[0] == 201 else classify(a[0], a[1]))
            for a in added
        )
        go = asyncio.Event()

        async def buy(i: int, browser: Browser) -> tuple[str, float | None, str | None]:
            await go.wait()
            try:
                status, order, took = await shop.checkout(browser, i)
                if status != 201:
                    return classify(status, order), took, None
                status, paid, _ = await shop.pay(browser, order)
                if status == 200 and paid.get("status") == "paid":
                    return "paid", took, None
                return f"pay {classify(status, paid)}", took, str(paid)[:200]
            except HTTPError as exc:
                return "error", None, str(exc)

        tasks = [asyncio.ensure_future(buy(i, b)) for i, b in enumerate(browsers)]
        await asyncio.sleep(0.2)  # every buyer waiting at the line
        started = time.monotonic()
        go.set()
        results = await asyncio.gather(*tasks)
        wall = time.monotonic() - started
        cpu2 = cpu.sample()
    finally:
        close_all(browsers)
    outcomes = Counter(kind for kind, _, _ in results)
    latencies = [took * 1000 for _, took, _ in results if took is not None]
    samples = [note for _, _, note in results if note][:3]
    return {
        "adds": dict(add_outcomes),
        "outcomes": dict(outcomes),
        "checkout_ms": latencies,
        "wall_s": wall,
        "samples": samples,
        "add_wall_s": t1 - t0,
        # server CPU ms per request: the adds; the checkouts and the winners' payments
        "add_cpu_ms": (cpu1[0] - cpu0[0]) * 1000 / buyers,
        "checkout_cpu_ms": (cpu2[0] - cpu1[0]) * 1000 / (buyers + outcomes.get("paid", 0)),
        "pg_cpu_ms": (cpu2[1] - cpu0[1]) * 1000 / (2 * buyers + outcomes.get("paid", 0)),
    }


def race_verdict(result: dict, state: dict, buyers: int, stock: int) -> list[str]:
    """The invariants that failed (empty: all hold)."""
    o, failed = result["outcomes"], []
    checks = [
        ("every add to cart answered 201", result["adds"].get("201", 0) == buyers),
        (f"paid orders == {stock}", o.get("paid", 0) == stock),
        (f"sold-out 409s == {buyers - stock}", o.get("sold out", 0) == buyers - stock),
        ("no 5xx", o.get("5xx", 0) == 0 and result["adds"].get("5xx", 0) == 0),
        ("no other answer", sum(o.values()) - o.get("paid", 0) - o.get("sold out", 0) == 0),
        ("final stock 0", state["stock"] == 0),
        ("no reservation left active", state["active_reservations"] == 0),
        ("no order left pending", state["orders"].get("pending", 0) == 0),
    ]
    failed += [name for name, ok in checks if not ok]
    return failed


# Throughput ------------------------------------------------------------------------------------


class CPU:
    """CPU seconds (user + system) of the server process and of the PostgreSQL cluster on 5432
    (the postmaster, its live children and the children it has reaped)."""

    def __init__(self, server_pid: int, postmaster_pid: int | None):
        import psutil

        self.server = psutil.Process(server_pid)
        self.postmaster = psutil.Process(postmaster_pid) if postmaster_pid else None

    def sample(self) -> tuple[float, float]:
        import psutil

        t = self.server.cpu_times()
        server = t.user + t.system
        pg = float("nan")
        if self.postmaster is not None:
            t = self.postmaster.cpu_times()
            pg = t.user + t.system + t.children_user + t.children_system
            for child in self.postmaster.children():
                try:
                    c = child.cpu_times()
                    pg += c.user + c.system
                except psutil.NoSuchProcess:
                    pass
        return server, pg


def postmaster_pid(db_url: str) -> int | None:
    """The PostgreSQL server's pid (its postmaster.pid file), or None when it is not readable."""
    import psycopg

    try:
        with psycopg.connect(db_url) as conn:
            data_dir = conn.execute("SHOW data_directory").fetchone()[0]
        return int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    except Exception:
        return None


class Window:
    """The measured window of a loop mode: it opens once every client has finished one iteration
    (a new session's first requests, slow on a busy machine, are not measured) and --warmup s have
    passed, then lasts --duration s. Clients keep looping meanwhile, so the load never pauses."""

    def __init__(self, clients: int, warmup: float, duration: float, cpu: CPU | None = None):
        self.waiting, self.duration, self.cpu = clients, duration, cpu
        self.earliest = time.monotonic() + warmup
        self.w0 = self.w1 = float("inf")
        self.all_warm = asyncio.Event()
        self.cpu_marks: list[tuple[float, float]] = []

    def warmed(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.all_warm.set()

    def open(self) -> bool:
        return time.monotonic() < self.w1

    async def run(self) -> None:
        await self.all_warm.wait()
        await asyncio.sleep(max(0.0, self.earliest - time.monotonic()))
        self.w0 = time.monotonic()
        self.w1 = self.w0 + self.duration
        if self.cpu:
            self.cpu_marks.append(self.cpu.sample())
        await asyncio.sleep(self.duration)
        if self.cpu:
            self.cpu_marks.append(self.cpu.sample())

    def started_in(self, t: float) -> bool:
        return self.w0 <= t < self.w1

    def ended_in(self, t: float) -> bool:
        return self.w0 <= t <= self.w1


async def orders_round(shop: Shop, clients: int, duration: float, warmup: float, cpu: CPU | None) -> dict:
    browsers = await open_all(shop.port, clients)
    window = Window(clients, warmup, duration, cpu)
    done: list[float] = []
    steps: dict[str, list[float]] = {"add": [], "checkout": [], "pay": [], "order": []}
    failures: Counter = Counter()

    async def buyer(i: int, browser: Browser) -> None:
        first = True
        while window.open():
            t0 = time.monotonic()
            try:
                status, _, t_add = await shop.add(browser, "hot")
                if status != 201:
                    failures[f"add {status}"] += 1
                    continue
                status, order, t_checkout = await shop.checkout(browser, i)
                if status != 201:
                    failures[f"checkout {classify(status, order)}"] += 1
                    continue
                status, paid, t_pay = await shop.pay(browser, order)
            except HTTPError:
                failures["connection"] += 1
                continue
            finally:
                if first:
                    first = False
                    window.warmed()
            if status != 200 or paid.get("status") != "paid":
                failures[f"pay {classify(status, paid)}"] += 1
                continue
            end = time.monotonic()
            if window.ended_in(end):  # the rate: orders completed in the window
                done.append(end)
            if window.started_in(t0):  # the latencies: orders started in it
                for name, took in (
                    ("add", t_add),
                    ("checkout", t_checkout),
                    ("pay", t_pay),
                    ("order", end - t0),
                ):
                    steps[name].append(took * 1000)

    try:
        await asyncio.gather(window.run(), *(buyer(i, b) for i, b in enumerate(browsers)))
    finally:
        close_all(browsers)
    result = {"orders": len(done), "rate": len(done) / duration, "steps": steps, "failures": dict(failures)}
    if len(window.cpu_marks) == 2:
        (s0, p0), (s1, p1) = window.cpu_marks
        n = max(len(done), 1)
        result["server_cpu_ms"] = (s1 - s0) * 1000 / n
        result["pg_cpu_ms"] = (p1 - p0) * 1000 / n
        result["server_cpu_share"] = (s1 - s0) / duration
        result["server_cpu_s"] = s1 - s0
    result["window"] = (window.w0, window.w1)
    return result


PGBENCH_TPS = re.compile(r"tps = ([\d.]+) \(without initial connection time\)")
PGBENCH_DONE = re.compile(r"number of transactions actually processed: (\d+)")
PGBENCH_FAILED = re.compile(r"number of failed transactions: (\d+)")
PGBENCH_LATENCY = re.compile(r"latency average = ([\d.]+) ms")


def find_pgbench() -> str:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench")) or [Path(shutil.which("pgbench") or "")]
    if not found[-1].is_file():
        sys.exit("pgbench not found (it comes with PostgreSQL: /usr/lib/postgresql/*/bin/pgbench)")
    return str(found[-1])


def prepare_pgbench(db_url: str, workdir: Path) -> Path:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_hot_row (id integer PRIMARY KEY, n bigint NOT NULL)")
        conn.execute(
            "INSERT INTO bench_hot_row VALUES (1, 1000000000000) "
            "ON CONFLICT (id) DO UPDATE SET n = 1000000000000"
        )
    script = workdir / "hot_row.sql"
    script.write_text("UPDATE bench_hot_row SET n = n - 1 WHERE id = 1;\n")
    return script


def pgbench(binary: str, db_url: str, script: Path, clients: int, duration: float, cpu: int | None) -> dict:
    """pgbench's custom script: the single-row UPDATE, --clients connections, one thread."""
    from urllib.parse import urlsplit

    url = urlsplit(db_url)
    cmd = [
        *_common.taskset(cpu),
        binary,
        "-n",
        "-h",
        url.hostname or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
        "-c",
        str(clients),
        "-j",
        "1",
        "-T",
        str(max(1, round(duration))),
        "-f",
        str(script),
        url.path.lstrip("/"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    match = PGBENCH_TPS.search(out.stdout)
    if out.returncode or not match:
        raise RuntimeError(f"pgbench failed ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    latency = PGBENCH_LATENCY.search(out.stdout)
    done, failed = PGBENCH_DONE.search(out.stdout), PGBENCH_FAILED.search(out.stdout)
    return {
        "tps": float(match.group(1)),
        "latency_ms": float(latency.group(1)) if latency else float("nan"),
        "transactions": int(done.group(1)) if done else 0,
        "failed": int(failed.group(1)) if failed else 0,
    }


def prepare_order_sql(ids: dict, clients: int, workdir: Path) -> tuple[Path, int]:
    """One order captured through Django and written as a pgbench script (bench/order_sql.py),
    with a cart for each of ``clients``; the script and its statement count."""
    capture = order_sql.capture_order(ids, address=ADDRESS, card=SUCCEED_CARD)
    first_cart = order_sql.make_carts(ids["brand"], clients)
    text, count = order_sql.script(capture, first_cart=first_cart)
    path = workdir / "order.sql"
    path.write_text(text)
    return path, count


def order_sql_orders() -> int:
    """Paid orders the order script made (its e-mail), the two captured ones included."""
    from commerce.models import Order

    return Order.objects.filter(email="sql@bench.example", status=Order.Status.PAID).count()


# Cart drawer -----------------------------------------------------------------------------------


async def cart_round(shop: Shop, viewers: int, duration: float, warmup: float) -> dict:
    browsers = await open_all(shop.port, viewers)
    window = Window(viewers, warmup, duration)
    add_ms, drawer_ms = [], []
    problems: Counter = Counter()

    async def viewer(i: int, browser: Browser) -> None:
        held: Counter = Counter()
        adds = 0
        while window.open():
            if adds == 1:
                window.warmed()
            if adds and adds % CART_RESET_EVERY == 0:
                browser.forget_session()
                held.clear()
            name = f"cart-{(i + adds) % CART_VARIANTS}"
            adds += 1
            t0 = time.monotonic()
            try:
                status, cart, _ = await shop.add(browser, name)
                t1 = time.monotonic()
                g_status, fresh, _ = await shop_get(browser)
            except HTTPError:
                problems["connection"] += 1
                continue
            t2 = time.monotonic()
            if status != 201 or g_status != 200:
                problems[f"add {classify(status, cart)} / get {g_status}"] += 1
                continue
            held[shop.ids["variants"][name]] += 1
            if lines(cart) != held or lines(fresh) != held:
                problems["cart not updated"] += 1
            if window.started_in(t0):  # the last ones end after the window
                add_ms.append((t1 - t0) * 1000)
                drawer_ms.append((t2 - t0) * 1000)

    async def shop_get(browser: Browser):
        return await browser.request("GET", shop.cart_path)

    try:
        await asyncio.gather(window.run(), *(viewer(i, b) for i, b in enumerate(browsers)))
    finally:
        close_all(browsers)
    return {
        "add_ms": add_ms,
        "drawer_ms": drawer_ms,
        "problems": dict(problems),
        "rate": len(add_ms) / duration,
    }


def lines(cart) -> Counter:
    if not isinstance(cart, dict):
        return Counter()
    return Counter({line["variantId"]: line["quantity"] for line in cart.get("lines", [])})


# --trace: the server's steps of an order ------------------------------------------------------

# uvicorn serves this wrapper instead of liveshop.asgi:application with --trace. Each wrapped step
# logs its wall time, its thread's CPU time, and the queries (count, wall time) run inside it.
TRACE_MODULE = """
import functools, os, threading, time

from liveshop.asgi import application  # sets Django up

from django.contrib.sessions.backends import db as session_db
from django.core.handlers.base import BaseHandler
from django.db.backends import utils as db_utils
from django.db.backends.base.base import BaseDatabaseWrapper

from commerce import services, stock, views
from commerce.payments.test import TestPaymentBackend

_TRACING = bool(os.environ.get("BENCH_TRACE_FILE"))  # --trace; the other options need none of it
_log = open(os.environ["BENCH_TRACE_FILE"], "a", buffering=1) if _TRACING else None
_local = threading.local()


def _counters():
    return getattr(_local, "queries", 0), getattr(_local, "db", 0.0)


def _traced(name, function, naming=None):
    if not _TRACING:
        return function

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        label = naming(*args) if naming else name
        q0, d0 = _counters()
        start, cpu0 = time.monotonic(), time.thread_time()
        try:
            result = function(*args, **kwargs)
            if name == "take" and result:  # the row is locked from here to the commit
                _local.take_end = time.monotonic()
            return result
        finally:
            end, cpu1 = time.monotonic(), time.thread_time()
            q1, d1 = _counters()
            cpu_ms, db_ms = (cpu1 - cpu0) * 1000, (d1 - d0) * 1000
            _log.write("%s %.6f %.6f %.3f %d %.3f\\n" % (label, start, end, cpu_ms, q1 - q0, db_ms))

    return wrapper


def _query(function):
    if not _TRACING:
        return function

    @functools.wraps(function)
    def wrapper(self, *args, **kwargs):
        start = time.monotonic()
        try:
            return function(self, *args, **kwargs)
        finally:
            _local.queries = getattr(_local, "queries", 0) + 1
            _local.db = getattr(_local, "db", 0.0) + time.monotonic() - start

    return wrapper


def _kind(handler, request):
    path = request.path
    if path.endswith("/cart/lines/"):
        return "request:add"
    if path.endswith("/checkout/"):
        return "request:checkout"
    if path.endswith("/test-payment/"):
        return "request:pay"
    if path.endswith("/cart/"):
        return "request:cart"
    return "request:other"


def _commit(function):
    if not _TRACING:
        return function

    @functools.wraps(function)
    def wrapper(self, *args, **kwargs):
        try:
            return function(self, *args, **kwargs)
        finally:
            taken = getattr(_local, "take_end", None)
            if taken is not None:
                _log.write("lock_hold %.6f %.6f 0 0 0\\n" % (taken, time.monotonic()))
                _local.take_end = None

    return wrapper


def _rollback(function):
    if not _TRACING:
        return function

    @functools.wraps(function)
    def wrapper(self, *args, **kwargs):
        _local.take_end = None
        return function(self, *args, **kwargs)

    return wrapper


BaseDatabaseWrapper.commit = _commit(BaseDatabaseWrapper.commit)
BaseDatabaseWrapper.rollback = _rollback(BaseDatabaseWrapper.rollback)
db_utils.CursorWrapper.execute = _query(db_utils.CursorWrapper.execute)
db_utils.CursorWrapper.executemany = _query(db_utils.CursorWrapper.executemany)
BaseHandler.get_response = _traced("request", BaseHandler.get_response, naming=_kind)
session_db.SessionStore.load = _traced("session_load", session_db.SessionStore.load)
session_db.SessionStore.save = _traced("session_save", session_db.SessionStore.save)
views.cart_for_request = _traced("cart_for_request", views.cart_for_request)
views.cart_payload = _traced("cart_payload", views.cart_payload)
views.order_payload = _traced("order_payload", views.order_payload)
services.add_to_cart = _traced("add_to_cart", services.add_to_cart)
services.start_checkout = _traced("start_checkout", services.start_checkout)
services._reserve_order = _traced("reserve", services._reserve_order)
stock.take = _traced("take", stock.take)
TestPaymentBackend.create_payment = _traced("create_payment", TestPaymentBackend.create_payment)
TestPaymentBackend.confirm = _traced("provider_confirm", TestPaymentBackend.confirm)
services.handle_payment_webhook = _traced("payment_webhook", services.handle_payment_webhook)
if hasattr(services, "apply_payment_delivery"):  # the pay view's call since session 6
    services.apply_payment_delivery = _traced("payment_webhook", services.apply_payment_delivery)

if os.environ.get("BENCH_DJANGO_SLOTS"):
    # --django-slots N (an experiment): at most N requests inside Django at once; the others wait
    # on the event loop, holding no thread (Django's handler starts a thread per request).
    import asyncio

    from asgiref.sync import sync_to_async

    from liveshop.handlers import OneHopASGIHandler

    _slots = []

    async def _bounded(self, request):
        if not _slots:
            _slots.append(asyncio.Semaphore(int(os.environ["BENCH_DJANGO_SLOTS"])))
        async with _slots[0]:
            return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    OneHopASGIHandler.get_response_async = _bounded

if os.environ.get("BENCH_SAMPLE_FILE"):
    # --sample: every 5 ms, where is each thread (its innermost frames)? Waits show as the call
    # that waits (a pool connection, a socket read, the GIL shows as the line a thread resumes).
    import collections, json, sys

    _samples, _frames_seen = collections.Counter(), [0]

    def _where(frame):
        names = []
        while frame is not None and len(names) < 4:
            code = frame.f_code
            path = code.co_filename.replace(os.getcwd() + "/", "").split("site-packages/")[-1]
            names.append("%s:%s %s" % (path, frame.f_lineno, code.co_name))
            frame = frame.f_back
        return " < ".join(names)

    def _sampler():
        me, last_dump = threading.get_ident(), time.monotonic()
        while True:
            time.sleep(0.005)
            for ident, frame in sys._current_frames().items():
                if ident != me:
                    _samples[_where(frame)] += 1
            _frames_seen[0] += 1
            if time.monotonic() - last_dump > 2:
                last_dump = time.monotonic()
                with open(os.environ["BENCH_SAMPLE_FILE"], "w") as out:
                    json.dump({"ticks": _frames_seen[0], "top": _samples.most_common(60)}, out)

    threading.Thread(target=_sampler, daemon=True, name="bench-sampler").start()

if os.environ.get("BENCH_PROFILE_FILE"):
    # --profile: cProfile each request's chain in its own thread, merged every 100 requests into
    # one file (overwritten each time: the server is stopped by a signal, so no exit hook runs).
    import cProfile, pstats

    _lock, _pending, _merged = threading.Lock(), [], [None]
    _chain = BaseHandler.get_response

    def _profiled(self, request):
        profile = cProfile.Profile(time.thread_time)  # CPU of this thread: waits excluded
        profile.enable()
        try:
            return _chain(self, request)
        finally:
            profile.disable()
            with _lock:
                _pending.append(profile)
                if len(_pending) >= 100:
                    stats = _merged[0] or pstats.Stats(_pending.pop())
                    while _pending:
                        stats.add(_pending.pop())
                    _merged[0] = stats
                    stats.dump_stats(os.environ["BENCH_PROFILE_FILE"])

    BaseHandler.get_response = _profiled
"""

TRACE_ROWS = [
    # (label, span name, indent)
    ("add to cart: request (session, CSRF, user, view, session save)", "request:add", 0),
    ("checkout: request", "request:checkout", 0),
    ("pay: request", "request:pay", 0),
    ("session load (query)", "session_load", 1),
    ("session save (query)", "session_save", 1),
    ("cart_for_request", "cart_for_request", 1),
    ("services.add_to_cart (lock cart, checks, insert/update line)", "add_to_cart", 1),
    ("cart payload (the drawer's JSON)", "cart_payload", 1),
    ("services.start_checkout", "start_checkout", 1),
    ("_reserve_order (transaction, incl. commit)", "reserve", 2),
    ("stock.take (the conditional UPDATE)", "take", 3),
    ("test provider: create_payment", "create_payment", 2),
    ("order payload", "order_payload", 1),
    ("test provider: confirm (sign the event)", "provider_confirm", 1),
    ("services.handle_payment_webhook", "payment_webhook", 1),
]


def print_trace(trace_file: Path, window: tuple[float, float], server_cpu_s: float | None) -> None:
    """Each step's share of an order, over the steps that started in the measured window; "per
    order" divides by the checkout requests among them (one per order)."""
    spans: dict[str, list[tuple[float, float, float, int, float]]] = {}
    for line in trace_file.read_text().splitlines():
        name, start, end, cpu, queries, db = line.split()
        start, end = float(start), float(end)
        if window[0] <= start < window[1]:
            spans.setdefault(name, []).append((start, end, float(cpu), int(queries), float(db)))
    orders = len(spans.get("request:checkout", []))
    server_cpu_ms = server_cpu_s * 1000 / orders if server_cpu_s and orders else None
    n = max(orders, 1)
    print(
        f"\nwhere an order's server time goes ({orders} checkouts started in the last round's window; "
        "per order; --trace adds a little)"
    )
    print("| step | calls/order | wall p50 ms | CPU ms/order | queries/order | DB wall ms/order |")
    print("|---|---:|---:|---:|---:|---:|")
    request_cpu = 0.0
    for label, name, indent in TRACE_ROWS:
        rows = spans.get(name, [])
        if not rows:
            continue
        cpu = sum(r[2] for r in rows) / n
        if name.startswith("request:"):
            request_cpu += cpu
        wall = _common.percentile([(r[1] - r[0]) * 1000 for r in rows], 50)
        print(
            f"| {'  ' * indent}{label} | {len(rows) / n:.2f} | {wall:.1f} | {cpu:.2f} | "
            f"{sum(r[3] for r in rows) / n:.1f} | {sum(r[4] for r in rows) / n:.1f} |"
        )
    if server_cpu_ms:
        print(
            f"| outside Django's chain (uvicorn HTTP, ASGI handler, thread per request, GC) | | | "
            f"{server_cpu_ms - request_cpu:.2f} | | |"
        )
        print(f"| **server process total** | | | {server_cpu_ms:.2f} | | |")
    holds = [(r[1] - r[0]) * 1000 for r in spans.get("lock_hold", [])]
    if holds:
        p50, p99 = _common.percentile(holds, 50), _common.percentile(holds, 99)
        print(
            "\nthe hot variant's row lock, held from the stock UPDATE's answer to the commit's: "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms "
            f"(one row serialises at most ~{1000 / p50:.0f} orders/s at the p50)"
        )


def print_profile(path: Path, top: int = 30) -> None:
    import pstats

    if not path.exists():
        print("\n(no profile: fewer than 100 requests were profiled)")
        return
    print(f"\nthe request chain under cProfile (all modes; {path}), top {top} by own time:\n")
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(top)
    print(f"top {top} by cumulative time:\n")
    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(top)


def print_samples(path: Path, top: int = 40) -> None:
    import json

    if not path.exists():
        print("\n(no samples written)")
        return
    data = json.loads(path.read_text())
    ticks = max(data["ticks"], 1)
    print(f"\nserver threads' stacks, sampled every 5 ms ({ticks} samples; threads per sample on average):\n")
    print("| threads | innermost frames (< caller) |")
    print("|---:|---|")
    for where, count in data["top"][:top]:
        print(f"| {count / ticks:.2f} | {where} |")


# Reports ---------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> str:
    return f"{_common.percentile(values, p):.0f}" if values else "-"


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def report_race(rounds: list[dict], buyers: int, stock: int) -> None:
    print(f"\n### race: {buyers} buyers, stock {stock} (checkout latency from the moment all start)\n")
    print(
        "| round | load | paid | sold-out 409 | 5xx | other | adds 201 | stock | active reservations "
        "| pending | checkout p50 ms | p99 ms | all done s | adds took s "
        "| server CPU ms/request: add, checkout "
        "| PostgreSQL CPU ms/request | invariants |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
    for i, r in enumerate(rounds, 1):
        o, s = r["outcomes"], r["state"]
        other = sum(o.values()) - o.get("paid", 0) - o.get("sold out", 0) - o.get("5xx", 0)
        verdict = "hold" if not r["failed"] else "FAILED: " + "; ".join(r["failed"])
        print(
            f"| {i} | {r['load']} | {o.get('paid', 0)} | {o.get('sold out', 0)} | {o.get('5xx', 0)} "
            f"| {other} "
            f"| {r['adds'].get('201', 0)} | {s['stock']} | {s['active_reservations']} | "
            f"{s['orders'].get('pending', 0)} | {pct(r['checkout_ms'], 50)} | {pct(r['checkout_ms'], 99)} "
            f"| {r['wall_s']:.1f} | {r['add_wall_s']:.1f} "
            f"| {r['add_cpu_ms']:.1f}, {r['checkout_cpu_ms']:.1f} "
            f"| {r['pg_cpu_ms']:.1f} | {verdict} |"
        )
    for r in rounds:
        if r["failed"]:
            print(
                f"  outcomes {r['outcomes']}, adds {r['adds']}, orders {r['state']['orders']}; {r['samples']}"
            )


def report_throughput(rounds: list[dict], clients: int, duration: float) -> None:
    print(
        f"\n### throughput: {clients} buyers x {duration:g} s (add + checkout + pay) "
        "vs pgbench single-row UPDATE\n"
    )
    print(
        "| round | load | orders/s | pgbench tps | ratio | order p50 / p99 ms | add p50 | checkout p50 "
        "| pay p50 | server CPU ms/order | PostgreSQL CPU ms/order | PostgreSQL CPU ms/UPDATE "
        "| server core busy "
        "| failures |"
    )
    print("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for i, r in enumerate(rounds, 1):
        s = r["steps"]
        print(
            f"| {i} | {r['load']} | {r['rate']:.1f} | {r['pg']['tps']:.0f} "
            f"| {r['rate'] / r['pg']['tps']:.1%} "
            f"| {pct(s['order'], 50)} / {pct(s['order'], 99)} | {pct(s['add'], 50)} "
            f"| {pct(s['checkout'], 50)} "
            f"| {pct(s['pay'], 50)} | {r.get('server_cpu_ms', float('nan')):.1f} "
            f"| {r.get('pg_cpu_ms', float('nan')):.2f} | {r['pg']['pg_cpu_ms']:.3f} "
            f"| {r.get('server_cpu_share', float('nan')):.0%} "
            f"| {r['failures'] or '-'} |"
        )
    best = max(r["rate"] / r["pg"]["tps"] for r in rounds)
    verdict = "met" if best >= GOAL_RATIO else "MISSED"
    print(
        f"\ngoal orders/s >= {GOAL_RATIO:.0%} of pgbench's single-row UPDATE: {verdict} "
        f"(best round {best:.1%})"
    )
    if all(r.get("sql") for r in rounds):
        report_order_sql(rounds)


def report_order_sql(rounds: list[dict]) -> None:
    """The fair reference: pgbench sending the order's own statements, in the same rounds."""
    statements = rounds[0]["sql"]["statements"]
    print(
        f"\n### the same orders as SQL alone: pgbench running one order's {statements} statements "
        "(bench/order_sql.py) vs the HTTP path\n"
    )
    print(
        "| round | load before / after pgbench | HTTP orders/s | order SQL orders/s (pgbench) "
        "| HTTP / SQL | SQL latency ms | paid by the script / transactions | failed "
        "| PostgreSQL CPU ms/order: SQL, HTTP |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---|")
    for i, r in enumerate(rounds, 1):
        sql = r["sql"]
        print(
            f"| {i} | {r['load']} / {sql['load']} | {r['rate']:.1f} | {sql['tps']:.0f} "
            f"| {r['rate'] / sql['tps']:.1%} | {sql['latency_ms']:.1f} "
            f"| {sql['paid']} / {sql['transactions']} | {sql['failed']} "
            f"| {sql['pg_cpu_ms']:.2f}, {r.get('pg_cpu_ms', float('nan')):.2f} |"
        )
    best = max(r["rate"] / r["sql"]["tps"] for r in rounds)
    print(f"\nHTTP orders/s against the same SQL through pgbench: best round {best:.1%}")


def report_cart(rounds: list[dict], viewers: int, duration: float) -> None:
    print(f"\n### add to cart -> drawer updated: {viewers} viewers x {duration:g} s\n")
    print(
        "| round | load | adds/s | add's answer (updated cart) p50 / p99 ms "
        "| add + GET cart p50 / p99 ms | problems |"
    )
    print("|---|---|---:|---|---|---|")
    for i, r in enumerate(rounds, 1):
        print(
            f"| {i} | {r['load']} | {r['rate']:.0f} | {pct(r['add_ms'], 50)} / {pct(r['add_ms'], 99)} "
            f"| {pct(r['drawer_ms'], 50)} / {pct(r['drawer_ms'], 99)} | {r['problems'] or '-'} |"
        )


# Main ------------------------------------------------------------------------------------------


def recreate_database(db_url: str) -> None:
    import psycopg

    name = db_url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(db_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run(args, shop: Shop, server, workdir: Path) -> bool:
    from asgiref.sync import sync_to_async

    ok = True
    await warm_up(shop)
    variants = shop.ids["variants"]
    cpu = CPU(server.pid, postmaster_pid(args.db_url))
    if "race" in args.modes:
        rounds = []
        for _ in range(args.rounds):
            await sync_to_async(reset)(variants["race"], args.stock)
            lavg = load()
            result = await race_round(shop, args.buyers, args.stock, cpu, args.add_concurrency)
            result["state"] = await sync_to_async(database_state)(variants["race"])
            result["failed"] = race_verdict(result, result["state"], args.buyers, args.stock)
            result["load"] = lavg
            ok &= not result["failed"]
            rounds.append(result)
        report_race(rounds, args.buyers, args.stock)
    if "throughput" in args.modes:
        binary = find_pgbench()
        script = prepare_pgbench(args.db_url, workdir)
        rounds = []
        for _ in range(args.rounds):
            await sync_to_async(reset)(variants["hot"], HOT_STOCK)
            lavg = load()
            before = cpu.sample()
            pg = await asyncio.to_thread(
                pgbench, binary, args.db_url, script, args.clients, args.duration, args.client_cpu
            )
            pg["pg_cpu_ms"] = (cpu.sample()[1] - before[1]) * 1000 / max(pg["tps"] * args.duration, 1)
            sql = None
            if args.order_sql:
                path, count = await sync_to_async(prepare_order_sql)(shop.ids, args.clients, workdir)
                before = cpu.sample()
                sql = await asyncio.to_thread(
                    pgbench, binary, args.db_url, path, args.clients, args.duration, args.client_cpu
                )
                sql["pg_cpu_ms"] = (cpu.sample()[1] - before[1]) * 1000 / max(sql["transactions"], 1)
                sql["statements"], sql["load"] = count, load()
                sql["paid"] = await sync_to_async(order_sql_orders)() - 2
                print(f"order script ({count} statements): {path}")
            result = await orders_round(shop, args.clients, args.duration, args.warmup, cpu)
            result["pg"], result["sql"], result["load"] = pg, sql, lavg
            rounds.append(result)
        report_throughput(rounds, args.clients, args.duration)
        if args.trace:
            last = rounds[-1]
            print_trace(workdir / "trace.log", last["window"], last.get("server_cpu_s"))
    if "cart" in args.modes:
        rounds = []
        for _ in range(args.rounds):
            await sync_to_async(reset)(variants["hot"], HOT_STOCK)
            lavg = load()
            result = await cart_round(shop, args.viewers, args.duration, args.warmup)
            result["load"] = lavg
            ok &= not result["problems"]
            rounds.append(result)
        report_cart(rounds, args.viewers, args.duration)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--modes",
        default="race,throughput,cart",
        help="comma-separated: race, throughput, cart (default: all)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each mode (default 2)")
    parser.add_argument("--buyers", type=int, default=1000, help="race: concurrent buyers (default 1000)")
    parser.add_argument("--stock", type=int, default=10, help="race: the variant's stock (default 10)")
    parser.add_argument(
        "--add-concurrency",
        type=int,
        default=100,
        help="race: adds to cart in flight while the buyers fill their carts before the sale "
        "(100; 0: all at once)",
    )
    parser.add_argument("--clients", type=int, default=16, help="throughput: buyers and pgbench clients (16)")
    parser.add_argument("--viewers", type=int, default=50, help="cart: concurrent viewers (default 50)")
    parser.add_argument("--duration", type=float, default=6, help="throughput/cart: seconds measured (6)")
    parser.add_argument(
        "--warmup", type=float, default=2, help="throughput/cart: seconds before measuring (2)"
    )
    parser.add_argument(
        "--trace", action="store_true", help="throughput: split an order's server time into steps"
    )
    parser.add_argument(
        "--order-sql",
        action="store_true",
        help="throughput: also pgbench running the order's own statements (bench/order_sql.py)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the server's request chain (threads too); prints the top",
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        help="sample every server thread's stack every 5 ms (where requests wait); prints the top",
    )
    parser.add_argument(
        "--django-slots",
        type=int,
        default=0,
        help="an experiment: at most N requests inside Django at once, the rest queued on the event loop",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra setting for the server, e.g. DJANGO_DB_POOL_TIMEOUT=60 "
        "(an experiment: printed as such)",
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="core of the uvicorn process (default 0)")
    parser.add_argument("--client-cpu", type=int, default=1, help="core of this load client and pgbench (1)")
    parser.add_argument("--db-url", default=DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--fresh-db", action="store_true", help="drop and re-create the scratch database first"
    )
    args = parser.parse_args()
    args.modes = {m.strip() for m in args.modes.split(",") if m.strip()}
    if args.modes - {"race", "throughput", "cart"}:
        parser.error(f"unknown modes: {', '.join(sorted(args.modes - {'race', 'throughput', 'cart'}))}")
    if args.stock >= args.buyers:
        parser.error("--stock must be below --buyers (the race needs losers)")
    _common.raise_nofile()
    # `timeout` and friends send SIGTERM: unwind (the finally blocks stop the server) as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    extra = dict(item.split("=", 1) for item in args.server_env)
    env = _common.server_env(
        args.db_url, args.redis_url, PAYMENT_BACKEND="test", DJANGO_EMAIL_URL="dummymail://", **extra
    )
    if args.fresh_db:
        recreate_database(args.db_url)
    _common.ensure_database(args.db_url)
    _common.migrate(env)
    _common.pin(args.client_cpu)
    _common.setup_django(env)
    ids = seed()
    workdir = Path(tempfile.mkdtemp(prefix="liveshop-checkout-"))
    app = "liveshop.asgi:application"
    if args.trace or args.profile or args.sample or args.django_slots:
        (workdir / "bench_checkout_trace.py").write_text(TRACE_MODULE)
        env = {**env, "PYTHONPATH": str(workdir)}
        if args.trace:
            env["BENCH_TRACE_FILE"] = str(workdir / "trace.log")
        if args.profile:
            env["BENCH_PROFILE_FILE"] = str(workdir / "requests.prof")
        if args.sample:
            env["BENCH_SAMPLE_FILE"] = str(workdir / "samples.json")
        if args.django_slots:
            env["BENCH_DJANGO_SLOTS"] = str(args.django_slots)
        app = "bench_checkout_trace:application"
    server = None
    try:
        port = _common.free_port()
        server = _common.start_uvicorn(port, env, args.server_cpu, workdir / "uvicorn.log", app=app)
        if extra:
            print(f"EXPERIMENT: the server runs with {extra} on top of the production settings")
        if args.django_slots:
            print(f"EXPERIMENT: at most {args.django_slots} requests inside Django at once (--django-slots)")
        print(
            f"uvicorn {app} (production settings, one process, core {args.server_cpu}); "
            f"load client core {args.client_cpu}; load average {load()}; log {workdir / 'uvicorn.log'}"
        )
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        ok = asyncio.run(run(args, Shop(port, ids), server, workdir))
        if args.profile:
            print_profile(workdir / "requests.prof")
        if args.sample:
            print_samples(workdir / "samples.json")
    finally:
        _common.stop(server)
        try:
            _common.cleanup_redis(args.redis_url)
        except Exception as exc:
            print(f"(could not clean the bench's Redis keys: {exc})")
    if not ok:
        print("\nFAILED: an invariant did not hold (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
