"""The local recommender: training time at --interactions (1 million by default) and the related
products endpoint under --connections concurrent requests (200 by default, the issue's figure),
for anonymous viewers (one shared answer per product) and for a signed-in viewer (their own
answer: the model from memory, one query for the available products and what they bought),
against ``/healthz/`` measured the same way on the same server in the same run.

One production-settings uvicorn process (bench/_common.py) pinned to --server-cpu; wrk pinned to
--client-cpu; every URL measured --rounds times, interleaved, the best round kept. The brand has
--products products and a model trained from generated interactions (recommendations.generator).

    .venv/bin/python bench/recommendations.py
    .venv/bin/python bench/recommendations.py --interactions 200000 --duration 5
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common
from page_load import check, wrk


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
        log = Path(tempfile.mkdtemp(prefix="liveshop-recommendations-")) / "uvicorn.log"
        server = _common.start_uvicorn(port, env, args.server_cpu, log)
        related = f"/api/recommendations/{slug}/{product_id}/?medium=live&campaign=bench"
        cases = {"healthz": ("/healthz/", None), "anonymous": (related, None), "signed-in": (related, cookie)}
        for path, _ in cases.values():
            check(port, path)
        runs: dict[str, list[dict]] = {name: [] for name in cases}
        for round_number in range(args.rounds + 1):
            for name, (path, session) in cases.items():
                headers = {"Cookie": session} if session else {}
                duration = args.warmup if round_number == 0 else args.duration
                result = wrk(
                    f"http://127.0.0.1:{port}{path}",
                    connections=args.connections,
                    duration=duration,
                    cpu=args.client_cpu,
                    headers=headers,
                )
                if round_number:
                    runs[name].append(result)
        best = {name: max(results, key=lambda r: r["rps"]) for name, results in runs.items()}
        reference = best["healthz"]["rps"]
        print(f"\n{args.connections} connections, {args.duration:g} s x {args.rounds} rounds (best kept)\n")
        print("| URL | req/s | p99 ms | vs /healthz/ | non-2xx |")
        print("|---|---|---|---|---|")
        for name, result in best.items():
            if result["socket_errors"]:
                print(f"({name}: {result['socket_errors']})")
            print(
                f"| {name} | {result['rps']:.0f} | {result['p99_ms']:.1f} | "
                f"{result['rps'] / max(reference, 1e-9):.2f}x | {result['non_2xx']} |"
            )
        print(f"\nserver log: {log}")
    finally:
        _common.stop(server)
        _common.cleanup_redis(args.redis_url)


if __name__ == "__main__":
    main()
