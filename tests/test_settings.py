"""The settings read the environment: defaults run the demo, production refuses to start
half-configured, and the documented production environment passes ``check --deploy``."""

import json
import os
import re
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


# --- Names: every variable listed, Liveshop's own under LIVESHOP_, renamed ones still read ------

SETTINGS_SOURCE = (ROOT / "liveshop" / "settings" / "base.py").read_text()
READ = re.compile(
    r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"|\benv_renamed\(\s*env(?:\.\w+)?,\s*"([A-Z][A-Z0-9_]+)"'
)
# Gateways' backend choices stay as STYLE.md keeps VIDEO_BACKEND.
KEPT = {
    "DATABASE_URL", "REDIS_URL", "VIDEO_BACKEND", "PAYMENT_BACKEND", "CHAT_BACKEND", "RECOMMENDER_BACKEND",
    "DISCOVERY_BACKEND",
}  # fmt: skip
RENAMED = {
    "MEDIA_SERVER_RTMP_PORT": "1999",
    "RECORDINGS_INGEST_MODE": "reference",
    "MEDIA_SERVER_DIR": "/srv/m",
}


def read_names() -> set[str]:
    return {match.group(1) or match.group(2) for match in READ.finditer(SETTINGS_SOURCE)}


def test_every_variable_the_settings_read_is_in_env_example_and_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Settings") :]
    section = section[: section.index("\n## ", 5)]
    example = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text()))

    assert len(read_names()) > 60
    assert read_names() - example == set()
    assert read_names() - set(re.findall(r"`([A-Z][A-Z0-9_]+)[`=]", section)) == set()


def test_liveshop_variables_share_the_prefix():
    # Vendors' own names: an AWS service's resources are named after it (IVS_, PERSONALIZE_, ...).
    vendors = ("LIVESHOP_", "DJANGO_", "AWS_", "IVS_", "CELERY_", "STRIPE_", "PERSONALIZE_", "SAGEMAKER_")
    assert {name for name in read_names() if not name.startswith(vendors)} == KEPT


RENAMED_PROBE = """
import django, json
from django.conf import settings
django.setup()
values = [settings.MEDIA_SERVER_RTMP_PORT, settings.RECORDINGS_INGEST_MODE, str(settings.MEDIA_SERVER_DIR)]
print(json.dumps(values))
"""


def test_old_variable_names_still_work_with_a_deprecation_warning():
    result = run_django(RENAMED_PROBE, RENAMED)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [1999, "reference", "/srv/m"]
    for old in RENAMED:
        assert f"DeprecatedSettingName: {old} is deprecated: set LIVESHOP_{old} instead." in result.stderr


def test_new_variable_names_win_over_old_ones_without_a_warning():
    new = {f"LIVESHOP_{name}": value for name, value in RENAMED.items()}
    result = run_django(RENAMED_PROBE, {**new, "MEDIA_SERVER_RTMP_PORT": "1"})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [1999, "reference", "/srv/m"]
    assert "deprecated" not in result.stderr


SQLITE_FILE = """
import django
from django.db import connection
django.setup()
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE counter (n INTEGER)")
    cursor.execute("INSERT INTO counter VALUES (0)")
"""
# Two processes on one SQLite file, as make demo's are: each transaction reads, then writes.
SQLITE_WRITERS = """
import os, pathlib, sys, time, django
from django.db import connection, transaction
django.setup()
mode = sys.argv[1]
if mode != "settings":
    connection.settings_dict["OPTIONS"]["transaction_mode"] = None  # SQLite's own: DEFERRED
# Both processes start writing together (Django's start-up takes each a different time).
ready = pathlib.Path(sys.argv[2])
(ready / str(os.getpid())).touch()
while len(list(ready.iterdir())) < 2:
    time.sleep(0.005)
failed = 0
for _ in range(300):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT n FROM counter")
            n = cursor.fetchone()[0]
            cursor.execute("UPDATE counter SET n = %s", [n + 1])
    except Exception as exc:
        failed += "locked" in str(exc)
print(failed)
"""


@pytest.mark.parametrize("mode", ["settings", "deferred"])
def test_the_demos_processes_share_its_sqlite_file_without_database_is_locked(tmp_path, mode):
    """Read-then-write transactions from two processes at once: with the settings' SQLite options
    (transactions begin IMMEDIATE, a 20 s busy timeout, WAL) none fails; with SQLite's default
    (begun as readers) some fail at once with "database is locked" — what stopped the demo show."""
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
           "DJANGO_SETTINGS_MODULE": "liveshop.settings.base",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}  # fmt: skip
    (tmp_path / "ready").mkdir()
    # The file made first, by one process, as make demo's migrate makes it (turning a new file to
    # WAL takes it whole: two processes opening it at once, one is refused).
    subprocess.run([sys.executable, "-c", SQLITE_FILE], cwd=ROOT, env=env, check=True, timeout=60)
    run = [sys.executable, "-c", SQLITE_WRITERS, mode, str(tmp_path / "ready")]
    writers = [subprocess.Popen(run, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    failures = [int(writer.communicate(timeout=120)[0]) for writer in writers]
    assert (sum(failures) == 0) == (mode == "settings"), failures


LOG_ONCE = """
import logging, django
django.setup()
logging.getLogger("django.channels.server").info("HTTP GET /probe/ 200")
logging.getLogger("django.request").error("Internal Server Error: /probe/")
"""


@pytest.mark.parametrize("env", [{"DJANGO_DEBUG": "true"}, PRODUCTION_ENV], ids=["debug", "production"])
def test_a_request_is_logged_once_with_its_time_and_logger(env):
    result = run_django(LOG_ONCE, env)

    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(" ", 2)[2] for line in lines if "/probe/" in line] == [
        "INFO django.channels.server HTTP GET /probe/ 200",
        "ERROR django.request Internal Server Error: /probe/",
    ]
