"""Settings for pytest: the base settings plus fast hashing, eager Celery, in-memory storage and
the fake video backend. PostgreSQL and Redis stay real (DATABASE_URL / REDIS_URL, or the
throwaway servers liveshop.testing starts), because locks, constraints and the channel layer
behave differently elsewhere."""

from .base import *  # noqa: F403
from .base import DATABASES, STORAGES, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The pool keeps connections to the test database open across tests; plain connections let
# pytest-django create and drop it cleanly.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
DATABASES["default"]["CONN_MAX_AGE"] = 0

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_USE_SSL = None

STORAGES = {
    **STORAGES,
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "recordings": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

VIDEO_BACKEND = env("VIDEO_BACKEND", default="fake")
LIVESHOP_CUES_INLINE = True
