"""Operational metrics for the deploy template's alarms and scaling: CloudWatch embedded metric
format (EMF) lines on standard output, with ``LIVESHOP_METRICS=emf`` (off by default: a laptop
has nobody reading them).

Why EMF rather than PutMetricData: every task's standard output already goes to CloudWatch Logs
(the awslogs driver), which turns a JSON line of this shape into metric values. Emitting is one
short write: no AWS call, client, credentials or IAM permission, nothing that can block or be
throttled on a web process's event loop when CloudWatch is slow (the delivery delay is measured
on the path that writes a featured product to the viewers). Every value is kept, so alarms may
use percentiles (the p99 delivery delay). The price: log ingestion (a line of ~300 bytes a
minute per process, plus one per featured product per web process) and up to a minute before a
value is in the metric, which the alarms' periods allow for.

What is emitted (namespace NAMESPACE; dimension STACK, the stack's name, LIVESHOP_METRICS_STACK):
- WEBSOCKET_CONNECTIONS: the websocket connections a web process holds (``sockets``, around the
  ASGI websocket application), every INTERVAL (``web_reporter``, from the ASGI lifespan). One
  process per web task (docker/start-web), so a period's Maximum is the busiest task's and its
  Average the tasks' mean.
- CLICK_TO_VIEWER (ms): a featured product from the host's click (the highlight's time, taken by
  events.services.feature_product) to its frame written to the last of a web process's viewers'
  sockets (events.realtime.hub), once per web process that has viewers of the show.
- QUEUE_DEPTH and QUEUE_AGE (s), dimensions STACK and QUEUE: each Celery queue's waiting messages
  and how long the oldest has waited, every INTERVAL, from the beat process (``BeatReporter``,
  a thread started by liveshop.celery): not a task, which would wait in the very queue it
  measures. Celery's messages carry no time, so each is stamped as it is published
  (``stamp_publish_time``).
- LIVE_EVENTS: the shows live now (each has a sampler in the discovery queue or on a discovery
  worker), every INTERVAL, from beat too: the discovery service scales in only when it is 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
import time
from datetime import datetime

from django.conf import settings

logger = logging.getLogger(__name__)

NAMESPACE = "Liveshop"
STACK = "Stack"
QUEUE = "Queue"
WEBSOCKET_CONNECTIONS = "WebSocketConnections"
CLICK_TO_VIEWER = "ClickToViewerDelay"
QUEUE_DEPTH = "CeleryQueueDepth"
QUEUE_AGE = "CeleryQueueAge"
LIVE_EVENTS = "LiveEvents"
INTERVAL = 60.0  # seconds between gauges (CloudWatch's standard resolution)

PUBLISHED_HEADER = "liveshop_published_at"  # a Celery message's header: time.time() at publish
PRIORITY_SEPARATOR = "\x06\x16"  # kombu.transport.redis: "<queue>\x06\x16<step>"
PRIORITY_STEPS = (3, 6, 9)  # kombu's default steps besides 0 (the bare queue name)

_write_lock = threading.Lock()
_running: set[asyncio.Task] = set()  # the event loop keeps only weak references to tasks


def enabled() -> bool:
    return settings.LIVESHOP_METRICS == "emf"


def document(metrics: dict[str, tuple[float | list[float], str]], dimensions=None, **properties) -> dict:
    """One EMF document: ``metrics`` maps a name to (value or values, CloudWatch unit); the
    dimensions are STACK plus ``dimensions``; ``properties`` ride along for Logs Insights."""
    dims = {STACK: settings.LIVESHOP_METRICS_STACK, **(dimensions or {})}
    directive = {
        "Namespace": NAMESPACE,
        "Dimensions": [list(dims)],
        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
    }
    return {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]},
        **properties,
        **dims,
        **{name: value for name, (value, _) in metrics.items()},
    }


def emit(metrics: dict[str, tuple[float | list[float], str]], dimensions=None, **properties) -> None:
    """Write the metrics as one EMF line to the process's real standard output (Celery redirects
    ``sys.stdout`` into its logger, whose prefix would spoil the JSON); nothing when off."""
    if not enabled():
        return
    line = json.dumps(document(metrics, dimensions, **properties), separators=(",", ":")) + "\n"
    with _write_lock:
        sys.__stdout__.write(line)
        sys.__stdout__.flush()


# --- Web processes: sockets held, and the click-to-viewer delay --------------------------------------


class SocketCounter:
    """The websocket connections open in this process: ``wrap`` the ASGI websocket application
    (liveshop.asgi); a connection counts from its handshake until its application call ends."""

    def __init__(self):
        self.open = 0

    def wrap(self, application):
        async def counted(scope, receive, send):
            self.open += 1
            try:
                return await application(scope, receive, send)
            finally:
                self.open -= 1

        return counted


sockets = SocketCounter()


async def web_reporter(interval: float = INTERVAL) -> None:
    """Every ``interval``, this process's open websocket connections (0 included, so a task
    that lost its viewers is seen to)."""
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            emit({WEBSOCKET_CONNECTIONS: (sockets.open, "Count")})


def start_web_reporter() -> asyncio.Task | None:
    """From the ASGI lifespan's startup (in the server's event loop); None when metrics are off."""
    if not enabled():
        return None
    task = asyncio.get_running_loop().create_task(web_reporter())
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


def featured_delivered(text: str, sockets: int) -> None:
    """A ``product_featured`` frame has been written to this process's ``sockets`` viewers:
    the delay since the click (the frame's ``at``, the highlight's creation)."""
    if not enabled() or not sockets:
        return
    try:
        clicked = datetime.fromisoformat(json.loads(text)["at"]).timestamp()
    except (ValueError, KeyError, TypeError):
        return
    emit({CLICK_TO_VIEWER: (round((time.time() - clicked) * 1000, 1), "Milliseconds")}, sockets=sockets)


# --- Celery: every message's publish time, each queue's depth and age --------------------------------


def stamp_publish_time(headers=None, **kwargs) -> None:
    """before_task_publish: note when the message was published (kept when it is restored)."""
    if headers is not None:
        headers.setdefault(PUBLISHED_HEADER, time.time())


def waiting_since(raw: bytes | None) -> float | None:
    """When a message (kombu's Redis JSON) became due: published, or its ETA if later."""
    if not raw:
        return None
    try:
        headers = json.loads(raw).get("headers") or {}
        since = float(headers[PUBLISHED_HEADER])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # published before the stamp existed, or not by Celery
    with contextlib.suppress(ValueError, TypeError):
        since = max(since, datetime.fromisoformat(headers["eta"]).timestamp())
    return since


def queue_state(client, queue: str) -> tuple[int, float | None]:
    """(messages waiting in ``queue``, every priority step; seconds the oldest has waited, None
    when unknown or empty). Kombu pushes on the left and takes from the right: each list's
    oldest message is its last."""
    keys = [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
            pipe.lindex(key, -1)
        replies = pipe.execute()
    depth = sum(replies[0::2])
    since = [t for t in map(waiting_since, replies[1::2]) if t is not None]
    age = max(0.0, time.time() - min(since)) if since and depth else None
    return depth, age


def report_queue(client, queue: str) -> None:
    depth, age = queue_state(client, queue)
    values = {QUEUE_DEPTH: (depth, "Count")}
    if age is not None or not depth:
        values[QUEUE_AGE] = (round(age or 0.0, 1), "Seconds")
    emit(values, {QUEUE: queue})


def report_live_events() -> None:
    from django.db import close_old_connections

    from events.selectors import live_event_count

    try:
        emit({LIVE_EVENTS: (live_event_count(), "Count")})
    finally:
        close_old_connections()  # this thread's connection, between minutes


class BeatReporter(threading.Thread):
    """Every ``interval``, each queue's depth and age from the broker (Redis), and the live shows."""

    def __init__(self, broker_url: str, queues: list[str], interval: float = INTERVAL):
        super().__init__(name="liveshop-beat-metrics", daemon=True)
        self.broker_url, self.queues, self.interval = broker_url, queues, interval
        self.stopping = threading.Event()

    def run(self) -> None:
        import redis

        client = redis.Redis.from_url(self.broker_url, socket_connect_timeout=5, socket_timeout=5)
        while True:
            started = time.monotonic()
            for queue in self.queues:
                try:
                    report_queue(client, queue)
                except Exception:  # Redis failing over: the next interval tries again
                    logger.warning("Could not measure the %s queue", queue, exc_info=True)
            try:
                report_live_events()
            except Exception:  # the database failing over: likewise
                logger.warning("Could not count the live events", exc_info=True)
            if self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started))):
                client.close()
                return

    def stop(self) -> None:
        self.stopping.set()


def start_beat_reporter(queues: list[str]) -> BeatReporter | None:
    """From beat's start (liveshop.celery); None when metrics are off or the broker is not Redis."""
    if not enabled() or not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return None
    reporter = BeatReporter(settings.CELERY_BROKER_URL, queues)
    reporter.start()
    return reporter
