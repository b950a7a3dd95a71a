"""What a test needs to run a real Celery worker: its environment (production settings on this
test's database and the run's Redis) and a broker in a Redis database of the test's own."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from tests.asgi_server import database_url


def broker_url(database: int) -> str:
    """The run's Redis, in ``database`` (one no other test queues in)."""
    return urlunsplit(urlsplit(settings.REDIS_URL)._replace(path=f"/{database}"))


def worker_env(broker: str, **extra: str) -> dict[str, str]:
    """A worker's environment: the base settings on the current test database (call it inside a
    ``django_db(transaction=True)`` test, so the worker sees committed rows), the run's Redis,
    ``broker`` as Celery's broker; ``extra`` adds or overrides variables."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.base",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url(connection.settings_dict),
        "DJANGO_DB_POOL": "false",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": broker,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
