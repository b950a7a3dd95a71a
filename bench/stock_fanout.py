"""Stock fan-out: a sale sells a product out -> the LAST of N viewers has its "stock" frame.

    .venv/bin/python bench/stock_fanout.py                 # 5,000 viewers, Liveshop then reference
    .venv/bin/python bench/stock_fanout.py --viewers 1000,5000 --messages 20

The harness is bench/fanout.py's (its load client, servers, seeded live show, pinning, CPU
accounting; read its docstring and bench/README.md), with another trigger and frame:

  liveshop   each message sells the last unit of another product of the show's lineup through
             the real checkout services (``commerce.services.add_to_cart`` + ``start_checkout``,
             PAYMENT_BACKEND=test) called here; after commit the stock push (events.realtime.stock,
             on its thread in this process) reads the product's stock and PUBLISHes
             ``{"type":"stock","products":[{"id":<product>,"inStock":false,...}]}`` to the event's
             viewers (and its consoles and the brand's stock topic); the hubs write it to every socket;
  reference  the same frame (another product id) sent on bench/reference_server.py's /trigger
             connection, which calls ``websockets.broadcast()``: a plain broadcast, same run.

Measured per message: from just before the checkout call (or the trigger's send) to the moment the
LAST viewer read the stock frame of that product (CLOCK_MONOTONIC in every process); also from the
checkout's return (its commit) to that moment, which is what the stock push adds to a sale.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common
import fanout

STOCK_PREFIX = b'{"type":"stock"'
PRODUCT_KEY = b'"products":[{"id":'  # the frame's first product: each message sells out another


class StockClientProcess(fanout.ClientProcess):
    """fanout.py's load client, counting stock frames by their first product's id."""

    def __init__(self, cpu: int | None):
        self.proc = subprocess.Popen(
            [*_common.taskset(cpu), _common.PYTHON, str(Path(__file__).resolve()), "--role", "client"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


class StockBench(fanout.Bench):
    def __init__(self, args):
        super().__init__(args)
        self.variants = seed_products(self.event, args.warmup + args.messages)

    def run(self, kind: str, n: int) -> dict:
        from catalog.models import Variant

        Variant.objects.filter(pk__in=[v.pk for v in self.variants]).update(stock=1)
        result = super().run(kind, n)
        after_commit = [
            t["last_ms"] - t["trigger_ms"] for t in result["timeline"] if t["last_ms"] == t["last_ms"]
        ]
        result["commit_p50"] = _common.percentile(after_commit, 50)
        result["commit_p99"] = _common.percentile(after_commit, 99)
        return result

    def feature(self, i: int) -> int:
        """Sell the last unit of the i-th product: a new cart, one line, checkout (reserves it)."""
        from commerce.models import Cart
        from commerce.services import add_to_cart, start_checkout

        variant = self.variants[i]
        cart = Cart.objects.create(organization_id=variant.organization_id)
        add_to_cart(cart=cart, variant_id=variant.pk, event=self.event)
        start_checkout(cart=cart, email="stock-bench@example.com")
        return variant.product_id

    def reference_frame(self, hid: int) -> str:
        """A sold-out stock frame exactly as Liveshop encodes it, for product ``hid``."""
        from events.realtime import encode

        sold_out = {"id": hid, "inStock": False, "left": None}
        return encode("stock", {"products": [{**sold_out, "variants": [{**sold_out, "id": hid + 1}]}]})


def seed_products(event, count: int) -> list:
    """``count`` products of the show's brand in its lineup, each with stock 1 (reset per run)."""
    from catalog.models import Product
    from catalog.variants import ensure_default_variant
    from events.models import EventProduct

    variants = []
    for i in range(count):
        product, _ = Product.objects.get_or_create(
            organization_id=event.organization_id,
            sku=f"STOCK-BENCH-{i:03d}",
            defaults={"name": f"Last one #{i} (bench)", "price": "19.00"},
        )
        variants.append(ensure_default_variant(product=product, stock=1))
        EventProduct.objects.get_or_create(event=event, product=product, defaults={"position": 10 + i})
    return variants


def report(results: list[dict]) -> None:
    print("\nsold out -> last viewer's stock frame, ms (messages measured after warm-up)")
    columns = "p50 | p99 | max | commit -> last p50 | p99 | sale call p50 | lost | server µs/delivery"
    print(f"| run | viewers | {columns} |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    fmt = fanout.fmt
    for r in results:
        commit = (fmt(r["commit_p50"]), fmt(r["commit_p99"])) if "commit_p50" in r else ("-", "-")
        print(
            f"| {r['kind']} | {r['viewers']:,} | {fmt(r['p50'])} | {fmt(r['p99'])} | {fmt(r['max'])} "
            f"| {commit[0]} | {commit[1]} | {fmt(r['trigger_p50'])} | {r['lost']} "
            f"| {fmt(r['cpu_us_per_delivery'])} |"
        )
    by = {(r["kind"], r["viewers"]): r for r in results}
    for (kind, n), live in by.items():
        ref = by.get(("reference", n))
        if kind == "liveshop" and ref:
            print(
                f"\n{n:,} viewers: p99 Liveshop / reference {fmt(live['p99'] / ref['p99'], 2)} "
                f"(commit -> last p99 / reference {fmt(live['commit_p99'] / ref['p99'], 2)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["bench", "client"], default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--viewers", default="5000")
    parser.add_argument("--messages", type=int, default=20, help="sell-outs measured per run")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", default="liveshop,reference")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--ws", default="websockets-sansio")
    parser.add_argument("--reference-loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--min-interval", type=float, default=0.3, help="seconds between sales, at least")
    parser.add_argument("--message-timeout", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=2.5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--db-url", default=_common.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.gc_log = args.gc_freeze = False  # fanout.Bench's options this bench does not offer
    _common.raise_nofile()

    if args.role == "client":
        import uvloop

        fanout.FEATURED_PREFIX, fanout.HIGHLIGHT_KEY = STOCK_PREFIX, PRODUCT_KEY
        uvloop.run(fanout.client_main())
        return

    _common.pin(args.client_cpu)
    fanout.ClientProcess = StockClientProcess  # Bench.run starts its load client by this name
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    plan = [
        (kind, int(n)) for n in args.viewers.split(",") for kind in ("liveshop", "reference") if kind in runs
    ]
    bench = StockBench(args)
    results = []
    try:
        print(f"logs: {bench.logdir}", flush=True)
        for kind, n in plan:
            print(f"-- {kind}, {n:,} viewers", flush=True)
            results.append(bench.run(kind, n))
            r = results[-1]
            print(
                f"   p50 {fanout.fmt(r['p50'])} ms, p99 {fanout.fmt(r['p99'])} ms, lost {r['lost']} "
                f"(connected {r['ready']:,} in {r['connect_s']} s)",
                flush=True,
            )
    finally:
        bench.close()
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    report(results)


if __name__ == "__main__":
    main()
