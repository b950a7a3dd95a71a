"""The settings read the environment: defaults run the demo, production refuses to start
half-configured, and the documented production environment passes ``check --deploy``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-" + "x" * 30,
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://liveshop:pw@db.internal:5432/liveshop",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "VIDEO_BACKEND": "ivs",
}

PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "debug": settings.DEBUG,
    "db": settings.DATABASES["default"]["ENGINE"],
    "db_options": settings.DATABASES["default"].get("OPTIONS", {}),
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "video": settings.VIDEO_BACKEND,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "storage_options": settings.STORAGES["default"].get("OPTIONS", {}),
    "recordings": settings.STORAGES["recordings"]["BACKEND"],
}, default=str))
"""


def run_django(code_or_args, env_extra=None, *, manage=False):
    """Run Python in a clean environment (nothing Liveshop-related set) plus ``env_extra``."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env = {**keep, "DJANGO_SETTINGS_MODULE": "liveshop.settings.base", **(env_extra or {})}
    args = [sys.executable, "manage.py", *code_or_args] if manage else [sys.executable, "-c", code_or_args]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def probe(env_extra=None):
    result = run_django(PROBE, env_extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_without_environment_run_the_demo_stack():
    values = probe()

    assert values["debug"] is True
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["eager"] is True
    assert values["video"] == "local"
    assert values["storage"] == "django.core.files.storage.FileSystemStorage"


def test_database_and_redis_urls_switch_to_postgres_and_redis():
    values = probe({"DATABASE_URL": PRODUCTION_ENV["DATABASE_URL"], "REDIS_URL": PRODUCTION_ENV["REDIS_URL"]})

    assert values["db"] == "django.db.backends.postgresql"
    assert "pool" in values["db_options"]
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["eager"] is False
    assert values["broker"] == PRODUCTION_ENV["REDIS_URL"]


def test_bucket_name_switches_media_to_s3_behind_cloudfront():
    values = probe(
        {"AWS_STORAGE_BUCKET_NAME": "liveshop-media", "AWS_CLOUDFRONT_DOMAIN": "d111.cloudfront.net"}
    )

    assert values["storage"] == "storages.backends.s3.S3Storage"
    assert values["storage_options"]["bucket_name"] == "liveshop-media"
    assert values["storage_options"]["custom_domain"] == "d111.cloudfront.net"
    assert values["recordings"] == "storages.backends.s3.S3Storage"


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_production_mode_refuses_to_start_without_required_setting(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}

    result = run_django(PROBE, env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set when DJANGO_DEBUG is false" in result.stderr


def test_documented_production_environment_passes_check_deploy():
    result = run_django(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV, manage=True)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
