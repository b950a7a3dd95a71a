"""The test-server plugin (tests/services.py) leaves nothing running: the throwaway PostgreSQL and
Redis it starts stop with the run, also when the run dies before pytest's normal end (a conftest
that fails to import, as happens mid-refactor)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def processes_marked(mark: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("TESTS_SERVICES_MARK") == mark:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def test_a_run_that_dies_at_its_conftest_stops_the_servers_it_started(tmp_path):
    (tmp_path / "conftest.py").write_text("raise ImportError('a conftest broken mid-refactor')\n")
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    mark = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(TESTS_SERVICES_MARK=mark, PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.services", "-p", "no:cacheprovider", "-c", os.devnull,
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    left = processes_marked(mark)
    names = [process.name() for process in left]
    for process in left:  # the machine's, not this test's: leave nothing behind even on failure
        process.kill()
    assert run.returncode != 0
    assert "a conftest broken mid-refactor" in run.stdout + run.stderr
    assert names == []
