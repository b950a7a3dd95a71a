"""Faults under a live show: how long until every viewer holds the current card (prints numbers).

    .venv/bin/python bench/chaos.py [--viewers 1000] [--faults redis,postgres,web] [--down 2]

Starts its own deployment (tests/chaos.py: a throwaway PostgreSQL and Redis, two uvicorn
processes with production settings, the bench's live show seeded) and N viewers split between the
two processes, each a websocket client that reconnects as the page does (jittered backoff, the
other process when its own is gone). The host clicks Feature through the console's endpoint every
--click-every seconds throughout. For each fault in turn:

  redis     Redis killed, down for --down seconds, started again (a restart or failover);
  postgres  PostgreSQL stopped (immediate), down for --down seconds, started again;
  web       one uvicorn process SIGKILLed (its viewers move to the other), then started again;
  worker    a Celery worker (with beat) SIGKILLed, whole process group, while it transcodes an
            uploaded video (--video-seconds of 720p), then a new worker started: when the job
            restarted, when it was ready, how many times it completed (goal: once), ffmpeg left.

Printed per fault: the clicks made during it and how each was answered (200 / 503 / other; the
goal is 503s only while the fault lasts), the time from the fault's end until the console answers
200 again, the time until every viewer holds the newest highlight (goal 5 s for Redis), viewers
that never got it (goal 0), disconnects, and the settled viewer count.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.chaos import Stack, Viewer


async def until(predicate, timeout: float) -> float | None:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            return None
        await asyncio.sleep(0.02)
    return time.monotonic() - started


class Host:
    """Clicks Feature every ``every`` seconds, alternating the two products, keeping the answers."""

    def __init__(self, stack: Stack, every: float):
        self.stack, self.every = stack, every
        self.answers: list[tuple[float, int]] = []  # (monotonic time, HTTP status)
        self.newest: int | None = None
        self._flip = 0
        self._stop = False

    async def click(self) -> int:
        product = self.stack.show["products"][self._flip % 2]
        self._flip += 1
        status, body = await asyncio.to_thread(self.stack.feature, self.stack.ports[0], product, 20)
        self.answers.append((time.monotonic(), status))
        if status == 200:
            self.newest = body["highlight"]["highlightId"]
        return status

    async def run(self) -> None:
        while not self._stop:
            await self.click()
            await asyncio.sleep(self.every)

    def stop(self) -> None:
        self._stop = True


SETTLED = 3.0  # seconds the viewer count must stay right to count as settled


def current(viewers: list[Viewer], target: int | None) -> bool:
    return target is not None and all(v.connected and (v.highlight or 0) >= target for v in viewers)


async def run_worker_fault(stack: Stack, video_seconds: int) -> dict:
    import os
    import signal

    import psutil

    first = stack.start_worker("first")
    video = await asyncio.to_thread(stack.upload_video, video_seconds)

    async def job(**wanted):
        while True:
            state = await asyncio.to_thread(stack.job, video)
            if all(check(state[key]) for key, check in wanted.items()):
                return state
            await asyncio.sleep(0.2)

    await asyncio.wait_for(job(attempts=lambda n: n >= 1, progress=lambda p: p >= 10), 300)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    killed = time.monotonic()
    second = stack.start_worker("second")
    try:
        await asyncio.wait_for(job(attempts=lambda n: n >= 2), 300)
        restarted = time.monotonic() - killed
        state = await asyncio.wait_for(job(status=lambda s: s in ("ready", "failed")), 600)
        ready = time.monotonic() - killed
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(timeout=30)
    media = str(stack.directory / "media")
    left = [p for p in psutil.process_iter(["cmdline"]) if media in " ".join(p.info["cmdline"] or [])]
    return {
        "fault": "worker",
        "status": state["status"],
        "attempts": state["attempts"],
        "restarted_s": restarted,
        "ready_s": ready,
        "completed": stack.worker_log().count("Video transcoded"),
        "ffmpeg_left": len(left),
        "scratch_left": sorted(p.name for p in stack.scratch.glob("liveshop-job-*")),  # ours, not pymp-*
    }


async def run_fault(
    name: str, stack: Stack, viewers: list[Viewer], host: Host, down: float, video_seconds: int = 60
) -> dict:
    await until(lambda: current(viewers, host.newest), 60)
    closes_before = sum(v.closes for v in viewers)
    first_answer = len(host.answers)
    fault_start = time.monotonic()
    if name == "redis":
        await asyncio.to_thread(stack.redis.stop)
        await asyncio.sleep(down)
        await asyncio.to_thread(stack.redis.start)
    elif name == "postgres":
        await asyncio.to_thread(stack.postgres.stop)
        await asyncio.sleep(down)
        await asyncio.to_thread(stack.postgres.start)
    elif name == "web":
        await asyncio.to_thread(stack.kill_web, 1)
    elif name == "worker":
        return await run_worker_fault(stack, video_seconds)
    fault_end = time.monotonic()
    # From the fault's end: the console's first 200, every viewer holding the newest highlight
    # committed by then (featured during the fault, when there was one), the count settled.
    target = host.newest
    marks: dict[str, float | None] = {"console": None, "current": None, "count": None}
    counted_since = None  # the count must read N everywhere, and hold for SETTLED seconds
    deadline = fault_end + 120
    while None in marks.values() and time.monotonic() < deadline:
        now = time.monotonic()
        if marks["console"] is None and any(t > fault_end and status == 200 for t, status in host.answers):
            marks["console"] = now - fault_end
        if marks["current"] is None and current(viewers, target):
            marks["current"] = now - fault_end
        if marks["current"] is not None and all(v.count == len(viewers) for v in viewers):
            counted_since = counted_since or now
            if now - counted_since >= SETTLED:
                marks["count"] = counted_since - fault_end
        else:
            counted_since = None
        await asyncio.sleep(0.02)
    if name == "web":
        await asyncio.to_thread(stack.start_web, 1)
    console_back = marks["console"] or 0
    during = [status for t, status in host.answers[first_answer:] if t <= fault_end + console_back]
    return {
        "fault": name,
        "fault_s": fault_end - fault_start,
        "clicks": dict(collections.Counter(during)),
        "console_back_s": marks["console"],
        "everyone_current_s": marks["current"],
        "missing": sum(1 for v in viewers if not (v.connected and (v.highlight or 0) >= (target or 0))),
        "disconnects": sum(v.closes for v in viewers) - closes_before,
        "count_settled_s": marks["count"],
    }


async def main_async(args) -> None:
    with tempfile.TemporaryDirectory(prefix="liveshop-chaos-") as directory:
        print(f"starting the deployment (PostgreSQL, Redis, {2} uvicorn processes) ...", flush=True)
        stack = await asyncio.to_thread(Stack, Path(directory), web=2)
        loop = asyncio.get_running_loop()
        viewers = [Viewer(stack.ports, stack.show["event"], home=i) for i in range(args.viewers)]
        tasks = [loop.create_task(v.run()) for v in viewers]
        host = Host(stack, args.click_every)
        host_task = None
        try:
            joined = await until(lambda: all(v.connected for v in viewers), 300)
            print(f"{args.viewers} viewers joined in {joined:.1f} s", flush=True)
            status = await host.click()
            if status != 200:
                raise SystemExit(f"The host's first click was answered {status}: see {directory}/web-0.log")
            host_task = loop.create_task(host.run())
            for fault in args.faults.split(","):
                result = await run_fault(fault, stack, viewers, host, args.down, args.video_seconds)
                print(format_result(result), flush=True)
        finally:
            host.stop()
            for v in viewers:
                v.stop()
            for task in [*tasks, *([host_task] if host_task else [])]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(stack.close)


def format_result(r: dict) -> str:
    def s(value):
        return "never" if value is None else f"{value:.2f} s"

    if r["fault"] == "worker":
        return (
            f"  worker: killed mid-transcode | new attempt started after {s(r['restarted_s'])} | "
            f"{r['status']} after {s(r['ready_s'])} (attempts {r['attempts']}) | completed "
            f"{r['completed']} time(s) | ffmpeg left {r['ffmpeg_left']} | "
            f"temp folders left {r['scratch_left']}"
        )

    clicks = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(r["clicks"].items()))
    return (
        f"{r['fault']:>8}: fault {r['fault_s']:.1f} s | clicks during it {clicks or 'none'} | "
        f"console back after {s(r['console_back_s'])} | every viewer current after "
        f"{s(r['everyone_current_s'])} | missing {r['missing']} | disconnects {r['disconnects']} | "
        f"count settled after {s(r['count_settled_s'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--faults", default="redis,postgres,web,worker")
    parser.add_argument("--video-seconds", type=int, default=60, help="the worker fault's upload length")
    parser.add_argument("--down", type=float, default=2.0, help="seconds Redis/PostgreSQL stay down")
    parser.add_argument("--click-every", type=float, default=0.5, help="seconds between the host's clicks")
    args = parser.parse_args()
    from _common import raise_nofile  # bench/ is on the path when run as a script

    raise_nofile()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
