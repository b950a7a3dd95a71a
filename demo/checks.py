"""``make demo``'s startup checks: which of the services it can run itself are installed, and what
the demo does without each (``manage.py demo_check`` prints this before the processes start).

- No ``redis-server`` (and no REDIS_URL): the demo runs without Redis: the in-memory channel
  layer and delivery, eager Celery (tasks run in the web process), a local-memory cache in each
  process; the demo show then runs inside the web server (demo_runserver), whose in-memory
  delivery reaches its viewers.
- No nginx with its RTMP module: the live video is off, the message names the Debian packages, and
  the demo show plays as the brand's published shoppable video (demo/video_show.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REDIS_PACKAGE = "redis-server"
MEDIA_PACKAGES = "nginx libnginx-mod-rtmp"
RTMP_MODULE = "ngx_rtmp_module.so"


@dataclass(frozen=True)
class Startup:
    redis: str  # "given" (REDIS_URL set), "private" (make demo starts redis-server), "none"
    media: bool  # nginx with the RTMP module: the live show can stream
    lines: tuple[str, ...]  # what to tell the person who typed make demo


def search_path() -> str:
    """PATH plus the sbin folders, where Debian puts nginx."""
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def has_rtmp_nginx(path: str) -> bool:
    nginx = shutil.which("nginx", path=path)
    if nginx is None:
        return False
    version = subprocess.run([nginx, "-V"], capture_output=True, text=True, timeout=10).stderr
    modules = next((p.split("=", 1)[1] for p in version.split() if p.startswith("--modules-path=")), None)
    return (Path(modules or "/usr/lib/nginx/modules") / RTMP_MODULE).exists()


def startup(*, redis_url: str = "", path: str | None = None) -> Startup:
    """What ``make demo`` can run on this machine (``path``: where to look for the programs)."""
    path = search_path() if path is None else path
    lines = []
    if redis_url:
        redis = "given"
    elif shutil.which("redis-server", path=path):
        redis = "private"
    else:
        redis = "none"
        lines.append(
            f"No Redis ({REDIS_PACKAGE} is not installed): the demo runs without it: in-memory delivery to "
            "viewers, Celery tasks run in the web server (eager), a local-memory cache; the demo show "
            "runs inside the web server so its cards reach viewers. "
            f"For the full stack: apt-get install {REDIS_PACKAGE}"
        )
    media = has_rtmp_nginx(path)
    if not media:
        lines.append(
            f"No live video: nginx with its RTMP module is not installed (apt-get install {MEDIA_PACKAGES}). "
            "The demo show plays as the brand's published shoppable video instead of live."
        )
    return Startup(redis=redis, media=media, lines=tuple(lines))
