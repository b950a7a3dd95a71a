"""``make prodlike`` (deploy/prodlike.py): the production topology on this machine, as a person
starts it (its own PostgreSQL and Redis; no show, which needs the media server): the site answers
through nginx from production web processes, the worker, discovery worker and beat run (beat's
metric lines in its log), a rolling deploy (SIGHUP) replaces both web processes without a failed
request through the balancer, and Ctrl-C stops every process it started."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.balancer import nginx_binary
from tests.media import free_port, http_get, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import prodlike  # noqa: E402

pytestmark = pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed")


class Run:
    """deploy/prodlike.py running, its output collected line by line."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.lines: list[str] = []
        command = ["deploy/prodlike.py", "--port", str(self.port), "--no-show", "--dir", str(directory)]
        self.process = subprocess.Popen(
            [prodlike.PYTHON, *command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines) or self.process.poll() is not None

    def children(self) -> dict[int, str]:
        children = psutil.Process(self.process.pid).children(recursive=True)
        return {p.pid: " ".join(p.cmdline()) for p in children}


def web_pids(children: dict[int, str]) -> set[int]:
    return {pid for pid, command in children.items() if "uvicorn liveshop.asgi:application" in command}


def test_prodlike_serves_through_the_balancer_rolls_without_a_failed_request_and_stops_everything(tmp_path):
    run = Run(tmp_path)
    try:
        wait_for(lambda: run.said(prodlike.READY), timeout=900, interval=1, what="make prodlike to start")
        assert run.process.poll() is None, "\n".join(run.lines)
        children = run.children()
        commands = " | ".join(children.values())

        assert len(web_pids(children)) == 2
        for process in ("celery -A liveshop worker -l info", "--queues discovery", "celery -A liveshop beat"):
            assert process in commands
        assert http_get(run.port, "/healthz/")[0] == 200
        status, _, page = http_get(run.port, "/b/northwind/", host="localhost")
        assert status == 200
        (stylesheet,) = re.findall(rb'<link rel="stylesheet" href="(/static/[^"]+)"', page)[:1]
        assert re.search(rb"\.[0-9a-f]{12}\.css$", stylesheet)  # production's hashed name
        assert http_get(run.port, stylesheet.decode())[0] == 200  # WhiteNoise, through nginx
        beat_log = tmp_path / "logs" / "beat.log"
        wait_for(lambda: '"Namespace":"Liveshop"' in beat_log.read_text(), timeout=120, what="beat's metrics")

        # A rolling deploy while /healthz/ is asked through the balancer every 0.1 s.
        answers: list[int] = []
        probing = threading.Event()
        probing.set()

        def probe():
            while probing.is_set():
                answers.append(http_get(run.port, "/healthz/")[0])
                time.sleep(0.1)

        prober = threading.Thread(target=probe)
        prober.start()
        run.process.send_signal(signal.SIGHUP)
        wait_for(lambda: run.said("Rolled"), timeout=300, interval=0.5, what="the rolling deploy")
        probing.clear()
        prober.join()

        assert run.process.poll() is None, "\n".join(run.lines)
        assert len(answers) > 20 and set(answers) == {200}, answers
        assert web_pids(run.children()).isdisjoint(web_pids(children))  # both replaced
        assert len(web_pids(run.children())) == 2
        started = set(run.children())
    finally:
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGINT)  # Ctrl-C
        code = run.process.wait(timeout=180)

    assert code == 0, "\n".join(run.lines)
    left = [pid for pid in started if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert left == []
