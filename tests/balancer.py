"""nginx as a load balancer in front of web processes, for tests and benchmarks (no Django here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.media import free_port, http_get, wait_for


def nginx_binary() -> str | None:
    return shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin")


BALANCER = """
daemon off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 16384; }}  # two per proxied socket
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  # max_fails=0: a server refusing connections (stopped, or draining) is skipped per request, as
  # an ALB skips a deregistered target, never marked down for both.
  upstream web {{ server 127.0.0.1:{a} max_fails=0; server 127.0.0.1:{b} max_fails=0; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://web;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_read_timeout 3600s;
    }}
  }}
}}
"""


def start_balancer(directory: Path, a: int, b: int, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """nginx on ``port`` (default: a free one) proxying HTTP and websockets to ports ``a`` and
    ``b``; returns once /healthz/ answers through it."""
    port = port or free_port()
    conf = directory / "nginx.conf"
    conf.write_text(BALANCER.format(dir=directory, a=a, b=b, port=port))
    log = (directory / "nginx.out").open("wb")
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(directory), "-c", str(conf), "-g", "user root;"], stdout=log, stderr=log
    )
    wait_for(
        lambda: process.poll() is not None or http_get(port, "/healthz/")[0] == 200, timeout=30, what="nginx"
    )
    assert process.poll() is None, (directory / "nginx.out").read_text()
    return process, port
