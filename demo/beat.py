"""``make demo``'s periodic work. With Redis, Procfile.demo runs Celery beat (docker/start-beat),
as production does. Without Redis there is no broker for beat to send to, so the web server runs
CELERY_BEAT_SCHEDULE's tasks itself, in a thread (demo_runserver), each every its interval: eager
Celery, and the process's own cache, where the test payment provider remembers its refunds (so
its pending refunds settle: commerce-settle-test-refunds). A task that fails is logged and runs
again at its next turn, as under beat."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)


def intervals(schedule: dict) -> dict[str, tuple[str, float]]:
    """Each entry's task and interval in seconds; entries with another kind of schedule (a
    crontab) are left out, with a line in the log."""
    out = {}
    for name, entry in schedule.items():
        every = entry["schedule"]
        if isinstance(every, timedelta):
            every = every.total_seconds()
        if not isinstance(every, int | float) or every <= 0:
            logger.warning("The demo's beat runs interval schedules only", extra={"entry": name})
            continue
        out[name] = (entry["task"], float(every))
    return out


def run_beat(*, stop: threading.Event, schedule: dict | None = None) -> None:
    """Run ``schedule``'s tasks (CELERY_BEAT_SCHEDULE) each every its interval, the first time
    one interval after the start (as beat does), until ``stop`` is set."""
    from liveshop.celery import app

    entries = intervals(settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule)
    if not entries:
        return
    due = {name: time.monotonic() + every for name, (_task, every) in entries.items()}
    try:
        while not stop.wait(max(0.0, min(due.values()) - time.monotonic())):
            for name, (task, every) in entries.items():
                if due[name] > time.monotonic():
                    continue
                due[name] = time.monotonic() + every
                close_old_connections()
                try:
                    app.tasks[task].apply(throw=True)
                except Exception:
                    logger.exception("A periodic task of the demo failed", extra={"entry": name})
    finally:
        connections.close_all()


def start_beat_thread(
    *, stop: threading.Event | None = None, schedule: dict | None = None
) -> threading.Thread:
    """run_beat in a daemon thread of this process (it ends with the process)."""
    thread = threading.Thread(
        target=run_beat,
        kwargs={"stop": stop or threading.Event(), "schedule": schedule},
        name="demo-beat",
        daemon=True,
    )
    thread.start()
    return thread
