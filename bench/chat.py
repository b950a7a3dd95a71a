"""Chat fan-out: a viewer posts -> the LAST of N websocket viewers has the message (prints numbers).

    .venv/bin/python bench/chat.py [--viewers 5000] [--rate 50] [--seconds 60] [--chatters 120]
                                   [--tappers 1000] [--runs liveshop,reference,flood,card]

For each run, on loopback, with the server pinned to --server-cpu and the load on --client-cpu:
  liveshop   the production ASGI command (uvicorn, DJANGO_DEBUG=false, Redis, the scratch
             database of bench/_common.py); messages are posted through the real service,
             ``chat.services.post_message``, by --chatters viewers in turn (the rate limit is 5 per
             10 s each: --rate 50 needs at least 100 chatters), while --tappers viewers tap
             reactions (one tap a second each);
  reference  a plain ``websockets`` server (this file, --role reference) that batches exactly as
             chat.realtime does (a frame at once when none went in the 100 ms since the last
             delivery ended, else the window's frames as one) and sends with
             ``websockets.broadcast()``; the same frames are sent on its /trigger connection.
  flood      Liveshop, chat at --rate all along; in every other --window seconds one signed-in
             person floods: --flood-sockets sockets sending chat_post frames at --flood-rate in
             all (refused by the socket's frame limit and the 5-per-10-s rate limit). Normal
             chatters' post -> last viewer p50/p99 with the flood vs without, in the same run.
  card       Liveshop, the product card featured every --card-interval seconds all along (the
             real feature_product); chat at --rate and the tappers in every other --window
             seconds only. The card's click -> last viewer p50/p99 during the chat storm vs
             without, in the same run (alternating windows share the machine's load swings).
The load client is bench/fanout.py's (raw asyncio sockets on uvloop), its viewers taught to read
chat_message frames, alone or inside a chat_batch. Measured per message: from just before the
post to the moment the LAST viewer read it (CLOCK_MONOTONIC in both processes); messages lost
(expected deliveries - received); server CPU (user+system) per delivered message over the posting
period.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
import fanout

MESSAGE_KEY = b'{"type":"chat_message","id":'
BATCH_PREFIX = b'{"type":"chat_batch"'
BATCH_WINDOW = 0.1  # chat.realtime.BATCH_WINDOW


class ChatViewer(fanout.Viewer):
    """fanout's viewer, noting each chat frame (a chat_message, or a chat_batch of them) by its
    bytes: every socket gets the same bytes, so a frame costs one dict update here, and its ids
    are read once per distinct frame, at the summary (the client must not be the bottleneck)."""

    def frame(self, opcode: int, payload: bytes):
        if opcode != 1 or not (payload.startswith(MESSAGE_KEY) or payload.startswith(BATCH_PREFIX)):
            return super().frame(opcode, payload)
        if not self.live:
            return
        seen = self.stats.chat_frames
        entry = seen.get(payload)
        if entry is None:
            seen[payload] = [1, time.monotonic()]
        else:
            entry[0] += 1
            entry[1] = time.monotonic()

    def tap(self, text: bytes) -> None:
        """A client (masked) text frame, under 126 bytes."""
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
        self.transport.write(bytes([0x81, 0x80 | len(text)]) + mask + body)


def chat_ids(frames: dict[bytes, list]) -> tuple[dict[int, int], dict[int, float]]:
    """Per chat_message id: how many sockets read it and when the last did, from the frames seen."""
    counts: dict[int, int] = {}
    last: dict[int, float] = {}
    for payload, (count, at) in frames.items():
        pos = payload.find(MESSAGE_KEY)
        while pos >= 0:
            i = j = pos + len(MESSAGE_KEY)
            while 48 <= payload[j] <= 57:
                j += 1
            mid = int(payload[i:j])
            counts[mid] = counts.get(mid, 0) + count
            last[mid] = max(last.get(mid, at), at)
            pos = payload.find(MESSAGE_KEY, j)
    return counts, last


async def client_main() -> None:
    """The load client: fanout's, with ChatViewer, plus tapping and a summary of every id."""
    fanout.Viewer = ChatViewer  # LoadClient.connect builds its viewers from the module's name
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    client = fanout.LoadClient()
    client.stats.chat_frames = {}  # chat frame bytes -> [sockets that read it, the last one's time]
    tapping: asyncio.Task | None = None

    async def tap(tappers: list[ChatViewer]) -> None:
        emoji = (b"heart", b"fire", b"clap")
        i = 0
        while True:  # each tapper once a second, spread over the second
            for viewer in tappers:
                viewer.tap(b'{"type":"reaction","emoji":"' + emoji[i % 3] + b'"}')
                i += 1
                if i % 50 == 0:
                    await asyncio.sleep(50 / len(tappers))

    while line := await reader.readline():
        command = json.loads(line)
        cmd = command.pop("cmd")
        if cmd == "connect":
            result = await client.connect(**command)
        elif cmd == "tap":
            live = [v for v in client.viewers if v.live][: command["n"]]
            if live:
                tapping = asyncio.ensure_future(tap(live))
            result = {"tappers": len(live)}
        elif cmd == "untap":
            if tapping is not None:
                tapping.cancel()
                tapping = None
            result = {}
        elif cmd == "summary":
            if tapping is not None:
                tapping.cancel()
            stats = client.stats
            counts, last = chat_ids(stats.chat_frames)
            result = {
                "ready": stats.ready,
                "closed_after_ready": stats.lost_after_ready,
                "counts": {str(k): v for k, v in counts.items()},
                "last": {str(k): v for k, v in last.items()},
                "card_counts": {str(k): v for k, v in stats.counts.items()},
                "card_last": {str(k): v for k, v in stats.last.items()},
            }
        else:
            break
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    client.abort()
    await asyncio.sleep(0.1)


