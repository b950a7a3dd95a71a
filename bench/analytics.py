"""Analytics beacons vs the card fan-out, and the beacon ingest rate (issue 17; prints numbers).

    .venv/bin/python bench/analytics.py [--viewers 1000] [--beacon-viewers 1000,10000]
                                        [--messages 20] [--ingest-seconds 10] [--skip-fanout]
                                        [--ingest-processes 1,2]

1. Fan-out with and without beacons, in the same run: bench/fanout.py's Liveshop run (the
   production ASGI server pinned to --server-cpu, N websocket viewers, K ``feature_product``
   calls, each measured to the LAST viewer's frame), first with no beacons, then while a beacon
   load (``--role beacons``, pinned to --client-cpu) posts the heartbeats of B viewers (one every
   15 s each, spread evenly, each viewer with its own signed viewer cookie) to the SAME server,
   then without again (the second baseline shows the run-to-run noise).
2. Ingest rate: one server, C keep-alive connections posting beacons as fast as it answers for
   --ingest-seconds (accepted beacons/s, latency p50/p99), then ``analytics.services
   .flush_buffer`` run here on what they buffered (records/s, seconds: the roll-up's lag is the
   flush interval plus this).
Needs PostgreSQL and Redis as bench/fanout.py does (--db-url, --redis-url).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common
import fanout

BEACON_PATH = "/api/analytics/beacon/"
HEARTBEAT_S = 15.0

# ---------------------------------------------------------------------------------------------
# The beacon load: raw asyncio HTTP/1.1 keep-alive connections (cheap enough to share a core).
# ---------------------------------------------------------------------------------------------


def viewer_cookies(n: int) -> list[str]:
    """``n`` signed viewer cookies, as the server sets them (liveshop.viewer_id)."""
    from django.core import signing

    from liveshop import viewer_id

    signer = signing.get_cookie_signer(salt=viewer_id.COOKIE + viewer_id.SALT)
    return [f"{viewer_id.COOKIE}={signer.sign(f'bench-viewer-{i:06d}')}" for i in range(n)]


def request_bytes(port: int, cookie: str, body: bytes) -> bytes:
    head = (
        f"POST {BEACON_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: https://127.0.0.1:{port}\r\n"
        "X-Forwarded-Proto: https\r\n"  # behind the TLS-ending load balancer, as bench/_http.py
        f"Content-Type: text/plain\r\nCookie: {cookie}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


class BeaconLoad:
    def __init__(self, port: int | list[int], event_id: int, viewers: int):
        """``port``: one server's, or several servers' (flat_out spreads its connections over them
        in turn, as a load balancer would)."""
        self.ports = port if isinstance(port, list) else [port]
        self.port, self.event_id = self.ports[0], event_id
        self.cookies = viewer_cookies(viewers)
        self.seq = [0] * viewers
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.skipped = 0
        # The reference: GET /healthz/ (a sync Django view with one query), the same way.
        self.reference = False
        self.healthz = (
            f"GET /healthz/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nX-Forwarded-Proto: https\r\n\r\n"
        ).encode()

    def body(self, i: int) -> bytes:
        now = int(time.time() * 1000)
        self.seq[i] += 1
        batch = {
            "event": self.event_id,
            "tab": f"benchtab{i:06d}",
            "seq": self.seq[i],
            "sentAt": now,
            "items": [{"type": "heartbeat", "at": now, "playedMs": int(HEARTBEAT_S * 1000)}],
        }
        return json.dumps(batch).encode()

    async def post(self, conn, i: int, port: int | None = None) -> None:
        reader, writer = conn
        t0 = time.monotonic()
        writer.write(
            self.healthz
            if self.reference
            else request_bytes(port or self.port, self.cookies[i], self.body(i))
        )
        status = await read_response(reader)
        self.latencies.append((time.monotonic() - t0) * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    async def paced(self, connections: int, stop: asyncio.Event) -> None:
        """Every viewer once per HEARTBEAT_S, spread evenly, on ``connections`` connections."""
        n = len(self.cookies)
        interval = HEARTBEAT_S / n
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=connections * 4)

        async def worker():
            conn = None
            while True:
                i = await queue.get()
                try:
                    conn = conn or await asyncio.open_connection("127.0.0.1", self.port)
                    await self.post(conn, i)
                except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                    self.errors += 1  # (the server stops before this load does: the last few)
                    conn = None

        workers = [asyncio.create_task(worker()) for _ in range(connections)]
        start, k = time.monotonic(), 0
        while not stop.is_set():
            await asyncio.sleep(max(0.0, start + k * interval - time.monotonic()))
            try:
                queue.put_nowait(k % n)
            except asyncio.QueueFull:
                self.skipped += 1  # the server is behind: counted, never queued without bound
            k += 1
        for task in workers:
            task.cancel()

    async def flat_out(self, connections: int, seconds: float) -> float:
        """Closed loop: each connection posts its next beacon as soon as the last is answered."""
        deadline = time.monotonic() + seconds
        per = len(self.cookies) // connections

        async def worker(c: int):
            conn, k, port = None, 0, self.ports[c % len(self.ports)]
            while time.monotonic() < deadline:
                # each viewer posts at most once per round, so nothing is "too frequent" by design
                try:
                    conn = conn or await asyncio.open_connection("127.0.0.1", port)
                    await self.post(conn, c * per + k % per, port)
                except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                    self.errors += 1
                    conn = None
                k += 1

        start = time.monotonic()
        await asyncio.gather(*(worker(c) for c in range(connections)))
        return time.monotonic() - start

    def summary(self) -> dict:
        ok = sorted(self.latencies)
        return {
            "posts": len(ok),
            "statuses": self.statuses,
            "errors": self.errors,
            "skipped": self.skipped,
            "p50_ms": round(_common.percentile(ok, 50), 1) if ok else None,
            "p99_ms": round(_common.percentile(ok, 99), 1) if ok else None,
        }


def beacons_main(args) -> None:
    """--role beacons: the paced load until SIGTERM, then one JSON line of its summary."""
    _common.setup_django(json.loads(os.environ["BENCH_ENV"]))
    load = BeaconLoad(args.port, args.event_id, args.beacon_viewers_one)
    print(json.dumps({"ready": True}), flush=True)

    async def run():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await load.paced(args.connections, stop)

    asyncio.run(run())
    print(json.dumps(load.summary()), flush=True)


# ---------------------------------------------------------------------------------------------
# The orchestrator
# ---------------------------------------------------------------------------------------------


class AnalyticsBench(fanout.Bench):
    """bench/fanout.py's Liveshop run, with a beacon load on the same server when asked."""

    beacon_viewers = 0
    load: subprocess.Popen | None = None
    load_summary: dict | None = None

    def start_servers(self, kind, ports, n, current="null", cpus=None):
        servers = super().start_servers(kind, ports, n, current, cpus)
        if self.beacon_viewers:
            cmd = [
                *_common.taskset(self.args.client_cpu), _common.PYTHON, str(Path(__file__).resolve()),
                "--role", "beacons", "--port", str(ports[0]), "--event-id", str(self.event.pk),
                "--beacon-viewers-one", str(self.beacon_viewers), "--connections", str(self.args.connections),
            ]  # fmt: skip
            env = {**os.environ, "BENCH_ENV": json.dumps(self.env)}
            self.load = subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
            )
            assert json.loads(self.load.stdout.readline())["ready"]
            time.sleep(HEARTBEAT_S / 3)  # the load is steady before the first click
        return servers

    def run(self, kind, n):
        try:
            return super().run(kind, n)
        finally:
            if self.load is not None:
                self.load.send_signal(signal.SIGTERM)
                out, _ = self.load.communicate(timeout=30)
                self.load_summary = json.loads(out.strip().splitlines()[-1])
                self.load = None


