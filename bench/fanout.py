"""Websocket fan-out: click "feature product" -> the LAST viewer has the card (prints numbers).

    .venv/bin/python bench/fanout.py [--viewers 1000,5000,10000] [--messages 20]
                                     [--runs liveshop,reference,two-process] [--two-process-viewers 10000]

For each N it runs, in turn, on loopback:
  liveshop     the production ASGI command (docker/start-web: uvicorn, --ws websockets) with
               DJANGO_DEBUG=false, Redis, a scratch PostgreSQL database (migrated, one live event
               with two products seeded), one process pinned to --server-cpu;
  reference    bench/reference_server.py, a plain ``websockets`` server broadcasting with
               ``websockets.broadcast()``, same pinning;
and, once, ``two-process``: two uvicorn processes on two ports sharing Redis, the viewers split
between them (both on --server-cpu: this is the delivery-to-everyone check, not a speed-up).

A load client (this file with ``--role client``, pinned to --client-cpu, raw asyncio sockets on
uvloop so that it stays cheap) connects N viewers, waits until each has its snapshot, then K
features are triggered, each only after the previous one reached every viewer (and at least
--min-interval apart, which keeps the in-band cues under IVS's 5 calls/s):
  liveshop     ``events.services.feature_product(...)`` called here (Django set up against the
               same database and Redis, VIDEO_BACKEND=ivs pointed at a local IVS stand-in): the
               real service path, which PUBLISHes after commit;
  reference    the same ~440-byte frame (a real product_featured frame, another highlightId)
               sent on the reference server's /trigger connection.
Measured per message: from just before the trigger to the moment the LAST viewer read a frame
with that highlightId (CLOCK_MONOTONIC in both processes). Also: messages lost (expected
deliveries - received), and server CPU per delivered message (psutil, user+system of the server
processes, summed over each message's click-to-last-viewer window).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common

FEATURED_PREFIX = b'{"type":"product_featured"'
SNAPSHOT_PREFIX = b'{"type":"snapshot"'
HIGHLIGHT_KEY = b'"highlightId":'

# ---------------------------------------------------------------------------------------------
# The load client: one process, N raw websocket connections, no per-socket task.
# ---------------------------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.counts: dict[int, int] = {}
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.ready = 0
        self.to_snapshot: list[float] = []  # seconds from opening the TCP connection to the snapshot
        self.lost_after_ready = 0
        self.accepting = True  # after the connect phase, late snapshots do not make a viewer count
        self.waiting: tuple[int, int, asyncio.Future] | None = None  # (highlight id, target, done)
        self.storm: Storm | None = None


class Storm:
    """--reconnect-storm: every viewer whose socket closes reconnects as viewer.js does (backoff
    from 0.5 s doubling up to 5 s, each wait drawn from [ceiling/2, ceiling]; reset by a
    snapshot), and notes when it first holds the ``target`` highlight (in a snapshot or a
    product_featured frame)."""

    FIRST, MAX = 0.5, 5.0  # viewer.js SOCKET_BACKOFF_MS

    def __init__(self, viewers: int):
        self.viewers = viewers
        self.target: int | None = None
        self.held: list[float] = []
        self.attempts = 0
        self.snapshots = 0
        self.done = asyncio.get_running_loop().create_future()

    def hold(self, viewer: Viewer, hid: int) -> None:
        if hid != self.target or viewer.held is not None:
            return
        viewer.held = time.monotonic()
        self.held.append(viewer.held)
        if len(self.held) >= self.viewers and not self.done.done():
            self.done.set_result(None)


class Viewer(asyncio.Protocol):
    """A websocket client reduced to what the benchmark needs: handshake, unmasked server frames,
    pong. It counts each product_featured frame once per highlightId."""

    def __init__(self, stats: Stats, target: list, ready: asyncio.Future):
        self.stats = stats
        self.target = target  # [host, port, path]
        self.request = handshake(*target)
        self.ready = ready
        self.started = time.monotonic()
        self.attempt = 0  # reconnects since the last snapshot (--reconnect-storm)
        self.held: float | None = None  # when it first held the storm's target highlight
        self.buffer = b""
        self.upgraded = False
        self.last_id = -1
        self.transport = None
        self.live = False  # connected in time: its frames count

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        if self.live and self.stats.storm is not None:
            self.reconnect_later()
        elif self.live:
            self.stats.lost_after_ready += 1
        elif not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before the snapshot ({exc})"))

    def data_received(self, data: bytes):
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(data[: data.find(b"\r\n")].decode()))
                self.transport.abort()
                return
            self.upgraded = True
            data = data[end + 4 :]
        pos, size = 0, len(data)
        while size - pos >= 2:
            length = data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + length
            if end > size:
                break
            self.frame(data[pos] & 0x0F, data[start:end])
            pos = end
        if pos < size:
            self.buffer = data[pos:]

    def frame(self, opcode: int, payload: bytes):
        if opcode == 1:
            if payload.startswith(FEATURED_PREFIX):
                if not self.live:
                    return
                now = time.monotonic()
                i = payload.find(HIGHLIGHT_KEY) + len(HIGHLIGHT_KEY)
                j = i
                while 48 <= payload[j] <= 57:
                    j += 1
                hid = int(payload[i:j])
                if hid == self.last_id:
                    return
                self.last_id = hid
                stats = self.stats
                count = stats.counts.get(hid, 0) + 1
                stats.counts[hid] = count
                stats.last[hid] = now
                if count == 1:
                    stats.first[hid] = now
                waiting = stats.waiting
                if waiting and waiting[0] == hid and count >= waiting[1] and not waiting[2].done():
                    waiting[2].set_result(None)
                if stats.storm is not None:
                    stats.storm.hold(self, hid)
            elif payload.startswith(SNAPSHOT_PREFIX) and self.live and self.stats.storm is not None:
                self.attempt = 0
                self.stats.storm.snapshots += 1
                i = payload.find(HIGHLIGHT_KEY)
                if i >= 0:
                    i += len(HIGHLIGHT_KEY)
                    j = i
                    while 48 <= payload[j] <= 57:
                        j += 1
                    self.stats.storm.hold(self, int(payload[i:j]))
            elif payload.startswith(SNAPSHOT_PREFIX) and not self.ready.done():
                if self.stats.accepting:
                    self.live = True
                    self.stats.ready += 1
                    self.stats.to_snapshot.append(time.monotonic() - self.started)
                    self.ready.set_result(None)
                else:
                    self.transport.abort()
        elif opcode == 9:  # ping: answer with a masked pong
            mask = os.urandom(4)
            body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + body)
        elif opcode == 8:
            self.transport.write(b"\x88\x80" + os.urandom(4))
            self.transport.close()

    def reconnect_later(self) -> None:
        ceiling = min(Storm.MAX, Storm.FIRST * 2**self.attempt)
        self.attempt += 1
        delay = ceiling / 2 + random.random() * ceiling / 2
        asyncio.get_running_loop().call_later(delay, lambda: asyncio.ensure_future(self.reopen()))

    async def reopen(self) -> None:
        self.buffer, self.upgraded, self.transport = b"", False, None
        self.request = handshake(*self.target)
        self.stats.storm.attempts += 1
        host, port, _ = self.target
        try:
            await asyncio.get_running_loop().create_connection(lambda: self, host, port)
        except OSError:  # nothing listens yet: the server is still restarting
            self.reconnect_later()


def handshake(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n"
    ).encode()


class LoadClient:
    def __init__(self):
        self.stats = Stats()
        self.viewers: list[Viewer] = []

    async def connect(self, targets: list[list], n: int, concurrency: int, timeout: float) -> dict:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        errors: dict[str, int] = {}
        started = time.monotonic()

        async def one(i: int) -> None:
            host, port, path = targets[i % len(targets)]
            async with gate:
                ready = loop.create_future()
                try:
                    _, viewer = await loop.create_connection(
                        lambda: Viewer(self.stats, [host, port, path], ready), host, port
                    )
                    self.viewers.append(viewer)
                    await asyncio.wait_for(asyncio.shield(ready), 30)
                except Exception as exc:
                    key = type(exc).__name__ + ": " + str(exc)[:80]
                    errors[key] = errors.get(key, 0) + 1
                    if not ready.done():
                        ready.cancel()

        tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        self.stats.accepting = False
        for task in pending:
            task.cancel()
        for viewer in self.viewers:
            if not viewer.live and viewer.transport is not None:
                viewer.transport.abort()
        times = self.stats.to_snapshot
        seconds = time.monotonic() - started
        return {
            "ready": self.stats.ready,
            "errors": errors,
            "timed_out": len(pending),
            "seconds": round(seconds, 2),
            "handshakes_per_s": round(self.stats.ready / seconds, 1) if seconds else 0,
            "to_snapshot_p50_ms": round(_common.percentile(times, 50) * 1000, 1),
            "to_snapshot_p99_ms": round(_common.percentile(times, 99) * 1000, 1),
        }

    async def storm_arm(self) -> dict:
        """From now on every viewer that loses its socket reconnects (--reconnect-storm)."""
        self.stats.storm = Storm(self.stats.ready - self.stats.lost_after_ready)
        return {"viewers": self.stats.storm.viewers}

    async def storm_target(self, hid: int) -> dict:
        self.stats.storm.target = hid
        return {}

    async def storm_wait(self, timeout: float) -> dict:
        """Until every viewer holds the target (or ``timeout``): the monotonic times they did."""
        storm = self.stats.storm
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(storm.done), timeout)
        held = sorted(storm.held)
        return {
            "viewers": storm.viewers,
            "held": len(held),
            "attempts": storm.attempts,
            "snapshots": storm.snapshots,
            "t_held": [held[int(q * (len(held) - 1))] for q in (0, 0.5, 0.99, 1)] if held else [],
        }

    async def wait(self, hid: int, timeout: float) -> dict:
        stats = self.stats
        target = stats.ready - stats.lost_after_ready
        if stats.counts.get(hid, 0) < target:
            done = asyncio.get_running_loop().create_future()
            stats.waiting = (hid, target, done)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done, timeout)
            stats.waiting = None
        return {
            "id": hid,
            "count": stats.counts.get(hid, 0),
            "expected": target,
            "t_first": stats.first.get(hid),
            "t_last": stats.last.get(hid),
        }

    def abort(self) -> None:
        """Reset every connection (no TIME_WAIT left behind on the client's ports)."""
        for viewer in self.viewers:
            if viewer.transport is not None:
                viewer.transport.abort()

    def summary(self) -> dict:
        return {
            "counts": {str(k): v for k, v in self.stats.counts.items()},
            "ready": self.stats.ready,
            "closed_after_ready": self.stats.lost_after_ready,
        }


async def client_main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    client = LoadClient()
    while line := await reader.readline():
        command = json.loads(line)
        cmd = command.pop("cmd")
        if cmd == "connect":
            result = await client.connect(**command)
        elif cmd == "wait":
            result = await client.wait(**command)
        elif cmd == "summary":
            result = client.summary()
        elif cmd.startswith("storm_"):
            result = await getattr(client, cmd)(**command)
        else:
            break
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    client.abort()
    await asyncio.sleep(0.1)


class ClientProcess:
    """The orchestrator's handle on a load client subprocess (JSON lines over stdin/stdout)."""

    def __init__(self, cpu: int | None):
        self.proc = subprocess.Popen(
            [*_common.taskset(cpu), _common.PYTHON, str(Path(__file__).resolve()), "--role", "client"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def call(self, cmd: str, deadline: float = 60, **kwargs) -> dict:
        """Send a command; its answer must come within ``deadline`` seconds past the command's
        own timeout, if it has one."""
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], deadline + kwargs.get("timeout", 0))
        if not ready:
            raise TimeoutError(f"the load client did not answer {cmd!r}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the load client exited")
        return json.loads(line)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        _common.stop(self.proc)


# ---------------------------------------------------------------------------------------------
# The orchestrator
# ---------------------------------------------------------------------------------------------

# --gc-log: loaded into the server processes (PYTHONPATH) to log each garbage collection that
# takes 5 ms or more, on the shared monotonic clock; SIGUSR2 logs how many objects the GC tracks;
# SIGUSR1 runs gc.freeze() (--gc-freeze).
GC_DIAGNOSTICS = """
import gc, os, signal, time
_log = open(os.path.join(os.environ["BENCH_GC_DIR"], "gc-%d.log" % os.getpid()), "a", buffering=1)
_started = [0.0]
def _gc_event(phase, info):
    if phase == "start":
        _started[0] = time.monotonic()
        return
    now = time.monotonic()
    if now - _started[0] >= 0.005:
        _log.write("%.4f %.4f %d %d\\n" % (_started[0], now, info["generation"], info["collected"]))
gc.callbacks.append(_gc_event)
signal.signal(signal.SIGUSR1, lambda *_: gc.freeze())
def _count(*_):
    import collections
    objects = gc.get_objects()
    _log.write("objects %d\\n" % len(objects))
    top = collections.Counter(type(o).__qualname__ for o in objects).most_common(40)
    _log.write("# types " + " ".join("%s=%d" % pair for pair in top) + "\\n")
    del objects, top
    started = time.monotonic()
    gc.collect()  # what a full collection at this size stops the loop for
    _log.write("# full collection %.1f ms\\n" % ((time.monotonic() - started) * 1000))
signal.signal(signal.SIGUSR2, _count)
"""


class Bench:
    def __init__(self, args):
        self.args = args
        self.logdir = Path(tempfile.mkdtemp(prefix="liveshop-fanout-"))
        self.ivs = _common.IVSStub(cpu=args.client_cpu)
        extra = _common.ivs_env(self.ivs.url)
        self.env = _common.server_env(args.db_url, args.redis_url, **extra)
        self.gc_dir = None
        if args.gc_log or args.gc_freeze:
            self.gc_dir = self.logdir / "gc"
            self.gc_dir.mkdir()
            (self.gc_dir / "sitecustomize.py").write_text(GC_DIAGNOSTICS)
            self.server_extra = {"PYTHONPATH": str(self.gc_dir), "BENCH_GC_DIR": str(self.gc_dir)}
        else:
            self.server_extra = {}
        _common.ensure_database(args.db_url)
        _common.migrate(self.env)
        _common.setup_django(self.env)
        self.event, self.products, self.host = _common.seed_show()
        self.reference_id = 10_000_000
        self.published_at: float | None = None
        self._note_the_viewers_publish()

    def _note_the_viewers_publish(self) -> None:
        """Note when ``feature`` hands the viewers' frame to Redis (the fan-out proper starts
        there; before it is the click's write: lock, insert, commit, the cue, the card's reads)."""
        from events.realtime import publishing

        viewers = publishing.event_group_name(self.event.pk)
        publish = publishing.publish

        def noted(topic: str, text: str) -> None:
            if topic == viewers:
                self.published_at = time.monotonic()
            publish(topic, text)

        publishing.publish = noted

    # Triggers

    def feature(self, i: int) -> int:
        """The real service path: the highlight is written, and after commit the cue is handed
        to the cue pool and the card PUBLISHed."""
        from events.services import feature_product

        return feature_product(event=self.event, product=self.products[i % 2], by=self.host).pk

    def reference_frame(self, hid: int) -> str:
        """A product_featured frame exactly as Liveshop encodes it, with another highlightId."""
        from django.utils import timezone

        from events.models import Highlight
        from events.payloads import highlight_payload
        from events.realtime import encode

        highlight = Highlight(pk=hid, event=self.event, product=self.products[0], offset_ms=123_456)
        highlight.created_at = timezone.now()
        return encode("product.featured", highlight_payload(highlight))

    # Servers

    def path(self, kind: str) -> str:
        return "/viewer" if kind.startswith("reference") else f"/ws/events/{self.event.pk}/"

    def start_servers(
        self, kind: str, ports: list[int], n: int, current: str = "null", cpus: list[int] | None = None
    ) -> list[subprocess.Popen]:
        """One server per port, started side by side (as a deploy restarts them), each pinned to
        --server-cpu (or ``cpus[i]``). ``current``: the reference server's highlight until its
        first broadcast."""
        from concurrent.futures import ThreadPoolExecutor

        args = self.args

        def start(i: int) -> subprocess.Popen:
            port, cpu = ports[i], cpus[i] if cpus else args.server_cpu
            if kind.startswith("reference"):
                script = str(Path(__file__).resolve().parent / "reference_server.py")
                cmd = [*_common.taskset(cpu), _common.PYTHON, script, "--port", str(port)]
                cmd += ["--loop", args.reference_loop, "--current", current]
                env = {**os.environ, **self.server_extra}
                proc = subprocess.Popen(cmd, env=env, start_new_session=True)
                _common.wait_for_port(port, proc)
                return proc
            log = self.logdir / f"uvicorn-{kind}-{n}-{port}.log"
            env = {**self.env, **self.server_extra}
            return _common.start_uvicorn(port, env, cpu, log, ws=args.ws)

        with ThreadPoolExecutor(len(ports)) as pool:
            return list(pool.map(start, range(len(ports))))

    # One run: servers up, N viewers, K messages, servers down

    def run(self, kind: str, n: int) -> dict:
        import psutil

        args = self.args
        servers: list[subprocess.Popen] = []
        client = None
        stack = contextlib.ExitStack()
        try:
            ports = [_common.free_port() for _ in range(2 if kind == "two-process" else 1)]
            servers.extend(self.start_servers(kind, ports, n))
            targets = [["127.0.0.1", port, self.path(kind)] for port in ports]
            procs = [psutil.Process(s.pid) for s in servers]

            client = ClientProcess(args.client_cpu)
            connect_timeout = max(90.0, n / 25)  # Liveshop accepts 30-80 viewers/s per process here
            connected = client.call(
                "connect", targets=targets, n=n, concurrency=args.concurrency, timeout=connect_timeout
            )
            if connected["ready"] < n:
                print(f"  !! only {connected['ready']}/{n} viewers connected: {connected}", flush=True)
            if self.gc_dir is not None:
                for server in servers:
                    os.kill(server.pid, signal.SIGUSR2)
                time.sleep(0.5)  # counted before any freeze (pending handlers run in signal order)
            if args.gc_freeze:
                for server in servers:
                    os.kill(server.pid, signal.SIGUSR1)
            time.sleep(args.settle)  # viewer counts settle (the hub pushes a changed count each second)

            if kind == "reference":
                from websockets.sync.client import connect as ws_connect

                trigger = stack.enter_context(
                    ws_connect(f"ws://127.0.0.1:{targets[0][1]}/trigger", compression=None)
                )

            latencies, cpu_total, expected_total, received_total, warm = [], 0.0, 0, 0, []
            service_ms, first_ms, timeline, from_publish = [], [], [], []
            started = time.monotonic()
            next_at = 0.0
            for i in range(args.warmup + args.messages):
                time.sleep(max(0.0, next_at - time.monotonic()))
                cpu0 = cpu_seconds(procs)
                if kind == "reference":
                    self.reference_id += 1
                    hid = self.reference_id
                    frame = self.reference_frame(hid)
                    t0 = time.monotonic()
                    trigger.send(frame)
                else:
                    t0 = time.monotonic()
                    self.published_at = None
                    hid = self.feature(i)
                returned = time.monotonic()
                published = t0 if kind == "reference" else self.published_at
                next_at = t0 + args.min_interval
                result = client.call("wait", hid=hid, timeout=args.message_timeout)
                cpu1 = cpu_seconds(procs)
                ms = (result["t_last"] - t0) * 1000 if result["t_last"] else float("nan")
                if result["count"] < result["expected"]:
                    ms = float("nan")
                if i < args.warmup:
                    warm.append(ms)
                    continue
                latencies.append(ms)
                from_publish.append(
                    (result["t_last"] - published) * 1000 if ms == ms and published else float("nan")
                )
                service_ms.append((returned - t0) * 1000)
                timeline.append(
                    {
                        "t": round(t0 - started, 3),
                        "t0_abs": t0,
                        "t_last_abs": result["t_last"],
                        "trigger_ms": round((returned - t0) * 1000, 1),
                        "first_ms": round((result["t_first"] - t0) * 1000, 1) if result["t_first"] else None,
                        "last_ms": round(ms, 1),
                        "server_cpu_ms": round((cpu1 - cpu0) * 1000, 1),
                    }
                )
                first_ms.append((result["t_first"] - t0) * 1000 if result["t_first"] else float("nan"))
                cpu_total += cpu1 - cpu0
                expected_total += result["expected"]
                received_total += result["count"]

            time.sleep(0.5)  # late frames still count as delivered (they show up in "late")
            summary = client.call("summary")
            measured_ids = sorted(int(k) for k in summary["counts"])[args.warmup :]
            final_received = sum(summary["counts"][str(k)] for k in measured_ids)
            ok = [v for v in latencies if v == v]
            return {
                "kind": kind,
                "viewers": n,
                "ready": connected["ready"],
                "connect_s": connected["seconds"],
                "handshakes_per_s": connected["handshakes_per_s"],
                "to_snapshot_p50_ms": connected["to_snapshot_p50_ms"],
                "to_snapshot_p99_ms": connected["to_snapshot_p99_ms"],
                "connect_errors": connected["errors"],
                "messages": len(latencies),
                "warmup_ms": warm,
                "latencies_ms": latencies,
                "p50": _common.percentile(ok, 50),
                "p99": _common.percentile(ok, 99),
                "max": max(ok) if ok else float("nan"),
                "publish_p50": _common.percentile([v for v in from_publish if v == v], 50),
                "publish_p99": _common.percentile([v for v in from_publish if v == v], 99),
                "trigger_p50": _common.percentile(service_ms, 50),
                "first_p50": _common.percentile([v for v in first_ms if v == v], 50),
                "expected": expected_total,
                "received_in_time": received_total,
                "lost": expected_total - final_received,
                "late": final_received - received_total,
                "closed_after_ready": summary["closed_after_ready"],
                "cpu_us_per_delivery": cpu_total / max(1, received_total) * 1e6,
                "servers": len(servers),
                "timeline": timeline,
                "gc": self.gc_pauses(servers, timeline),
            }
        finally:
            stack.close()
            if client is not None:
                client.close()
            for server in servers:
                _common.stop(server)

    def run_storm(self, kind: str, n: int) -> dict:
        """--reconnect-storm: N viewers on two processes (one per core of --storm-server-cpus);
        every viewer holds highlight A; both servers are killed (SIGKILL: every socket reset at
        once), B is featured while they are down (the reference: started with B as its current
        frame), they are started again on the same ports, and every viewer reconnects as
        viewer.js does. Measured from the kill: when each viewer holds B again."""
        args = self.args
        ports = [_common.free_port() for _ in range(2)]
        targets = [["127.0.0.1", port, self.path(kind)] for port in ports]
        servers: list[subprocess.Popen] = []
        cpus = [int(c) for c in args.storm_server_cpus.split(",")]
        client = ClientProcess(args.client_cpu)
        try:
            servers = self.start_servers(kind, ports, n, cpus=cpus)
            connected = client.call(
                "connect", targets=targets, n=n, concurrency=args.concurrency, timeout=max(90.0, n / 25)
            )
            time.sleep(args.settle)
            first = self.storm_feature(kind, ports, 0)
            before = client.call("wait", hid=first, timeout=args.message_timeout)
            client.call("storm_arm")
            t_stop = time.monotonic()
            for server in servers:  # killed: every socket is reset at once, as in a crash
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
            for server in servers:
                server.wait(10)
            t_down = time.monotonic()
            current = "null"
            if kind.startswith("reference"):
                self.reference_id += 1
                target, current = self.reference_id, self.reference_frame(self.reference_id)
            else:
                target = self.feature(1)
            client.call("storm_target", hid=target)
            servers = self.start_servers(kind, ports, n, current=current, cpus=cpus)
            t_up = time.monotonic()
            storm = client.call("storm_wait", timeout=args.storm_timeout)
            held = storm["t_held"]
            return {
                "kind": f"{kind} storm",
                "viewers": n,
                "ready": connected["ready"],
                "connect": connected,
                "before_count": before["count"],
                "stop_s": round(t_down - t_stop, 2),
                "restart_s": round(t_up - t_down, 2),
                "held": storm["held"],
                "expected": storm["viewers"],
                "attempts": storm["attempts"],
                "all_held_s": round(held[-1] - t_stop, 2) if storm["held"] == storm["viewers"] else None,
                "held_p50_s": round(held[1] - t_stop, 2) if held else None,
                "held_p99_s": round(held[2] - t_stop, 2) if held else None,
                "last_after_up_s": round(held[-1] - t_up, 2) if held else None,
            }
        finally:
            client.close()
            for server in servers:
                _common.stop(server)

    def storm_feature(self, kind: str, ports: list[int], i: int) -> int:
        """Feature a product (Liveshop) or send a frame on each server's /trigger (reference: the
        servers share nothing); its id."""
        if not kind.startswith("reference"):
            return self.feature(i)
        from websockets.sync.client import connect as ws_connect

        self.reference_id += 1
        for port in ports:
            with ws_connect(f"ws://127.0.0.1:{port}/trigger", compression=None) as trigger:
                trigger.send(self.reference_frame(self.reference_id))
        return self.reference_id

    def gc_pauses(self, servers: list[subprocess.Popen], timeline: list[dict]) -> dict | None:
        """The servers' garbage collections (>= 5 ms) while messages were measured, in ms."""
        if self.gc_dir is None:
            return None
        begin, end = timeline[0]["t0_abs"], max(t["t_last_abs"] or t["t0_abs"] for t in timeline)
        pauses, in_windows, objects = [], [], 0
        for server in servers:
            path = self.gc_dir / f"gc-{server.pid}.log"
            for line in path.read_text().splitlines() if path.exists() else []:
                if line.startswith("objects"):
                    objects += int(line.split()[1])
                    continue
                if line.startswith("#"):
                    continue
                start, stop, generation, _ = line.split()
                start, stop = float(start), float(stop)
                if stop < begin or start > end:
                    continue
                pauses.append((int(generation), round((stop - start) * 1000, 1)))
                if any(t["t_last_abs"] and start < t["t_last_abs"] and stop > t["t0_abs"] for t in timeline):
                    in_windows.append(round((stop - start) * 1000, 1))
        full = [ms for generation, ms in pauses if generation == 2]
        return {
            "objects_tracked": objects,
            "collections": len(pauses),
            "full": len(full),
            "longest_full_ms": max(full, default=0),
            "in_message_windows_ms": in_windows,
        }

    def close(self) -> None:
        self.ivs.close()
        try:
            _common.cleanup_redis(self.args.redis_url)
        except Exception as exc:
            print(f"(could not clean the bench's Redis keys: {exc})")


def cpu_seconds(procs) -> float:
    total = 0.0
    for proc in procs:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def fmt(v: float, digits: int = 1) -> str:
    return "-" if v != v else f"{v:,.{digits}f}"


def report_storm(results: list[dict]) -> None:
    print("\nreconnect storm: seconds from stopping both servers to viewers holding the new card")
    print("| run | viewers | held | all held s | p50 s | p99 s | last after up s | restart s | reconnects |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['kind']} | {r['viewers']:,} | {r['held']:,}/{r['expected']:,} | {r['all_held_s'] or '-'} "
            f"| {r['held_p50_s']} | {r['held_p99_s']} | {r['last_after_up_s']} | {r['restart_s']} "
            f"| {r['attempts']:,} |"
        )


def report(results: list[dict]) -> None:
    print("\nconnect phase (handshakes in flight: --concurrency)")
    print("| run | viewers | handshakes/s | to snapshot p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['kind']} | {r['viewers']:,} | {r['handshakes_per_s']:,} | {r['to_snapshot_p50_ms']} "
            f"| {r['to_snapshot_p99_ms']} |"
        )
    print("\nclick-to-last-viewer, ms (messages measured after warm-up)")
    header = (
        "| run | viewers | p50 | p99 | max | lost | late | dropped sockets | server µs/delivery | connect s |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['kind']} | {r['viewers']:,} | {fmt(r['p50'])} | {fmt(r['p99'])} | {fmt(r['max'])} "
            f"| {r['lost']} | {r['late']} | {r['closed_after_ready']} | {fmt(r['cpu_us_per_delivery'])} "
            f"| {r['connect_s']} |"
        )
    by = {(r["kind"], r["viewers"]): r for r in results}
    rows = [
        (n, by[("liveshop", n)], by[("reference", n)])
        for (kind, n) in by
        if kind == "liveshop" and ("reference", n) in by
    ]
    if rows:
        print("\nratio Liveshop / reference (same run); 'from publish': from the frame's PUBLISH to the last")
        print(
            "viewer (Liveshop's click writes first: trigger p50 ms; the reference's trigger is its publish)"
        )
        columns = [
            "viewers",
            "p50 ratio",
            "p99 ratio",
            "from publish p99 ms (L / R)",
            "ratio",
            "trigger p50 ms",
        ]
        print("| " + " | ".join([*columns, "CPU ratio"]) + " |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n, live, ref in rows:
            print(
                f"| {n:,} | {fmt(live['p50'] / ref['p50'], 2)} | {fmt(live['p99'] / ref['p99'], 2)} "
                f"| {fmt(live['publish_p99'])} / {fmt(ref['publish_p99'])} "
                f"| {fmt(live['publish_p99'] / ref['publish_p99'], 2)} | {fmt(live['trigger_p50'])} "
                f"| {fmt(live['cpu_us_per_delivery'] / ref['cpu_us_per_delivery'], 2)} |"
            )
        print(
            "handshakes/s ratio: "
            + ", ".join(
                f"{n:,}: {fmt(live['handshakes_per_s'] / ref['handshakes_per_s'], 2)}"
                for n, live, ref in rows
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["bench", "client"], default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--viewers", default="1000,5000,10000")
    parser.add_argument("--messages", type=int, default=20, help="K features measured per run")
    parser.add_argument("--warmup", type=int, default=1, help="features sent first, not measured")
    parser.add_argument("--runs", default="liveshop,reference,two-process")
    parser.add_argument("--two-process-viewers", type=int, default=10_000)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--ws", default="websockets-sansio", help="uvicorn --ws (as docker/start-web)")
    parser.add_argument("--reference-loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument(
        "--min-interval", type=float, default=0.3, help="seconds between clicks, at least (cues < 5/s)"
    )
    parser.add_argument("--message-timeout", type=float, default=15.0)
    parser.add_argument(
        "--reconnect-storm",
        type=int,
        default=0,
        metavar="N",
        help="instead: N viewers on two processes, both restarted under them (--runs liveshop,reference)",
    )
    parser.add_argument("--storm-timeout", type=float, default=60.0, help="seconds to wait for every viewer")
    parser.add_argument(
        "--storm-server-cpus", default="0,1", help="the storm's two servers' cores (a process per core)"
    )
    parser.add_argument("--settle", type=float, default=2.5)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=50,
        help="handshakes in flight (above ~90, Liveshop's hub runs out of Redis connections)",
    )
    parser.add_argument("--db-url", default=_common.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--gc-log", action="store_true", help="log the servers' garbage collections")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="experiment: gc.freeze() in the servers once viewers are in"
    )
    args = parser.parse_args()
    _common.raise_nofile()

    if args.role == "client":
        import uvloop

        uvloop.run(client_main())
        return

    _common.pin(args.client_cpu)  # the orchestrator shares the client's core; it idles while viewers read
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    plan = [
        (kind, int(n)) for n in args.viewers.split(",") for kind in ("liveshop", "reference") if kind in runs
    ]
    if "two-process" in runs:
        plan.append(("two-process", args.two_process_viewers))
    if args.reconnect_storm:
        plan = [(kind, args.reconnect_storm) for kind in ("liveshop", "reference") if kind in runs]
    bench = Bench(args)
    results = []
    try:
        print(f"logs: {bench.logdir}", flush=True)
        for kind, n in plan:
            print(
                f"-- {kind}, {n:,} viewers{' (reconnect storm)' if args.reconnect_storm else ''}", flush=True
            )
            if args.reconnect_storm:
                results.append(bench.run_storm(kind, n))
                print(f"   {results[-1]}", flush=True)
                continue
            result = bench.run(kind, n)
            results.append(result)
            print(
                f"   p50 {fmt(result['p50'])} ms, p99 {fmt(result['p99'])} ms, max {fmt(result['max'])} ms, "
                f"lost {result['lost']}, {fmt(result['cpu_us_per_delivery'])} µs/delivery; "
                f"trigger call p50 {fmt(result['trigger_p50'])} ms, "
                f"first viewer p50 {fmt(result['first_p50'])} ms "
                f"(connected {result['ready']:,} in {result['connect_s']} s: "
                f"{result['handshakes_per_s']:,} handshakes/s, "
                f"snapshot p99 {result['to_snapshot_p99_ms']} ms)",
                flush=True,
            )
            if result["gc"]:
                print(f"   server GC while measuring: {result['gc']}", flush=True)
    finally:
        bench.close()
        (bench.logdir / "results.json").write_text(json.dumps(results, indent=1))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    if args.reconnect_storm:
        report_storm(results)
    else:
        report(results)


if __name__ == "__main__":
    main()
