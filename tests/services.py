"""pytest plugin: real PostgreSQL and Redis for the test run.

``DATABASE_URL`` / ``REDIS_URL`` name the servers when set. Otherwise this plugin starts
throwaway ones from the installed binaries (a fresh data directory, a free port, no fsync) and
stops them when the run ends; failing that, it stops the run and names the Debian packages to
install. It runs before pytest-django reads the settings (a hook wrapper around
``pytest_load_initial_conftests``), so the settings see the URLs.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

_started: list[subprocess.Popen] = []
_tempdirs: list[str] = []

MISSING = (
    "Liveshop's tests need real PostgreSQL and Redis. Set DATABASE_URL and REDIS_URL, or install "
    "the servers so the test run can start throwaway ones: apt-get install postgresql redis-server"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise pytest.UsageError(f"The throwaway {name} server exited with code {proc.returncode}.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise pytest.UsageError(f"The throwaway {name} server did not listen on port {port} in {timeout} s.")


def _postgres_bindir() -> Path | None:
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for bindir in candidates:
        if bindir and (Path(bindir) / "initdb").exists() and (Path(bindir) / "postgres").exists():
            return Path(bindir)
    return None


def _as_postgres_user() -> tuple[list[str], int | None]:
    """PostgreSQL refuses to run as root: run it as the 'postgres' user then."""
    if os.geteuid() != 0:
        return [], None
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError as exc:
        raise pytest.UsageError(
            "Running as root needs a 'postgres' user for the throwaway PostgreSQL."
        ) from exc
    return ["runuser", "-u", "postgres", "--"], uid


def _start_postgres() -> str:
    bindir = _postgres_bindir()
    if bindir is None:
        raise pytest.UsageError(MISSING)
    prefix, uid = _as_postgres_user()
    root = tempfile.mkdtemp(prefix="liveshop-pg-")
    _tempdirs.append(root)
    if uid is not None:
        os.chown(root, uid, -1)
    datadir = os.path.join(root, "data")
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            *prefix,
            str(bindir / "postgres"),
            "-D", datadir,
            "-p", str(port),
            "-k", root,
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _started.append(proc)
    _wait_for_port(port, proc, "PostgreSQL")
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def _start_redis() -> str:
    server = shutil.which("redis-server")
    if server is None:
        raise pytest.UsageError(MISSING)
    port = _free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _started.append(proc)
    _wait_for_port(port, proc, "Redis")
    return f"redis://127.0.0.1:{port}/0"


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # xdist workers inherit the controller's environment, so only the controller starts servers.
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = _start_postgres()
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _start_redis()
    yield


def pytest_unconfigure(config):
    _stop_all()


@atexit.register  # also when the run ends before pytest_unconfigure (a conftest that fails to import)
def _stop_all() -> None:
    for proc in _started:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    _started.clear()
    for path in _tempdirs:
        shutil.rmtree(path, ignore_errors=True)
    _tempdirs.clear()
