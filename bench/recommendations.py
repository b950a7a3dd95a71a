"""The local recommender: training time at --interactions (1 million by default) and the related
products endpoint under --connections concurrent requests (200 by default, the issue's figure),
for anonymous viewers (one shared answer per product), for a signed-in viewer's page (per card the
shared answer with its spares, sent without cookies; once per page what they bought) and for a
signed-in viewer's own row (the API with their session: the shared answer less what they bought),
against ``/healthz/`` measured the same way on the same server in the same run.

One production-settings uvicorn process (bench/_common.py) pinned to --server-cpu; wrk pinned to
--client-cpu; every URL measured --rounds times, interleaved, the best round kept. The brand has
--products products and a model trained from generated interactions (recommendations.generator).

Besides wrk's (client) latency, the server reports its own per request (a timing wrapper around
the ASGI app, TIMING_APP): "app", from the app's call to its last byte (what the issue's "at the
server" means: it still includes waiting for the event loop and for Django's one thread for sync
views, i.e. the queue of 200 concurrent requests), "view", inside the view alone (the work one
request costs, no queue), and the server process's CPU time per request.

    .venv/bin/python bench/recommendations.py
    .venv/bin/python bench/recommendations.py --interactions 200000 --duration 5
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common
from page_load import FORWARDED, check, wrk

# The server's app: liveshop.asgi's, with each request's time recorded (wall time in the app and
# in the view; the process's CPU time), answered and reset at TIMING_PATH. The views are wrapped
# before the URLconf is imported, so it routes to the wrapped ones.
TIMING_PATH = "/__bench_timing__/"
TIMING_APP = """
import json, time
import django
django.setup()
import liveshop.views, recommendations.views

_app, _view = [], []
_cpu = [time.process_time()]

def _timed(view):
    def timed(request, *args, **kwargs):
        started = time.perf_counter()
        try:
            return view(request, *args, **kwargs)
        finally:
            _view.append(time.perf_counter() - started)
    return timed

liveshop.views.healthz = _timed(liveshop.views.healthz)
recommendations.views.related_view = _timed(recommendations.views.related_view)
recommendations.views.bought_view = _timed(recommendations.views.bought_view)

from liveshop.asgi import application as _inner

async def application(scope, receive, send):
    if scope["type"] != "http":
        return await _inner(scope, receive, send)
    if scope["path"] == "/__bench_timing__/":  # TIMING_PATH
        cpu = time.process_time()
        body = json.dumps({"app": _app[:], "view": _view[:], "cpu": cpu - _cpu[0]}).encode()
        _app.clear(); _view.clear(); _cpu[0] = cpu
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    started = time.perf_counter()
    async def timed_send(message):
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            _app.append(time.perf_counter() - started)
    await _inner(scope, receive, timed_send)
"""


def server_timing(port: int) -> dict:
    """What the server recorded since the last call (and reset): p50/p99 ms in the app and in the
    view, CPU ms per request."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)  # after the queue drains
    try:
        conn.request("GET", TIMING_PATH, headers=FORWARDED)
        data = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    count = max(len(data["app"]), 1)
    return {
        "app_p50": _percentile(data["app"], 50),
        "app_p99": _percentile(data["app"], 99),
        "view_p50": _percentile(data["view"], 50),
        "view_p99": _percentile(data["view"], 99),
        "cpu_ms": data["cpu"] * 1000 / count,
        "requests": len(data["app"]),
    }


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


