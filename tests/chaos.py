"""Servers a test (or bench/chaos.py) owns and may break: a Redis and a PostgreSQL it can stop,
freeze and start again on the same port, as a restart, a deploy or a managed failover does.
Never the machine's shared servers: each is a throwaway one in its own temporary folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

from tests.services import _as_postgres_user, _free_port, _postgres_bindir, _wait_for_port


class RedisServer:
    """A throwaway redis-server on a fixed port (kept across restarts), nothing on disk."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process, "Redis")
        return self

    def stop(self) -> None:
        """Shut down the way a crash or a failover looks to clients: connections closed at once."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: sockets stay open but nothing answers (a half-open link, a hung primary)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)  # the outage itself, not a wait for a condition
        self.start()


class PostgresServer:
    """A throwaway PostgreSQL cluster (trust auth, no fsync) that can be restarted on its port."""

    def __init__(self):
        self.bindir = _postgres_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.prefix, uid = _as_postgres_user()
        self.root = tempfile.mkdtemp(prefix="liveshop-chaos-pg-")
        if uid is not None:
            os.chown(self.root, uid, -1)
        self.datadir = os.path.join(self.root, "data")
        subprocess.run(
            [*self.prefix, str(self.bindir / "initdb"), "-D", self.datadir, "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        args = [
            *self.prefix, str(self.bindir / "postgres"), "-D", self.datadir, "-p", str(self.port),
            "-k", self.root, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process, "PostgreSQL")
        return self

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT): every connection is cut, as in a crash or a failover."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)  # the outage itself
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
