"""``make prodlike``: Liveshop in its production topology on this machine, left running to use.

    .venv/bin/python deploy/prodlike.py [--port 8000] [--no-show] [--dir var/prodlike]

The AWS stack's services (deploy/cloudformation.yaml) as local processes, each running the
Procfile's production command with DJANGO_DEBUG=false:

- nginx on ``--port`` as the load balancer (tests/balancer.py: websockets proxied; a server that
  refuses connections is skipped per request, as an ALB skips a deregistered target), in front of
- two web processes (``web``: docker/start-web, uvicorn with the drain on SIGTERM, forwarded
  headers believed from the balancer only; static files by WhiteNoise, media from one shared
  folder);
- a Celery worker (``worker``), a discovery worker (``discovery``, the live shows' samplers) and
  one beat (``beat``, which also measures the queues: LIVESHOP_METRICS=emf lines in its log);
- with nginx's RTMP module (and without ``--no-show``): the local media server and the demo
  show streaming into the demo brand's live event, as ``make demo`` has them.

PostgreSQL and Redis: servers of its own (throwaway, as the tests start them), or the ones
``--database-url`` / ``--redis-url`` name (the database is created if missing). Not the shell's
DATABASE_URL / REDIS_URL: its worker would take the tasks of whatever else uses that Redis.

Before the processes start, what a release does: ``migrate``, ``collectstatic`` (production's
hashed, compressed files; skipped when nothing changed), and ``seed_demo`` (the demo brand and
logins). Logs: one per process in ``--dir``.

While it runs, ``kill -HUP <pid>`` (the pid is printed) is a rolling deploy: each web process in
turn gets SIGTERM (it drains its viewers to the other over LIVESHOP_DRAIN_SECONDS, then exits) and
a new one takes its place, healthy before the next is replaced. Ctrl-C or SIGTERM stops all.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.balancer import nginx_binary, start_balancer  # noqa: E402
from tests.media import free_port, http_get, wait_for  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
DRAIN_SECONDS = 10  # a local rolling deploy need not take the stack's minute
READY = "Liveshop (the production topology) is running"


def procfile() -> dict[str, str]:
    """The production processes' commands (the Procfile the deploy template runs too)."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name.strip(): command.strip() for name, _, command in (line.partition(":") for line in lines if line)
    }