def training_time(count: int) -> tuple[float, int]:
    """Seconds to train on ``count`` generated interactions (20,000 people, 2,500 products, each
    person's choices within a 60-product neighbourhood), and the products with neighbours."""
    from recommendations.learning import Interaction, train

    rng = random.Random(1)
    kinds = ("click", "click", "add_to_cart", "purchase")
    per_user = 50
    data = []
    for user in range(max(1, count // per_user)):
        base = rng.randrange(0, 2440)
        data += [
            Interaction(f"u{user}", str(base + rng.randrange(60)), rng.random() * 1e6, rng.choice(kinds))
            for _ in range(per_user)
        ]
    started = time.perf_counter()
    model = train(data)
    return time.perf_counter() - started, len(model.neighbours)


def seed(products: int):
    """The bench brand with ``products`` products, a trained model over them, a signed-in viewer's
    session cookie. Returns (brand slug, a product id, cookie)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from catalog.models import Product
    from catalog.variants import ensure_default_variant
    from recommendations import generator, learning
    from recommendations.models import TrainedModel

    event, _, _ = _common.seed_show()
    brand = event.organization
    existing = Product.objects.filter(organization=brand, sku__startswith="REC-").count()
    for number in range(existing, products):
        product = Product.objects.create(
            organization=brand, sku=f"REC-{number:04d}", name=f"Related {number}", price="25.00"
        )
        ensure_default_variant(product=product, stock=100)
    ids = [str(pk) for pk in Product.objects.filter(organization=brand).values_list("pk", flat=True)]
    model = learning.train(generator.planted(ids, users=2000))
    TrainedModel.objects.update_or_create(
        organization=brand,
        defaults={
            "trained_at": timezone.now(),
            "interactions": model.interactions,
            "products": len(model.neighbours),
            "data": model.to_json(),
        },
    )
    viewer, _ = get_user_model().objects.get_or_create(
        username="bench-viewer", defaults={"email": "v@bench.example"}
    )
    session = SessionStore()
    session[SESSION_KEY] = str(viewer.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = viewer.get_session_auth_hash()
    session.create()
    featured = next(pk for pk in ids if model.neighbours.get(pk))
    return brand.slug, featured, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--db-url", default=_common.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")

    env = _common.server_env(args.db_url, args.redis_url)
    _common.ensure_database(args.db_url)
    _common.migrate(env)
    _common.setup_django(env)
    seconds, trained = training_time(args.interactions)
    print(f"Training on {args.interactions:,} interactions: {seconds:.1f} s ({trained:,} products related)")
    slug, product_id, cookie = seed(args.products)
    server = None
    try:
        port = _common.free_port()
        workdir = Path(tempfile.mkdtemp(prefix="liveshop-recommendations-"))
        (workdir / "bench_timed_asgi.py").write_text(TIMING_APP)
        log = workdir / "uvicorn.log"
        timed_env = {**env, "PYTHONPATH": f"{workdir}:{env.get('PYTHONPATH', '')}".rstrip(":")}
        server = _common.start_uvicorn(
            port, timed_env, args.server_cpu, log, app="bench_timed_asgi:application"
        )
        related = f"/api/recommendations/{slug}/{product_id}/?medium=live&campaign=bench"
        bought = f"/api/recommendations/{slug}/bought/"
        cases = {
            "healthz": ("/healthz/", None),
            "anonymous": (related, None),
            # What a signed-in viewer's page asks: per card, the shared answer without cookies;
            # once per page (and after a payment), what they bought (static/js/viewer/related.js).
            "signed-in page, per card": (f"{related}&shared=1", None),
            "signed-in page, once: bought": (bought, cookie),
            "signed-in, own row (API)": (related, cookie),
        }
        for path, _ in cases.values():
            check(port, path)
        runs: dict[str, list[dict]] = {name: [] for name in cases}
        loads = [os.getloadavg()]
        for round_number in range(args.rounds + 1):
            for name, (path, session) in cases.items():
                headers = {"Cookie": session} if session else {}
                duration = args.warmup if round_number == 0 else args.duration
                server_timing(port)  # reset
                result = wrk(
                    f"http://127.0.0.1:{port}{path}",
                    connections=args.connections,
                    duration=duration,
                    cpu=args.client_cpu,
                    headers=headers,
                )
                result.update(server_timing(port))
                if round_number:
                    runs[name].append(result)
            loads.append(os.getloadavg())
        best = {name: max(results, key=lambda r: r["rps"]) for name, results in runs.items()}
        reference = best["healthz"]["rps"]
        print(f"\n{args.connections} connections, {args.duration:g} s x {args.rounds} rounds (best kept)\n")
        print(
            "| URL | req/s | vs /healthz/ | client p99 ms | app p50 / p99 ms | view p50 / p99 ms "
            "| CPU ms/request | non-2xx |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, result in best.items():
            if result["socket_errors"]:
                print(f"({name}: {result['socket_errors']})")
            print(
                f"| {name} | {result['rps']:.0f} | {result['rps'] / max(reference, 1e-9):.2f}x "
                f"| {result['p99_ms']:.1f} | {result['app_p50']:.1f} / {result['app_p99']:.1f} "
                f"| {result['view_p50']:.2f} / {result['view_p99']:.2f} | {result['cpu_ms']:.2f} "
                f"| {result['non_2xx']} |"
            )
        print(
            "\nload average (1, 5, 15 min) before and after each round: "
            + "; ".join(" ".join(f"{value:.1f}" for value in load) for load in loads)
        )
        print(f"\nserver log: {log}")
    finally:
        _common.stop(server)
        _common.cleanup_redis(args.redis_url)


if __name__ == "__main__":
    main()
