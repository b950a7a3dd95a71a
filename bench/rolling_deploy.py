"""A rolling deploy during a live show, through a load balancer (prints numbers).

    .venv/bin/python bench/rolling_deploy.py [--viewers 2000] [--drain 10] [--click-every 1]

A production-like topology on this machine (tests/chaos.py's Stack: a throwaway PostgreSQL and
Redis, two web processes running docker/start-web's uvicorn command with production settings and
the bench's live show), nginx in front of them as the load balancer (an upstream of both; a process
that refuses connections is skipped, as an ALB skips a deregistered target), and N viewers
connected through nginx, each a websocket client doing what static/js/lib/socket.js does: on the
server's "reconnect" frame it waits up to the frame's jitter, opens a new socket (nginx sends it to
a live process), and drops the old one once the new one has sent its snapshot; an unplanned close
reconnects with jittered backoff (counted as a drop). The host features a product through nginx
every --click-every seconds throughout, and a prober GETs /healthz/ through nginx every 0.1 s.

The deploy: each web process in turn gets SIGTERM (it drains over --drain seconds, see
events/realtime/drain.py, and exits), and a new one is started on its port. Printed: per step, how
long the drain took and when the last of its viewers was back on a live process; then the
highlights viewers missed (a feature neither received as a frame nor as their snapshot's current
product; goal 0), viewers whose card is not the newest (goal 0), unplanned drops (goal 0), HTTP
errors through the balancer during the deploy (goal 0), and the viewer count viewers are shown
once it settles against the real number.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from websockets.asyncio.client import connect

from tests.balancer import start_balancer
from tests.chaos import Stack


class Viewer:
    def __init__(self, port: int, event_id: int):
        self.url = f"ws://127.0.0.1:{port}/ws/events/{event_id}/"
        self.origin = f"http://127.0.0.1:{port}"
        self.current = None  # the socket whose frames count
        self.highlight: int | None = None
        self.seen: set[int] = set()
        self.count: int | None = None
        self.joined_at: float | None = None
        self.moves: list[float] = []  # when each move's new socket had its snapshot
        self.drops = 0
        self.stopped = False
        self.tasks: set[asyncio.Task] = set()
        self.last_error: BaseException | None = None

    async def run(self) -> None:
        await self.open()

    async def open(self, *, replacing=None, attempt: int = 0) -> None:
        try:
            socket = await connect(self.url, origin=self.origin, open_timeout=30)
        except Exception:
            await asyncio.sleep(min(30, 0.5 * 2**attempt) * random.uniform(0.5, 1))
            if not self.stopped:
                await self.open(replacing=replacing, attempt=attempt + 1)
            return
        if replacing is None:
            self.current = socket
        self._spawn(self.read(socket, replacing))

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def read(self, socket, replacing) -> None:
        try:
            async for text in socket:
                frame = json.loads(text)
                if replacing is not None and frame["type"] == "snapshot":  # make, then break
                    self.current, old, replacing = socket, replacing, None
                    self.moves.append(time.monotonic())
                    self._spawn(old.close())
                if socket is not self.current:
                    continue
                if frame["type"] == "reconnect":
                    self._spawn(self.move(socket, frame.get("jitterMs", 1000)))
                else:
                    self.apply(frame)
        except Exception as exc:  # the connection broke: below decides whether that was a drop
            self.last_error = exc
        if socket is self.current and not self.stopped:  # not a planned move: a drop
            self.drops += 1
            self.current = None
            await self.open(attempt=1)

    async def move(self, old, jitter_ms: int) -> None:
        await asyncio.sleep(random.uniform(0, jitter_ms / 1000))
        if old is self.current:
            await self.open(replacing=old)

    def apply(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "snapshot":
            if self.joined_at is None:
                self.joined_at = time.monotonic()
            highlight = frame.get("highlight") or {}
            if highlight.get("highlightId"):
                self.highlight = highlight["highlightId"]
                self.seen.add(self.highlight)
            self.count = frame.get("viewerCount", self.count)
        elif kind == "product_featured":
            self.highlight = frame["highlightId"]
            self.seen.add(self.highlight)
        elif kind == "viewer_count":
            self.count = frame["count"]

    async def stop(self) -> None:
        self.stopped = True
        if self.current is not None:
            await self.current.close()
        for task in list(self.tasks):
            task.cancel()


class Host:
    """Features a product through the balancer every ``every`` seconds (alternating two)."""

    def __init__(self, stack: Stack, port: int, every: float):
        self.stack, self.port, self.every = stack, port, every
        self.published: list[tuple[float, int]] = []  # (monotonic time, highlight id)
        self.answers: list[tuple[float, int]] = []
        self.stopped = False

    async def run(self) -> None:
        flip = 0
        while not self.stopped:
            product = self.stack.show["products"][flip % 2]
            flip += 1
            status, body = await asyncio.to_thread(self.stack.feature, self.port, product, 20)
            self.answers.append((time.monotonic(), status))
            if status == 200:
                self.published.append((time.monotonic(), body["highlight"]["highlightId"]))
            await asyncio.sleep(self.every)


async def probe(port: int, results: list[tuple[float, int]], stopped: asyncio.Event) -> None:
    def get() -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz/")
            return connection.getresponse().status
        except OSError:
            return 0
        finally:
            connection.close()

    while not stopped.is_set():
        results.append((time.monotonic(), await asyncio.to_thread(get)))
        await asyncio.sleep(0.1)


async def until(predicate, timeout: float) -> float | None:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            return None
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def main_async(args) -> None:
    with tempfile.TemporaryDirectory(prefix="liveshop-rolling-") as directory:
        directory = Path(directory)
        print("starting PostgreSQL, Redis, 2 web processes and nginx ...", flush=True)
        stack = await asyncio.to_thread(Stack, directory, web=2, LIVESHOP_DRAIN_SECONDS=str(args.drain))
        balancer, port = await asyncio.to_thread(start_balancer, directory, *stack.ports)
        viewers = [Viewer(port, stack.show["event"]) for _ in range(args.viewers)]
        host = Host(stack, port, args.click_every)
        probes: list[tuple[float, int]] = []
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            for i in range(0, len(viewers), 100):  # 100 handshakes at a time
                await asyncio.gather(*(v.run() for v in viewers[i : i + 100]))
            joined = await until(lambda: all(v.joined_at for v in viewers), 300)
            print(f"{args.viewers} viewers joined through nginx in {joined:.1f} s", flush=True)
            host_task = loop.create_task(host.run())
            probe_task = loop.create_task(probe(port, probes, stopped))
            await asyncio.sleep(3)
            deploy_started = time.monotonic()
            steps = []
            for index in range(len(stack.ports)):
                process = stack.web[index]
                moved_before = sum(len(v.moves) for v in viewers)
                signalled = time.monotonic()
                process.send_signal(signal.SIGTERM)
                await asyncio.to_thread(process.wait, args.drain + 60)
                exited = time.monotonic() - signalled
                moved = sum(len(v.moves) for v in viewers) - moved_before
                last_move = max((t for v in viewers for t in v.moves if t >= signalled), default=signalled)
                await asyncio.to_thread(stack.start_web, index)
                steps.append(
                    {
                        "process": index,
                        "drain_exit_s": exited,
                        "moved": moved,
                        "last_back_s": last_move - signalled,
                    }
                )
            deploy_ended = time.monotonic()
            await asyncio.sleep(5)  # viewer counts settle (sent every second)
            host.stopped = True
            await host_task
            await asyncio.sleep(2)
            stopped.set()
            await probe_task
            report(args, viewers, host, probes, steps, deploy_started, deploy_ended)
        finally:
            for v in viewers:
                await v.stop()
            balancer.terminate()
            await asyncio.to_thread(stack.close)


def report(args, viewers, host, probes, steps, deploy_started, deploy_ended) -> None:
    newest = host.published[-1][1]
    missed = 0
    missing_viewers = 0
    for v in viewers:
        expected = {h for t, h in host.published if t >= (v.joined_at or 0)}
        lost = len(expected - v.seen)
        missed += lost
        missing_viewers += bool(lost)
    wrong_card = sum(1 for v in viewers if v.highlight != newest)
    during = lambda rows: [s for t, s in rows if deploy_started <= t <= deploy_ended + 1]  # noqa: E731
    probe_errors = sum(1 for s in during(probes) if s != 200)
    click_errors = sum(1 for s in during(host.answers) if s != 200)
    counts = [v.count for v in viewers if v.count is not None]
    print()
    title = (
        f"{args.viewers} viewers through nginx, drain {args.drain} s, a feature every {args.click_every} s"
    )
    print(f"## Rolling deploy: {title}")
    print()
    print("| web process | SIGTERM -> exited (s) | viewers moved | SIGTERM -> last viewer back (s) |")
    print("|---|---|---|---|")
    for step in steps:
        exited, back = f"{step['drain_exit_s']:.1f}", f"{step['last_back_s']:.1f}"
        print(f"| {step['process']} | {exited} | {step['moved']} | {back} |")
    print()
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| highlights published during the run | {len(host.published)} | |")
    print(f"| highlights missed by a viewer (frame or snapshot) | {missed} ({missing_viewers} viewers) | 0 |")
    print(f"| viewers whose card is not the newest at the end | {wrong_card} | 0 |")
    print(
        f"| unplanned drops (socket closed without a reconnect frame) | {sum(v.drops for v in viewers)} | 0 |"
    )
    probed, clicked = len(during(probes)), len(during(host.answers))
    print(f"| /healthz/ through nginx during the deploy: errors / probes | {probe_errors} / {probed} | 0 |")
    print(f"| clicks through nginx during the deploy: errors / clicks | {click_errors} / {clicked} | 0 |")
    if counts:
        print(
            f"| viewer count shown after (min / median / max; real {args.viewers}) | "
            f"{min(counts)} / {statistics.median(counts):.0f} / {max(counts)} | {args.viewers} |"
        )
    print(f"| deploy duration (both processes replaced) | {deploy_ended - deploy_started:.1f} s | |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument(
        "--drain", type=float, default=10.0, help="LIVESHOP_DRAIN_SECONDS of the web processes"
    )
    parser.add_argument("--click-every", type=float, default=1.0)
    args = parser.parse_args()
    from tests.chaos import _bench_common

    _bench_common().raise_nofile()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