class Topology:
    def __init__(self, directory: Path, port: int, show: bool, database_url: str = "", redis_url: str = ""):
        self.directory, self.port, self.show = directory, port, show
        self.database_url, self.redis_url = database_url, redis_url
        self.logs = directory / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.commands = procfile()
        self.servers: list = []  # our own PostgreSQL and Redis, if any
        self.web_ports = [free_port(), free_port()]
        self.web: list[subprocess.Popen | None] = [None, None]
        self.others: dict[str, subprocess.Popen] = {}
        self.balancer: subprocess.Popen | None = None
        self.env: dict[str, str] = {}

    def prepare(self) -> None:
        """The database and Redis (started here when not given), and the processes' environment."""
        self.env = self.environment()

    # Setting up ---------------------------------------------------------------------------------

    def data_urls(self) -> tuple[str, str]:
        database, redis = self.database_url, self.redis_url
        if not database or not redis:
            from tests.chaos import PostgresServer, RedisServer

            if not database:
                self.servers.append(postgres := PostgresServer().start())
                database = postgres.url("liveshop")
            if not redis:
                self.servers.append(server := RedisServer().start())
                redis = server.url
        ensure_database(database)
        return database, redis

    def environment(self) -> dict[str, str]:
        database, redis = self.data_urls()
        site = f"http://localhost:{self.port}"
        key_file = self.directory / "secret-key"  # kept, so sessions outlive a restart
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
        unset = ("DJANGO_", "LIVESHOP_", "AWS_", "CELERY_", "DATABASE_URL", "REDIS_URL")
        keep = {k: v for k, v in os.environ.items() if not k.startswith(unset)}
        return {
            **keep,
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "liveshop.settings.base",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": key_file.read_text().strip(),
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"{site},http://127.0.0.1:{self.port}",
            # Plain HTTP on this machine (browsers keep Secure cookies for localhost): no redirect.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_HSTS_SECONDS": "0",
            "DJANGO_STATIC_ROOT": str(self.directory / "staticfiles"),
            "DJANGO_MEDIA_ROOT": str(self.directory / "media"),
            "DJANGO_SERVE_MEDIA": "true",
            "DATABASE_URL": database,
            "REDIS_URL": redis,
            "VIDEO_BACKEND": "local",
            "LIVESHOP_SITE_URL": site,
            "LIVESHOP_TRUSTED_PROXIES": "127.0.0.1",
            "LIVESHOP_DRAIN_SECONDS": str(DRAIN_SECONDS),
            "LIVESHOP_MEDIA_SERVER_CALLBACK_URL": f"http://127.0.0.1:{self.port}",
            "LIVESHOP_MEDIA_SERVER_DIR": str(self.directory / "media-server"),
            "LIVESHOP_UPLOAD_PARTS_DIR": str(self.directory / "upload-parts"),
            "LIVESHOP_METRICS": "emf",
            "LIVESHOP_METRICS_STACK": "prodlike",
            "CELERY_BEAT_SCHEDULE_FILE": str(self.directory / "celerybeat-schedule"),
        }

    def manage(self, *args: str, quiet: bool = True) -> None:
        subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True, timeout=900,
            stdout=subprocess.DEVNULL if quiet else None,
        )  # fmt: skip

    def release(self) -> None:
        """What a release does before its processes start: migrate, the static files, the data."""
        say("Migrating the database…")
        self.manage("migrate", "--noinput")
        if self.static_files_changed():
            say("Collecting the static files (hashed, compressed)…")
            self.manage("collectstatic", "--noinput")
        self.manage("seed_demo", quiet=False)

    def static_files_changed(self) -> bool:
        manifest = self.directory / "staticfiles" / "staticfiles.json"
        if not manifest.exists():
            return True
        sources = [ROOT / "static", ROOT / "node_modules" / ".liveshop"]
        newest = max(
            (f.stat().st_mtime for d in sources if d.is_dir() for f in d.rglob("*") if f.is_file()), default=0
        )
        return newest > manifest.stat().st_mtime

    # Processes ----------------------------------------------------------------------------------

    def spawn(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        """A process in a group of its own (Celery's children stop with it), logging to a file."""
        with (self.logs / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                command, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def start_web(self, index: int) -> None:
        port = self.web_ports[index]
        self.web[index] = self.spawn(f"web-{index + 1}", [self.commands["web"]], PORT=str(port))
        process = self.web[index]
        wait_for(
            lambda: process.poll() is not None or http_get(port, "/healthz/")[0] == 200,
            timeout=120, what=f"web {index + 1} on port {port}",
        )  # fmt: skip
        if process.poll() is not None:
            raise RuntimeError(f"web {index + 1} exited; see {self.logs / f'web-{index + 1}.log'}")

    def start(self) -> None:
        for index in range(2):
            self.start_web(index)
        self.balancer, _ = start_balancer(self.directory, *self.web_ports, port=self.port)
        for name in ("worker", "discovery", "beat"):
            self.others[name] = self.spawn(name, [self.commands[name]])
        if self.show:
            self.others["media"] = self.spawn("media", [str(ROOT / "docker" / "start-media-demo")])
            self.others["show"] = self.spawn("show", [PYTHON, "manage.py", "demo_show"])

    def roll(self) -> None:
        """A rolling deploy: each web process drained and replaced in turn."""
        for index in range(2):
            say(f"Replacing web {index + 1} (it drains its viewers to the other over {DRAIN_SECONDS} s)…")
            stop(self.web[index], timeout=DRAIN_SECONDS + 30)
            self.start_web(index)
        say("Rolled: both web processes replaced.")

    def stop(self) -> None:
        """Everything at once (SIGTERM; the web processes drain), then the balancer and the data."""
        ours = [p for p in [*self.others.values(), *self.web] if p is not None and p.poll() is None]
        for process in ours:
            os.killpg(process.pid, signal.SIGTERM)
        for process in ours:
            stop(process, timeout=DRAIN_SECONDS + 20)
        if self.balancer is not None and self.balancer.poll() is None:
            self.balancer.terminate()  # started by tests/balancer.py, in our process group
            self.balancer.wait(timeout=20)
        for server in reversed(self.servers):
            getattr(server, "remove", server.stop)()

    def processes(self) -> dict[str, subprocess.Popen | None]:
        return {
            **{f"web-{i + 1}": p for i, p in enumerate(self.web)},
            **self.others,
            "balancer": self.balancer,
        }


def ensure_database(url: str) -> None:
    """Create the URL's database if it is missing."""
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def stop(process: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM to the process's group, then SIGKILL after ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "prodlike", help="data and logs")
    parser.add_argument("--no-show", dest="show", action="store_false", help="no media server, no demo show")
    parser.add_argument("--database-url", default="", help="a PostgreSQL to use (default: one of its own)")
    parser.add_argument(
        "--redis-url", default="", help="a Redis to use, for it alone (default: one of its own)"
    )
    args = parser.parse_args()
    if nginx_binary() is None:
        say("make prodlike needs nginx as its load balancer: apt-get install nginx")
        return 1
    args.dir.mkdir(parents=True, exist_ok=True)
    topology = Topology(args.dir.resolve(), args.port, args.show, args.database_url, args.redis_url)
    stopping, rolling = threading.Event(), threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGHUP, lambda *_: rolling.set())
    try:
        topology.prepare()
        topology.release()
        topology.start()
        site = topology.env["LIVESHOP_SITE_URL"]
        say(f"\n{READY} at {site}/ (pid {os.getpid()})")
        watch = "e/northwind/northwind-live/" if args.show else "b/northwind/"
        say(f"  watch:  {site}/{watch}   log in: {site}/login/ (logins above)")
        say(f"  behind: nginx :{args.port} -> web :{topology.web_ports[0]} and :{topology.web_ports[1]}; "
            f"worker, discovery, beat{', media server, demo show' if args.show else ''}")  # fmt: skip
        say(f"  logs:   {topology.logs}/   rolling deploy: kill -HUP {os.getpid()}   stop: Ctrl-C")
        reported: set[int] = set()
        while not stopping.wait(1.0):
            if rolling.is_set():
                rolling.clear()
                topology.roll()
            for name, process in topology.processes().items():
                if process is not None and process.poll() is not None and process.pid not in reported:
                    reported.add(process.pid)
                    log = topology.logs / f"{name}.log"
                    say(f"{name} has stopped (exit {process.returncode}); see {log}")
    finally:
        say("Stopping…")
        topology.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
