"""Page loads of a public live event by anonymous viewers: requests/s of the event page
(``/e/<brand>/<event>/``) and its ``stream_details`` JSON, against ``/healthz/`` (one ``SELECT 1``)
measured in the same run on the same server.

One production-settings uvicorn process (bench/_common.py: DJANGO_DEBUG=false, PostgreSQL, Redis)
pinned to --server-cpu; wrk (``apt-get install wrk``) with --connections keep-alive connections
and 2 threads pinned to --client-cpu runs --duration seconds per URL after a --warmup. Each URL is
measured --rounds times, interleaved (healthz, page, details, healthz, ...), and the best round
of each is kept (the machine is shared: the best round is the one least disturbed). With
``--change-every S`` a background thread features a product every S seconds meanwhile (each
change bumps the event's page version), so the cache's rebuilds are part of the figures.

    .venv/bin/python bench/page_load.py
    .venv/bin/python bench/page_load.py --duration 10 --rounds 3 --change-every 1
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import _common

WRK_SUMMARY = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_LATENCY = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
# As from the load balancer that ends TLS (uvicorn --proxy-headers): production redirects plain HTTP.
FORWARDED = {"X-Forwarded-Proto": "https"}
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, *, connections: int, duration: float, cpu: int | None, headers: dict | None = None) -> dict:
    """One wrk run: requests/s, p99 latency (ms), non-2xx responses and socket errors."""
    cmd = [
        *_common.taskset(cpu),
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
    ]
    sent = {**FORWARDED, **(headers or {})}
    cmd += [arg for name, value in sent.items() for arg in ("-H", f"{name}: {value}")] + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    rate = float(WRK_SUMMARY.search(out).group(1))
    latency = WRK_LATENCY.search(out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rate,
        "p99_ms": float(latency.group(1)) * UNIT_MS[latency.group(2)] if latency else float("nan"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def check(port: int, path: str) -> dict[str, str]:
    """A single GET: it must answer 200; returns the headers that say how it may be cached."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=FORWARDED)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        return {name: response.getheader(name, "") for name in ("Cache-Control", "Vary", "Set-Cookie")}
    finally:
        conn.close()


def feature_loop(event, products, host, every: float, stop: threading.Event, count: list[int]) -> None:
    """Feature the two products in turn every ``every`` s (the real service: commit, publish)."""
    from events import services

    i = 0
    while not stop.wait(every):
        services.feature_product(event=event, product=products[i % 2], by=host)
        i += 1
        count[0] = i


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--change-every", type=float, default=0, help="feature a product every S s (0: never)"
    )
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--db-url", default=_common.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")

    static_root = Path(tempfile.mkdtemp(prefix="liveshop-page-load-static-"))
    env = _common.server_env(args.db_url, args.redis_url, DJANGO_STATIC_ROOT=str(static_root))
    # Production serves the collected, hashed static files (the page's tags name them).
    collect = [_common.PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"]
    subprocess.run(collect, cwd=_common.ROOT, env=env, check=True, timeout=300)
    _common.ensure_database(args.db_url)
    _common.migrate(env)
    _common.pin(args.client_cpu)
    _common.setup_django(env)
    event, products, host = _common.seed_show()
    server = stopper = None
    try:
        port = _common.free_port()
        log = Path(tempfile.mkdtemp(prefix="liveshop-page-load-")) / "uvicorn.log"
        server = _common.start_uvicorn(port, env, args.server_cpu, log)
        paths = {
            "healthz": "/healthz/",
            "page": f"/e/{event.organization.slug}/{event.slug}/",
            "stream_details": f"/api/events/{event.pk}/stream_details/",
        }
        headers = {name: check(port, path) for name, path in paths.items()}
        urls = {name: f"http://127.0.0.1:{port}{path}" for name, path in paths.items()}
        for url in urls.values():
            wrk(url, connections=args.connections, duration=args.warmup, cpu=args.client_cpu)
        stop, changes = threading.Event(), [0]
        if args.change_every:
            stopper = stop
            threading.Thread(
                target=feature_loop,
                args=(event, products, host, args.change_every, stop, changes),
                daemon=True,
            ).start()
        runs: dict[str, list[dict]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                runs[name].append(
                    wrk(url, connections=args.connections, duration=args.duration, cpu=args.client_cpu)
                )
        stop.set()
        best = {name: max(results, key=lambda r: r["rps"]) for name, results in runs.items()}
        report(args, best, runs, headers, changes[0])
        if args.json:
            print(
                json.dumps({"best": best, "runs": runs, "headers": headers, "changes": changes[0]}, indent=2)
            )
        print(f"\nserver log: {log}")
    finally:
        if stopper is not None:
            stopper.set()
        _common.stop(server)
        _common.cleanup_redis(args.redis_url)
        shutil.rmtree(static_root, ignore_errors=True)


def report(args, best: dict, runs: dict, headers: dict, changes: int) -> None:
    reference = best["healthz"]["rps"]
    print(
        f"\n{args.connections} connections, {args.duration:g} s x {args.rounds} rounds per URL (best kept), "
        f"one uvicorn process; {changes} features during the runs\n"
    )
    print("| URL | req/s (best) | all rounds | p99 ms | vs /healthz/ | non-2xx | Cache-Control |")
    print("|---|---|---|---|---|---|---|")
    for name, result in best.items():
        rounds = ", ".join(f"{r['rps']:.0f}" for r in runs[name])
        control = headers[name]["Cache-Control"] or "-"
        print(
            f"| {name} | {result['rps']:.0f} | {rounds} | {result['p99_ms']:.1f} | "
            f"{result['rps'] / reference:.2f}x | {result['non_2xx']} | {control} |"
        )


if __name__ == "__main__":
    main()
