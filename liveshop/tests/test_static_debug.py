"""Development under uvicorn: with DJANGO_DEBUG=true the ASGI application serves static files
itself (runserver and daphne's runserver wrap it to do so; uvicorn does not), so pages get their
scripts as JavaScript, not a 404 page."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.media import ROOT, free_port, http_get, stop, wait_for


def test_uvicorn_in_debug_serves_the_pages_scripts(tmp_path):
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.base",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",  # a static file needs none
        "REDIS_URL": "",
        "VIDEO_BACKEND": "fake",
    }
    command = [sys.executable, "-m", "uvicorn", "liveshop.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lifespan", "off", "--log-level", "warning"]
    log = tmp_path / "uvicorn.out"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)

    def answered():
        if process.poll() is not None:
            raise AssertionError(f"uvicorn exited:\n{log.read_text(errors='replace')}")
        answer = http_get(port, "/static/js/upload.js")
        return answer if answer[0] else None

    try:
        status, headers, body = wait_for(answered, timeout=60, what="uvicorn")
    finally:
        stop(process)
    assert status == 200, log.read_text(errors="replace")
    assert headers["content-type"].startswith("text/javascript")
    assert b"setUpUploadForm" in body
