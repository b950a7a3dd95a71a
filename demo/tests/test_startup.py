"""make demo on a machine without redis-server or nginx-rtmp: the startup checks say what the demo
does without each, naming the packages; without Redis the show runs in the web server (the show
process only waits), and Ctrl-C stops it without a traceback."""

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from demo import checks
from demo.checks import startup

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bare_path(tmp_path):
    """A PATH with no redis-server and no nginx in it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    return str(folder)


def test_without_redis_server_or_nginx_the_checks_say_what_the_demo_does(bare_path):
    found = startup(redis_url="", path=bare_path)

    assert found.redis == "none"
    assert found.media is False
    redis_line, media_line = found.lines
    assert "apt-get install redis-server" in redis_line
    assert "in-memory delivery" in redis_line and "runs inside the web server" in redis_line
    assert "apt-get install nginx libnginx-mod-rtmp" in media_line


def test_a_redis_server_on_the_path_or_a_given_redis_url_is_used(bare_path):
    redis_server = Path(bare_path) / "redis-server"
    redis_server.write_text("#!/bin/sh\n")
    redis_server.chmod(0o755)

    assert startup(path=bare_path).redis == "private"
    assert startup(redis_url="redis://cache:6379/0", path="").redis == "given"
    assert not any("Redis" in line for line in startup(path=bare_path).lines)


def test_the_demo_check_command_prints_the_missing_services(bare_path, monkeypatch):
    monkeypatch.setattr(checks, "search_path", lambda: bare_path)
    monkeypatch.delenv("REDIS_URL", raising=False)
    out, err = io.StringIO(), io.StringIO()

    call_command("demo_check", stdout=out, stderr=err)

    assert "apt-get install redis-server" in err.getvalue()
    assert "apt-get install nginx libnginx-mod-rtmp" in err.getvalue()


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_on_ctrl_c_the_demo_redis_serves_the_others_until_they_let_go(tmp_path):
    """Every demo process gets the stop at once: Redis keeps answering a process still connected
    (its closing work), then stops as soon as it lets go, well within the runner's 5 s."""
    import socket

    import redis

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"PATH": os.environ["PATH"], "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    script = subprocess.Popen(
        ["bash", "docker/start-redis-demo"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    try:
        client = redis.Redis(port=port, retry_on_timeout=True)
        deadline = time.monotonic() + 10
        while True:  # until the server listens
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
        script.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            script.wait(timeout=0.5)  # still serving: a client is connected
        assert client.set("closing-card", "sent")
        client.close()
        assert script.wait(timeout=4) == 0
    finally:
        script.kill()
        script.wait()


def test_the_demo_redis_script_says_so_and_idles_without_redis_server(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", "sleep"):  # what the script needs; no redis-server
        (folder / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    env = {"PATH": str(folder), "REDIS_URL": "redis://127.0.0.1:6389/0"}
    process = subprocess.Popen(
        [str(folder / "bash"), "docker/start-redis-demo"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        assert "apt-get install redis-server" in line
        assert process.poll() is None  # idles: honcho keeps the rest of the demo up
    finally:
        process.kill()
        process.wait()
        process.stderr.close()


def test_without_redis_the_show_process_waits_for_the_web_server_and_stops_quietly_on_ctrl_c():
    env = {**os.environ, "REDIS_URL": "", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo_show", "--beside-web"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "the web server runs the demo show itself" in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "Traceback" not in err


def test_without_redis_the_web_server_starts_the_show_in_its_own_process(settings, monkeypatch):
    from demo.management.commands import demo_runserver

    settings.REDIS_URL = ""
    started, served = [], []
    monkeypatch.setattr(demo_runserver, "start_show_thread", lambda *a, **k: started.append(True))
    monkeypatch.setattr(demo_runserver, "start_beat_thread", lambda *a, **k: started.append("beat"))
    monkeypatch.setattr(
        demo_runserver.RunserverCommand, "inner_run", lambda self, *a, **k: served.append(True)
    )

    demo_runserver.Command().inner_run()
    assert started == [True, "beat"] and served == [True]  # beat's tasks too (demo/tests/test_beat.py)

    settings.REDIS_URL = "redis://127.0.0.1:6389/0"  # with Redis the show process streams it
    started.clear()
    demo_runserver.Command().inner_run()
    assert started == []
