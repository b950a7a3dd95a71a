"""Queue Celery tasks by name, so services never import task modules: tasks call services, never
the reverse (the import runs one way). A name is the task's dotted path, e.g.
``"recordings.tasks.transcode_upload_task"``.

The task runs through its own ``apply_async``, so eager settings (the demo without Redis, tests)
run it in this process as ``delay`` would."""

from __future__ import annotations

import functools

from celery import current_app
from django.db import transaction


@functools.cache
def _registry():
    # Task modules are found by autodiscovery, which only runs when a worker starts or when
    # asked: a web process that never imported one would otherwise not know the name.
    current_app.loader.import_default_modules()
    return current_app.tasks


def load_tasks() -> None:
    """Import every app's task modules now (start-up), not on the first task queued (~0.3 s)."""
    _registry()


def _task(name: str):
    return _registry()[name]  # an unknown name raises celery.exceptions.NotRegistered


def enqueue(name: str, *args, countdown: float | None = None) -> None:
    """Queue the task ``name`` with ``args`` now (after ``countdown`` seconds)."""
    task = _task(name)
    if countdown is None:
        task.delay(*args)
    else:
        task.apply_async(args, countdown=countdown)


def enqueue_on_commit(name: str, *args) -> None:
    """Queue the task ``name`` with ``args`` once the current transaction commits (at once outside
    one). A misspelt name fails here, in the caller's transaction, not after the commit."""
    task = _task(name)
    transaction.on_commit(lambda: task.delay(*args))