class ChatClientProcess(fanout.ClientProcess):
    def __init__(self, cpu: int | None):
        self.proc = subprocess.Popen(
            [*_common.taskset(cpu), _common.PYTHON, str(Path(__file__).resolve()), "--role", "client"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def send(self, cmd: str, **kwargs) -> None:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.proc.stdin.flush()

    def answer(self, cmd: str, deadline: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], deadline)
        if not ready:
            raise TimeoutError(f"a load client did not answer {cmd!r}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a load client exited")
        return json.loads(line)


class ClientGroup:
    """--clients load client processes (one core each where there are cores: --client-cpus),
    the viewers and tappers split between them. A command goes to every process at once and their
    answers are merged: counts add up, a message's last viewer is the latest of any process's
    (CLOCK_MONOTONIC is one clock for the whole machine). The reference is read by the same group."""

    def __init__(self, cpus: list[int | None], count: int):
        self.clients = [ChatClientProcess(cpus[i % len(cpus)]) for i in range(count)]
        self.cpu0: list[float] = []

    def _each(self, cmd: str, shares: list[dict], deadline: float = 60) -> list[dict]:
        pairs = list(zip(self.clients, shares, strict=True))
        for client, kwargs in pairs:
            client.send(cmd, **kwargs)
        return [client.answer(cmd, deadline + kwargs.get("timeout", 0)) for client, kwargs in pairs]

    def _split(self, n: int) -> list[int]:
        k = len(self.clients)
        return [n // k + (1 if i < n % k else 0) for i in range(k)]

    def connect(self, n: int, concurrency: int, **kwargs) -> dict:
        per = max(1, -(-concurrency // len(self.clients)))
        answers = self._each("connect", [{**kwargs, "n": m, "concurrency": per} for m in self._split(n)])
        errors: dict[str, int] = {}
        for answer in answers:
            for key, value in answer["errors"].items():
                errors[key] = errors.get(key, 0) + value
        return {
            "ready": sum(a["ready"] for a in answers),
            "per_client": [a["ready"] for a in answers],
            "errors": errors,
            "timed_out": sum(a["timed_out"] for a in answers),
            "seconds": max(a["seconds"] for a in answers),
        }

    def tap(self, n: int) -> dict:
        return {"tappers": sum(a["tappers"] for a in self._each("tap", [{"n": m} for m in self._split(n)]))}

    def untap(self) -> None:
        self._each("untap", [{} for _ in self.clients])

    def summary(self) -> dict:
        answers = self._each("summary", [{} for _ in self.clients])
        merged = {"ready": 0, "closed_after_ready": 0}
        merged.update({key: {} for key in ("counts", "last", "card_counts", "card_last")})
        for answer in answers:
            merged["ready"] += answer["ready"]
            merged["closed_after_ready"] += answer["closed_after_ready"]
            for counts, last in (("counts", "last"), ("card_counts", "card_last")):
                for key, value in answer[counts].items():
                    merged[counts][key] = merged[counts].get(key, 0) + value
                for key, value in answer[last].items():
                    merged[last][key] = max(merged[last].get(key, value), value)
        return merged

    def cpu_mark(self) -> None:
        """Start measuring the clients' CPU (user+system) from now."""
        self.cpu0 = [_cpu(client.proc.pid) for client in self.clients]

    def cpu_shares(self, seconds: float) -> list[float]:
        """Each client process's CPU since cpu_mark, as a share of one core over ``seconds``: near
        1.0 means that client was the bottleneck."""
        pairs = zip(self.clients, self.cpu0, strict=True)
        return [round((_cpu(client.proc.pid) - t0) / seconds, 2) for client, t0 in pairs]

    def close(self) -> None:
        for client in self.clients:
            client.close()


def _cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def client_cpus(args) -> list[int | None]:
    """--client-cpus: a comma list, "any" (unpinned), or by default every core but the server's
    (--client-cpu alone when that leaves none)."""
    if args.client_cpus == "any":
        return [None]
    if args.client_cpus:
        return [int(c) for c in args.client_cpus.split(",")]
    others = sorted(os.sched_getaffinity(0) - {args.server_cpu})
    return others or [args.client_cpu]


# The reference: plain websockets, batching as chat.realtime does ------------------------------


async def reference_main(port: int) -> None:
    import signal

    import websockets
    from websockets.asyncio.server import serve

    viewers: set = set()
    outbox: asyncio.Queue[str] = asyncio.Queue()

    async def forward() -> None:
        loop, last = asyncio.get_running_loop(), -BATCH_WINDOW
        while True:
            texts = [await outbox.get()]
            wait = last + BATCH_WINDOW - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            while not outbox.empty():
                texts.append(outbox.get_nowait())
            text = texts[0] if len(texts) == 1 else '{"type":"chat_batch","frames":[' + ",".join(texts) + "]}"
            websockets.broadcast(viewers, text)
            last = loop.time()  # the window counts from the end of a delivery, as chat.realtime's

    async def handler(connection) -> None:
        if connection.request.path == "/trigger":
            async for message in connection:
                outbox.put_nowait(message)
            return
        viewers.add(connection)
        try:
            await connection.send('{"type":"snapshot","highlight":null}')
            await connection.wait_closed()
        finally:
            viewers.discard(connection)

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    forwarder = asyncio.ensure_future(forward())
    async with serve(handler, "127.0.0.1", port, backlog=2048):
        await stop
    forwarder.cancel()


# The orchestrator -----------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.env = _common.server_env(args.db_url, args.redis_url)
        _common.ensure_database(args.db_url)
        _common.migrate(self.env)
        _common.setup_django(self.env)
        self.event, self.products, self.host = _common.seed_show()
        self.chatters = self.seed_chatters(args.chatters + 1)
        self.flood_user = self.chatters.pop()  # never one of the normal chatters
        self.reference_id = 900_000_000

    def seed_chatters(self, n: int) -> list:
        from django.contrib.auth import get_user_model

        from chat.models import ChatMessage, ChatRestriction, ChatRoom

        ChatMessage.objects.filter(event=self.event).delete()
        ChatRoom.objects.filter(event=self.event).delete()
        ChatRestriction.objects.filter(organization=self.event.organization).delete()
        User = get_user_model()
        users = []
        for i in range(n):
            user, _ = User.objects.get_or_create(
                username=f"bench-chatter-{i}",
                defaults={"email": f"chatter{i}@bench.example", "first_name": f"C{i}"},
            )
            users.append(user)
        return users

    def post(self, i: int) -> int:
        from chat.services import post_message

        user = self.chatters[i % len(self.chatters)]
        return post_message(
            event=self.event, user=user, body=f"Message {i} from the bench: is it in blue?"
        ).pk

    def feature(self, i: int):
        """The product card, by the real service (two products in turn: a repeat is a double click)."""
        from events.services import feature_product

        return feature_product(event=self.event, product=self.products[i % 2], by=self.host)

    def session_cookie(self, user) -> str:
        """A Cookie header signing ``user`` in, as the login view would (the server's session store)."""
        from importlib import import_module

        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"

    def reference_frame(self, mid: int) -> str:
        return json.dumps(
            {
                "type": "chat_message",
                "id": mid,
                "body": "Message from the bench: is it in blue?",
                "author": {"name": "C1", "role": None},
                "sentAt": "2026-12-03T20:00:00+00:00",
                "offsetMs": 123456,
            },
            separators=(",", ":"),
        )

    def start_server(self, kind: str, port: int, **extra_env: str) -> subprocess.Popen:
        if kind == "reference":
            cmd = [*_common.taskset(self.args.server_cpu), _common.PYTHON, str(Path(__file__).resolve())]
            proc = subprocess.Popen(
                [*cmd, "--role", "reference", "--port", str(port)], start_new_session=True
            )
            _common.wait_for_port(port, proc)
            return proc
        self.server_log = Path(tempfile.gettempdir()) / f"liveshop-bench-chat-{port}.log"
        env = {**self.env, **extra_env}
        if os.environ.get("BENCH_PROFILE_DIR"):
            env["LIVESHOP_DRAIN_SECONDS"] = "1"  # the profile is written at exit: no 20 s drain first
        return _common.start_uvicorn(port, env, self.args.server_cpu, self.server_log, ws=self.args.ws)

    def run(self, kind: str) -> dict:
        import psutil
        from django.db import connections

        args = self.args
        port = _common.free_port()
        server = self.start_server(kind, port)
        client = ClientGroup(client_cpus(args), args.clients)
        stack = contextlib.ExitStack()
        try:
            path = "/viewer" if kind == "reference" else f"/ws/events/{self.event.pk}/"
            connected = client.connect(
                targets=[["127.0.0.1", port, path]],
                n=args.viewers,
                concurrency=args.concurrency,
                timeout=max(90.0, args.viewers / 25),
            )
            time.sleep(args.settle)
            if kind == "liveshop" and args.tappers:
                client.tap(args.tappers)
            if kind == "reference":
                from websockets.sync.client import connect as ws_connect

                trigger = stack.enter_context(ws_connect(f"ws://127.0.0.1:{port}/trigger", compression=None))
            proc = psutil.Process(server.pid)
            sent: dict[int, float] = {}
            returned: dict[int, float] = {}  # when the post call returned: published after commit
            post_ms: list[float] = []
            cpu0 = proc.cpu_times()
            client.cpu_mark()
            started = time.monotonic()
            total = int(args.rate * args.seconds)
            lock = threading.Lock()
            failed: list[str] = []

            def one(i: int) -> None:
                t0 = time.monotonic()
                if kind == "reference":
                    with lock:
                        self.reference_id += 1
                        mid = self.reference_id
                        trigger.send(self.reference_frame(mid))
                else:
                    try:
                        mid = self.post(i)
                    except Exception as exc:  # refused (rate limit) or failed: counted, not measured
                        with lock:
                            failed.append(type(exc).__name__)
                        return
                    finally:
                        connections.close_all()
                with lock:
                    sent[mid] = t0
                    returned[mid] = time.monotonic()
                    post_ms.append((returned[mid] - t0) * 1000)

            # Posts leave on schedule, several at once: one post takes tens of ms on a busy core.
            with ThreadPoolExecutor(args.posters) as pool:
                for i in range(total):
                    time.sleep(max(0.0, started + i / args.rate - time.monotonic()))
                    pool.submit(one, i)
            posting = time.monotonic() - started
            time.sleep(args.drain)
            cpu1 = proc.cpu_times()
            client_cpu = client.cpu_shares(posting + args.drain)
            summary = client.summary()
        finally:
            stack.close()
            client.close()
            _common.stop(server)
        expected_each = summary["ready"] - summary["closed_after_ready"]
        latencies, received, delivery = [], 0, []
        for mid, t0 in sent.items():
            count = summary["counts"].get(str(mid), 0)
            received += count
            if count >= expected_each:
                latencies.append((summary["last"][str(mid)] - t0) * 1000)
                delivery.append((summary["last"][str(mid)] - returned[mid]) * 1000)
        cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        return {
            "kind": kind,
            "viewers": connected["ready"],
            "messages": len(sent),
            "not_posted": len(failed),
            "posting_s": round(posting, 1),
            "achieved_rate": round(len(sent) / posting, 1),
            "post_call_p50_ms": _common.percentile(post_ms, 50),
            "post_call_p99_ms": _common.percentile(post_ms, 99),
            # From the call's return (Liveshop: published after commit; the reference: its trigger
            # frame sent) to the last viewer: the delivery alone, without the service's own time.
            "delivery_p50": _common.percentile(delivery, 50),
            "delivery_p99": _common.percentile(delivery, 99),
            "p50": _common.percentile(latencies, 50),
            "p99": _common.percentile(latencies, 99),
            "max": max(latencies, default=float("nan")),
            "expected": expected_each * len(sent),
            "lost": expected_each * len(sent) - received,
            "cpu_us_per_delivery": cpu / max(1, received) * 1e6,
            "server_cpu_share": round(cpu / (posting + args.drain), 2),
            "client_cpu_share": client_cpu,
            "per_client": connected["per_client"],
        }


class Flooder:
    """One signed-in person flooding: ``sockets`` sockets to the event, chat_post frames at
    ``rate`` a second in all while ``on`` is set; their answers (chat_sent, chat_error reasons)
    are counted."""

    def __init__(self, url: str, origin: str, cookie: str, sockets: int, rate: float):
        from collections import Counter

        from websockets.sync.client import connect as ws_connect

        headers = {"Cookie": cookie, "Origin": origin}
        self.stack = contextlib.ExitStack()  # websockets wants its sync connections entered
        self.conns = [
            self.stack.enter_context(ws_connect(url, additional_headers=headers, compression=None))
            for _ in range(sockets)
        ]
        self.rate, self.on, self.done = rate, threading.Event(), threading.Event()
        self.sent, self.answers, self.lock = 0, Counter(), threading.Lock()
        self.threads = [threading.Thread(target=self.read, args=(c,), daemon=True) for c in self.conns]
        self.threads.append(threading.Thread(target=self.send, daemon=True))
        for thread in self.threads:
            thread.start()

    def read(self, conn) -> None:
        with contextlib.suppress(Exception):
            while True:
                text = conn.recv()
                if text.startswith(('{"type":"chat_sent"', '{"type":"chat_error"')):
                    frame = json.loads(text)
                    with self.lock:
                        self.answers[frame.get("reason", "sent")] += 1

    def send(self, i: int = 0) -> None:
        while not self.done.is_set():
            if not self.on.wait(0.2):
                continue
            conn = self.conns[i % len(self.conns)]
            with contextlib.suppress(Exception):
                conn.send(json.dumps({"type": "chat_post", "body": f"FLOOD {i} buy now buy now"}))
                self.sent += 1
            i += 1
            time.sleep(1 / self.rate)

    def close(self) -> dict:
        self.done.set()
        with contextlib.suppress(Exception):
            self.stack.close()
        return {"frames": self.sent, "answers": dict(self.answers)}


def flooder_main(job: dict) -> None:
    """--role flooder: flood in the odd windows from ``job["started"]`` (CLOCK_MONOTONIC, shared
    with the bench), then print what was sent and answered. A process of its own: its threads
    never compete with the measured posts for the bench's GIL."""
    flooder = Flooder(job["url"], job["origin"], job["cookie"], job["sockets"], job["rate"])
    started, window, windows = job["started"], job["window"], job["windows"]
    for w in range(windows):
        time.sleep(max(0.0, started + w * window - time.monotonic()))
        (flooder.on.set if w % 2 else flooder.on.clear)()
    time.sleep(max(0.0, started + windows * window - time.monotonic()))
    flooder.on.clear()
    time.sleep(1.0)  # the last answers
    print(json.dumps(flooder.close()), flush=True)


def poster_main(job: dict) -> None:
    """--role poster: the chat storm (the real post_message, --rate a second) in the odd windows
    only, from a process of its own (the card's clicks are measured in the bench's)."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    _common.setup_django(_common.server_env(job["db_url"], job["redis_url"]))
    from chat.services import post_message
    from events.models import LiveEvent

    event = LiveEvent.objects.select_related("organization").get(pk=job["event"])
    users = list(get_user_model().objects.filter(username__in=job["chatters"]))
    started, window, windows, rate = job["started"], job["window"], job["windows"], job["rate"]
    end, posted, failed = started + windows * window, [0], []

    def one(i: int) -> None:
        if not int((time.monotonic() - started) // window) % 2 or time.monotonic() >= end:
            failed.append("late")  # the quiet windows stay quiet
            return
        try:
            post_message(event=event, user=users[i % len(users)], body=f"Storm {i}: is it in blue?")
            posted[0] += 1
        except Exception as exc:
            failed.append(type(exc).__name__)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(job["posters"]) as pool:
        i = 0
        while (at := started + i / rate) < end:
            time.sleep(max(0.0, at - time.monotonic()))
            if int((at - started) // window) % 2:
                pool.submit(one, i)
            i += 1
    print(json.dumps({"posted": posted[0], "not_posted": len(failed)}), flush=True)


def card_parts(log: Path, clicks: dict, last: dict, phase: int, window_of, wall_offset: float) -> dict:
    """Where each card of the ``phase`` windows spent its time, p50 / p99 ms of: ``call``, the
    click's service call in the bench (the transaction, then the publish after commit); ``hub``,
    from its return to the frame written to the server's last socket (Redis, the hub's feed, the
    writes); ``read``, from then to the last viewer's read (the kernel and the load client). The
    server's time comes from its EMF lines (liveshop.metrics.featured_delivered: the delay since
    the highlight's creation, emitted once written to the last socket)."""
    parts: dict[str, list[float]] = {"call": [], "hub": [], "read": []}
    created = sorted(clicks)
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{") or '"ClickToViewerDelay"' not in line:
            continue
        doc = json.loads(line)
        ms = doc["ClickToViewerDelay"]
        written = doc["_aws"]["Timestamp"] / 1000 - wall_offset  # on CLOCK_MONOTONIC
        at = doc["_aws"]["Timestamp"] / 1000 - ms / 1000
        near = min(created, key=lambda c: abs(c - at), default=None)
        if near is None or abs(near - at) > 0.005:
            continue
        t0, returned, hid = clicks[near]
        if window_of(t0) != phase or str(hid) not in last:
            continue
        parts["call"].append((returned - t0) * 1000)
        parts["hub"].append((written - returned) * 1000)
        parts["read"].append((last[str(hid)] - written) * 1000)
    return {f"{part}_{p}": _common.percentile(values, p) for part, values in parts.items() for p in (50, 99)}


def child(role: str, job: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [_common.PYTHON, str(Path(__file__).resolve()), "--role", role, "--job", json.dumps(job)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run_phased(bench: Bench, kind: str) -> dict:
    """``flood`` or ``card``: alternating --window windows without (even) and with (odd) the
    disturbance, in one run; post -> last viewer per window kind."""
    import psutil
    from django.db import connections

    args = bench.args
    load = [os.getloadavg()]
    port = _common.free_port()
    # The card run asks the server for its click -> last socket written delays (liveshop.metrics'
    # EMF lines in its log): the server's share of each card's delay, apart from the client's.
    server = bench.start_server("liveshop", port, **({"LIVESHOP_METRICS": "emf"} if kind == "card" else {}))
    client = ClientGroup(client_cpus(args), args.clients)
    helper, helped = None, None
    sent: dict[str, dict[int, tuple[float, int]]] = {"chat": {}, "card": {}}
    lock, failed = threading.Lock(), []
    clicks: dict[float, tuple[float, float, int]] = {}  # card: created (wall) -> (t0, returned, id)
    try:
        connected = client.connect(
            targets=[["127.0.0.1", port, f"/ws/events/{bench.event.pk}/"]],
            n=args.viewers,
            concurrency=args.concurrency,
            timeout=max(90.0, args.viewers / 25),
        )
        time.sleep(args.settle)
        windows = max(2, round(args.seconds / args.window))
        started = time.monotonic() + 5.0  # the helper process is ready by then
        end = started + windows * args.window
        timing = {"started": started, "window": args.window, "windows": windows}
        if kind == "flood":
            if args.tappers:
                client.tap(args.tappers)
            helper = child(
                "flooder",
                {
                    **timing,
                    "url": f"ws://127.0.0.1:{port}/ws/events/{bench.event.pk}/",
                    "origin": f"http://127.0.0.1:{port}",
                    "cookie": bench.session_cookie(bench.flood_user),
                    "sockets": args.flood_sockets,
                    "rate": args.flood_rate,
                },
            )
        else:
            helper = child(
                "poster",
                {
                    **timing,
                    "db_url": args.db_url,
                    "redis_url": args.redis_url,
                    "event": bench.event.pk,
                    "chatters": [user.username for user in bench.chatters],
                    "rate": args.rate,
                    "posters": args.posters,
                },
            )
        time.sleep(max(0.0, started - time.monotonic()))
        wall_offset = time.time() - time.monotonic()
        proc = psutil.Process(server.pid)
        cpu0 = proc.cpu_times()
        client.cpu_mark()

        def window_of(t: float) -> int:
            return int((t - started) // args.window) % 2

        def chat(i: int) -> None:
            t0 = time.monotonic()
            phase = window_of(t0)  # when it is posted: a post late behind a busy pool may cross over
            try:
                mid = bench.post(i)
            except Exception as exc:
                with lock:
                    failed.append(type(exc).__name__)
                return
            finally:
                connections.close_all()
            with lock:
                sent["chat"][mid] = (t0, phase)

        def cards() -> None:
            i = 0
            while (t0 := time.monotonic()) < end:
                try:
                    highlight = bench.feature(i)
                    with lock:
                        sent["card"][highlight.pk] = (t0, window_of(t0))
                        clicks[highlight.created_at.timestamp()] = (t0, time.monotonic(), highlight.pk)
                except Exception as exc:
                    with lock:
                        failed.append("card " + type(exc).__name__)
                finally:
                    connections.close_all()
                i += 1
                time.sleep(max(0.0, t0 + args.card_interval - time.monotonic()))

        card_thread = threading.Thread(target=cards, daemon=True) if kind == "card" else None
        if card_thread:
            card_thread.start()
        pool = ThreadPoolExecutor(args.posters)
        i = 0
        for w in range(windows):
            phase = w % 2
            if kind == "card" and args.tappers:
                client.tap(args.tappers) if phase else client.untap()
            window_end = started + (w + 1) * args.window
            while (at := started + i / args.rate) < window_end:
                time.sleep(max(0.0, at - time.monotonic()))
                if kind == "flood":
                    pool.submit(chat, i)
                i += 1
        pool.shutdown(wait=True)
        posting = time.monotonic() - started
        if card_thread:
            card_thread.join()
        helped = json.loads(helper.communicate(timeout=60)[0].strip().splitlines()[-1])
        load.append(os.getloadavg())
        time.sleep(args.drain)
        cpu1 = proc.cpu_times()
        client_cpu = client.cpu_shares(end - started + args.drain)
        summary = client.summary()
    finally:
        if helper is not None and helper.poll() is None:
            helper.kill()
        client.close()
        _common.stop(server)
    expected = summary["ready"] - summary["closed_after_ready"]
    what = "chat" if kind == "flood" else "card"
    counts = summary["counts" if what == "chat" else "card_counts"]
    last = summary["last" if what == "chat" else "card_last"]
    phases = {}
    for phase, name in ((0, "without"), (1, "with")):
        items = [(mid, t0) for mid, (t0, p) in sent[what].items() if p == phase]
        received = sum(counts.get(str(mid), 0) for mid, _ in items)
        latencies = [(last[str(mid)] - t0) * 1000 for mid, t0 in items if counts.get(str(mid), 0) >= expected]
        phases[name] = {
            "n": len(items),
            "p50": _common.percentile(latencies, 50),
            "p99": _common.percentile(latencies, 99),
            "max": max(latencies, default=float("nan")),
            "lost": expected * len(items) - received,
        }
        if kind == "card":
            phases[name].update(card_parts(bench.server_log, clicks, last, phase, window_of, wall_offset))
    return {
        "kind": kind,
        "viewers": connected["ready"],
        "measured": what,
        "chat_messages": len(sent["chat"]) if kind == "flood" else helped["posted"],
        "chat_rate": round(
            (len(sent["chat"]) if kind == "flood" else helped["posted"])
            / (posting / 2 if kind == "card" else posting),
            1,
        ),
        "not_posted": len(failed),
        **{f"{name}_{key}": value for name, phase in phases.items() for key, value in phase.items()},
        "p99_ratio": phases["with"]["p99"] / phases["without"]["p99"],
        "flood": helped if kind == "flood" else None,
        "server_cpu_share": round(
            ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / (end - started), 2
        ),
        "client_cpu_share": client_cpu,
        "load": [round(x, 1) for x in load[0]] + [round(x, 1) for x in load[-1]],
    }


def shares(values: list[float]) -> str:
    return " + ".join(f"{c:.0%}" for c in values)


PHASES = ("without", "with")


def parts(r: dict) -> str:
    """The card's time in the bench's call, the hub and the reading, p50 / p99 without -> with."""
    if "without_call_50" not in r:
        return ""
    cells = []
    for part in ("call", "hub", "read"):
        without, with_ = (f"{r[f'{p}_{part}_50']:.0f} / {r[f'{p}_{part}_99']:.0f}" for p in PHASES)
        cells.append(f"{part} {without} -> {with_}")
    return "; ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--role",
        choices=["bench", "client", "reference", "flooder", "poster"],
        default="bench",
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--job", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--viewers", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=50, help="messages a second, all chatters together")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--chatters", type=int, default=120, help="each may post 5 per 10 s")
    parser.add_argument("--posters", type=int, default=8, help="threads posting (each post waits on I/O)")
    parser.add_argument("--tappers", type=int, default=1000, help="viewers tapping a reaction a second")
    parser.add_argument("--runs", default="liveshop,reference", help="also: flood, card")
    parser.add_argument("--window", type=float, default=5.0, help="flood/card: seconds per window")
    parser.add_argument("--flood-sockets", type=int, default=4)
    parser.add_argument("--flood-rate", type=float, default=200, help="chat_post frames a second")
    parser.add_argument("--card-interval", type=float, default=0.5, help="card: seconds between features")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1, help="the bench's own core (its posts, clicks)")
    parser.add_argument("--clients", type=int, default=2, help="load client processes, the viewers split")
    parser.add_argument(
        "--client-cpus", default="", help='their cores: "1,2" or "any"; default: all but the server\'s'
    )
    parser.add_argument("--ws", default="websockets-sansio")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--settle", type=float, default=2.5)
    parser.add_argument("--drain", type=float, default=3.0, help="seconds after the last post")
    parser.add_argument("--db-url", default=_common.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    args = parser.parse_args()
    _common.raise_nofile()
    if args.role == "client":
        import uvloop

        uvloop.run(client_main())
        return
    if args.role in ("flooder", "poster"):
        (flooder_main if args.role == "flooder" else poster_main)(json.loads(args.job))
        return
    if args.role == "reference":
        import uvloop

        uvloop.run(reference_main(args.port))
        return
    _common.pin(args.client_cpu)
    bench = Bench(args)
    results = []
    try:
        for kind in [r.strip() for r in args.runs.split(",") if r.strip()]:
            print(
                f"-- {kind}, {args.viewers:,} viewers, {args.rate:g} msg/s for {args.seconds:g} s", flush=True
            )
            result = run_phased(bench, kind) if kind in ("flood", "card") else bench.run(kind)
            results.append(result)
            print(f"   {result}", flush=True)
    finally:
        _common.cleanup_redis(args.redis_url)
    print(
        "\n| run | viewers | msg/s | post -> last viewer p50 / p99 ms | post call p50 / p99 ms "
        "| call's return -> last viewer p50 / p99 ms | lost | µs/delivery | server CPU | client CPU each |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        if "measured" in r:
            continue
        print(
            f"| {r['kind']} | {r['viewers']:,} | {r['achieved_rate']} | {r['p50']:.0f} / {r['p99']:.0f} "
            f"| {r['post_call_p50_ms']:.0f} / {r['post_call_p99_ms']:.0f} "
            f"| {r['delivery_p50']:.0f} / {r['delivery_p99']:.0f} "
            f"| {r['lost']} | {r['cpu_us_per_delivery']:.1f} | {r['server_cpu_share']:.0%} "
            f"| {shares(r['client_cpu_share'])} |"
        )
    phased = [r for r in results if "measured" in r]
    if phased:
        print(
            "\n| run | viewers | measured | without: n, p50 / p99 ms, lost | with: n, p50 / p99 ms, lost "
            "| p99 with / without | card parts p50 / p99 ms, without -> with | client CPU each "
            "| load 1/5/15 min (start; end) |"
        )
        print("|---|---:|---|---:|---:|---:|---|---|---|")
    for r in phased:
        cells = [
            f"{r[f'{p}_n']}, {r[f'{p}_p50']:.0f} / {r[f'{p}_p99']:.0f}, {r[f'{p}_lost']}"
            for p in ("without", "with")
        ]
        print(
            f"| {r['kind']} | {r['viewers']:,} | {r['measured']} | {cells[0]} | {cells[1]} "
            f"| {r['p99_ratio']:.2f} | {parts(r)} | {shares(r['client_cpu_share'])} "
            f"| {r['load'][:3]}; {r['load'][3:]} |"
        )


if __name__ == "__main__":
    main()
