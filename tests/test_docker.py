"""docker/ without a Docker engine: the compose file, the Dockerfile and the start scripts agree with
each other and with the repository (no image is built here)."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
SCRIPTS = ["start-web", "start-worker", "start-beat"]
APP_SERVICES = {"web": "docker/start-web", "worker": "docker/start-worker", "beat": "docker/start-beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_compose_has_the_services_and_their_backing_stores(compose):
    services = compose["services"]

    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]


@pytest.mark.parametrize(("service", "script"), APP_SERVICES.items())
def test_compose_app_services_build_the_image_and_run_a_start_script(compose, service, script):
    config = compose["services"][service]
    context = (DOCKER / config["build"]["context"]).resolve()

    assert context == ROOT
    assert (context / config["build"]["dockerfile"]).is_file()
    assert config["command"] == [script]
    assert os.access(ROOT / script, os.X_OK)
    assert config["environment"]["DATABASE_URL"].startswith("postgres://liveshop:liveshop@postgres:5432/")
    assert config["environment"]["REDIS_URL"].startswith("redis://redis:6379/")
    assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"} <= set(config["environment"])


def test_compose_web_waits_for_healthy_stores_serves_plain_http_and_migrates(compose):
    web = compose["services"]["web"]

    assert web["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert web["environment"]["DJANGO_SECURE_SSL_REDIRECT"] == "false"
    assert web["environment"]["DJANGO_MIGRATE_ON_START"] == "true"
    assert any(port.endswith(":8000") for port in web["ports"])
    assert "/healthz/" in " ".join(web["healthcheck"]["test"])


def test_dockerfile_builds_a_non_root_production_image():
    instructions = dockerfile_instructions()
    values = {name: [value for n, value in instructions if n == name] for name, _ in instructions}

    assert values["FROM"] == ["node:20-bookworm-slim AS js", "python:3.11-slim-bookworm"]
    assert any("ffmpeg" in run for run in values["RUN"])
    # The players from npm are in place before collectstatic (the manifest storage needs them).
    assert any(run.startswith("npm ci") for run in values["RUN"])
    names = [name for name, value in instructions]
    copy_vendor = next(i for i, (n, v) in enumerate(instructions) if n == "COPY" and ".liveshop" in v)
    collect = next(i for i, (n, v) in enumerate(instructions) if n == "RUN" and "collectstatic" in v)
    assert copy_vendor < collect and names.count("FROM") == 2
    assert any("pip install -r requirements.txt" in run for run in values["RUN"])
    collectstatic = next(run for run in values["RUN"] if "collectstatic" in run)
    assert "DJANGO_DEBUG=false" in collectstatic and "DJANGO_SECRET_KEY=" in collectstatic
    assert values["USER"] and values["USER"][-1] not in {"root", "0"}
    assert "DJANGO_DEBUG=false" in values["ENV"][-1]
    assert values["EXPOSE"] == ["8000"]
    assert values["CMD"] == ['["docker/start-web"]']


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text().split()

    assert {".git", ".venv", ".env", "db.sqlite3", "media", "staticfiles"} <= set(ignored)


@pytest.mark.parametrize("script", SCRIPTS)
def test_start_scripts_are_strict_bash_that_end_by_exec_of_the_server(script):
    path = DOCKER / script
    text = path.read_text()
    commands = [
        line.strip()
        for line in text.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    assert os.access(path, os.X_OK)
    assert text.startswith("#!/usr/bin/env bash\n")
    assert commands[0] == "set -o errexit -o pipefail -o nounset"
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    assert commands[-1].startswith(("exec uvicorn ", "exec celery -A liveshop ")), commands[-1]


def test_start_web_runs_uvicorn_behind_a_proxy_and_migrates_only_when_asked():
    text = (DOCKER / "start-web").read_text().replace("\\\n", " ")

    assert re.search(r'if \[ "\$\{DJANGO_MIGRATE_ON_START:-false\}" = "true" \]', text)
    assert re.search(
        r"exec uvicorn liveshop.asgi:application\s+--host 0.0.0.0\s+--port \"\$\{PORT:-8000\}\"\s+"
        r"--proxy-headers\s+--forwarded-allow-ips=\"\$\{LIVESHOP_TRUSTED_PROXIES:-127.0.0.1\}\"\s+"
        r"--ws websockets",
        text,
    )


def test_procfile_scripts_exist():
    lines = (ROOT / "Procfile").read_text().splitlines()
    commands = [line.split(":", 1)[1].split()[0] for line in lines if line.strip()]

    assert "docker/start-web" in commands
    for command in commands:
        assert os.access(ROOT / command, os.X_OK), command