def fanout_args(args) -> Namespace:
    return Namespace(
        server_cpu=args.server_cpu, client_cpu=args.client_cpu, ws="websockets-sansio",
        reference_loop="uvloop", min_interval=0.3, message_timeout=15.0, settle=2.5, concurrency=50,
        db_url=args.db_url, redis_url=args.redis_url, gc_log=False, gc_freeze=False,
        warmup=1, messages=args.messages, connections=args.connections,
    )  # fmt: skip


def fanout_phase(bench: AnalyticsBench, args) -> list[dict]:
    rows = []
    plan = [0] + [int(b) for b in args.beacon_viewers.split(",") if b] + [0]
    for beacons in plan:
        bench.beacon_viewers = beacons
        bench.load_summary = None
        print(f"-- fan-out to {args.viewers:,} viewers, beacons of {beacons:,} viewers", flush=True)
        result = bench.run("liveshop", args.viewers)
        row = {"beacon_viewers": beacons, "p50": result["p50"], "p99": result["p99"], "lost": result["lost"]}
        row["beacons"] = bench.load_summary
        print(f"   {json.dumps(row)}", flush=True)
        rows.append(row)
    return rows


def ingest_phase(bench: AnalyticsBench, args, processes: int = 1) -> dict:
    """Beacons and the /healthz/ reference flat out against ``processes`` web processes (the load's
    connections spread over them in turn; process i pinned to --server-cpu, --client-cpu, ...
    in turn: the second shares its core with this load), then one flush of what they buffered."""
    from analytics.buffer import get_buffer
    from analytics.services import flush_buffer

    ports = [_common.free_port() for _ in range(processes)]
    cpus = [(args.server_cpu, args.client_cpu)[i % 2] for i in range(processes)]
    servers = [
        _common.start_uvicorn(port, bench.env, cpu, bench.logdir / f"uvicorn-ingest-{processes}-{port}.log")
        for port, cpu in zip(ports, cpus, strict=True)
    ]
    try:
        get_buffer().clear()
        reference = BeaconLoad(ports, bench.event.pk, args.connections)
        reference.reference = True
        print(
            f"-- {processes} web process(es), reference: GET /healthz/, {args.connections} connections, "
            f"{args.ingest_seconds} s",
            flush=True,
        )
        healthz_s = asyncio.run(reference.flat_out(args.connections, args.ingest_seconds))
        load = BeaconLoad(ports, bench.event.pk, args.connections * 200)
        print(f"-- {processes} web process(es), ingest: {args.connections} connections, flat out", flush=True)
        seconds = asyncio.run(load.flat_out(args.connections, args.ingest_seconds))
        summary = load.summary()
        pending = get_buffer().pending()
        t0 = time.monotonic()
        flushed = flush_buffer()
        flush_s = time.monotonic() - t0
    finally:
        for server in servers:
            _common.stop(server)
    return {
        **summary,
        "processes": processes,
        "beacons_per_s": round(summary["posts"] / seconds),
        "healthz_per_s": round(reference.summary()["posts"] / healthz_s),
        "healthz_p99_ms": reference.summary()["p99_ms"],
        "buffered_records": pending,
        "flush_records": flushed.records,
        "flush_s": round(flush_s, 3),
        "flush_records_per_s": round(flushed.records / flush_s) if flush_s else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["bench", "beacons"], default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--event-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--beacon-viewers-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--viewers", type=int, default=1000, help="websocket viewers of the fan-out")
    parser.add_argument("--beacon-viewers", default="1000,10000", help="beacon loads to compare (viewers)")
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16, help="beacon HTTP connections")
    parser.add_argument("--ingest-seconds", type=float, default=10.0)
    parser.add_argument("--skip-fanout", action="store_true")
    parser.add_argument(
        "--ingest-processes", default="1", help="web process counts to measure the ingest rate with, e.g. 1,2"
    )
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--db-url", default=_common.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    args = parser.parse_args()
    _common.raise_nofile()
    if args.role == "beacons":
        beacons_main(args)
        return
    _common.pin(args.client_cpu)
    bench = AnalyticsBench(fanout_args(args))
    try:
        rows = [] if args.skip_fanout else fanout_phase(bench, args)
        ingests = [ingest_phase(bench, args, int(p)) for p in args.ingest_processes.split(",") if p]
    finally:
        bench.close()
        _common.cleanup_redis(args.redis_url)
    print("\nfan-out to the last viewer (ms), same run:")
    base = [r["p99"] for r in rows if not r["beacon_viewers"]]
    for row in rows:
        ratio = row["p99"] / min(base) if base and min(base) else float("nan")
        beacons = row["beacons"] or {}
        print(
            f"  beacons of {row['beacon_viewers']:>6,} viewers: p50 {fanout.fmt(row['p50'])}, "
            f"p99 {fanout.fmt(row['p99'])} ({ratio:.2f}x the best baseline), lost {row['lost']}; "
            f"beacon posts {beacons.get('posts', 0)}, statuses {beacons.get('statuses', {})}, "
            f"beacon p99 {beacons.get('p99_ms')} ms"
        )
    for ingest in ingests:
        print(
            f"ingest, {ingest['processes']} web process(es): {ingest['beacons_per_s']:,} beacons/s "
            f"accepted (p50 {ingest['p50_ms']} ms, p99 {ingest['p99_ms']} ms, statuses "
            f"{ingest['statuses']}); flush of {ingest['flush_records']:,} records in {ingest['flush_s']} s "
            f"({ingest['flush_records_per_s']:,} records/s)"
        )
        print(
            f"  reference, same processes: {ingest['healthz_per_s']:,} GET /healthz/ per s "
            f"(p99 {ingest['healthz_p99_ms']} ms): a beacon costs "
            f"{ingest['healthz_per_s'] / max(1, ingest['beacons_per_s']):.2f}x that request"
        )
    needed = 10_000 / HEARTBEAT_S
    best = max((i["beacons_per_s"] for i in ingests), default=0)
    print(f"10,000 viewers send {needed:.0f} beacons/s; the best measured here answers {best:,}/s")


if __name__ == "__main__":
    main()
