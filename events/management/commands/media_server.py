"""``manage.py media_server``: run the local media server (nginx-rtmp) in the foreground.

Renders liveshop/video/nginx.conf.template into LIVESHOP_MEDIA_SERVER_DIR (or --dir) and runs nginx under
a small supervisor (events.media_supervisor): nginx stopping, killed or crashed is restarted with
backoff, and every start and stop is reported to Django (``on_server_reset``), because nginx-rtmp
sends no publish_done when it stops and the shows it carried would otherwise stay "live".
Ctrl-C, SIGTERM and SIGHUP stop nginx (a fast shutdown). ``--check`` renders
and validates the config with ``nginx -t`` instead.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from events import media_supervisor
from liveshop.video import local

PACKAGES = "apt-get install nginx libnginx-mod-rtmp"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PRIVATE_DIRS = ("rec", "tmp", "logs")  # hold key-named files (recordings, nginx's logs)


class Command(BaseCommand):
    help = "Run the local media server (nginx-rtmp + HLS) in the foreground, or --check its config."

    def add_arguments(self, parser):
        parser.add_argument("--rtmp-port", type=int, help="default: LIVESHOP_MEDIA_SERVER_RTMP_PORT")
        parser.add_argument("--http-port", type=int, help="default: LIVESHOP_MEDIA_SERVER_HTTP_PORT")
        parser.add_argument(
            "--dir", dest="directory", type=Path, help="runtime folder; default: LIVESHOP_MEDIA_SERVER_DIR"
        )
        parser.add_argument("--check", action="store_true", help="validate the config (nginx -t) and exit")

    def handle(self, *args, rtmp_port, http_port, directory, check, **options):
        rtmp_port = rtmp_port or settings.MEDIA_SERVER_RTMP_PORT
        http_port = http_port or settings.MEDIA_SERVER_HTTP_PORT
        if rtmp_port == http_port:
            raise CommandError(f"The RTMP and HTTP ports must differ (both are {rtmp_port}).")
        nginx = _find_nginx()
        directory = _prepare_dir(
            (directory or Path(settings.MEDIA_SERVER_DIR)).resolve(), clear_hls=not check
        )
        rtmp_listen = "127.0.0.1" if settings.MEDIA_SERVER_HOST in LOOPBACK else ""
        http_listen = "127.0.0.1" if urlsplit(settings.MEDIA_SERVER_PUBLIC_URL).hostname in LOOPBACK else ""
        config = directory / "nginx.conf"
        config.write_text(
            local.render_config(
                directory=directory,
                rtmp_port=rtmp_port,
                http_port=http_port,
                callbacks=_callback_urls(),
                rtmp_listen=rtmp_listen,
                http_listen=http_listen,
                user=_worker_user(),
                module_path=str(_find_rtmp_module(nginx)),
            ),
            encoding="utf-8",
        )
        config.chmod(0o600)  # it holds the callback secret
        command = [nginx, "-p", f"{directory}/", "-c", str(config)]
        if check:
            result = subprocess.run([*command, "-t"], capture_output=True, text=True)
            if result.returncode:
                raise CommandError(f"nginx rejected {config}:\n{result.stderr.strip()}")
            self.stdout.write(self.style.SUCCESS(f"{config} is valid."))
            return
        media_supervisor.kill_leftover_nginx(directory)  # a killed supervisor's, holding the ports
        _check_port_free(rtmp_listen, rtmp_port, "RTMP", "--rtmp-port / LIVESHOP_MEDIA_SERVER_RTMP_PORT")
        _check_port_free(http_listen, http_port, "HTTP", "--http-port / LIVESHOP_MEDIA_SERVER_HTTP_PORT")
        self._print_banner(directory, rtmp_port, http_port)
        supervisor = media_supervisor.Supervisor(
            [*command, "-g", "daemon off;"],
            reset_url=_reset_url(),
            reset_headers={local.CALLBACK_HEADER: local.callback_secret()},
            stat_url=f"http://{local.STAT_HOST}:{http_port}/stat",
            log=self.stderr.write,
        )
        supervisor.run()

    def _print_banner(self, directory: Path, rtmp_port: int, http_port: int) -> None:
        public_url = settings.MEDIA_SERVER_PUBLIC_URL.rstrip("/")
        self.stdout.write(f"Media server (nginx-rtmp) in {directory}")
        self.stdout.write(
            f"  ingest:    rtmp://{settings.MEDIA_SERVER_HOST}:{rtmp_port}/{local.LIVE_APP}/<stream key>"
        )
        self.stdout.write(f"  playback:  {public_url}/hls/<channel id>/index.m3u8")
        self.stdout.write(f"  callbacks: {settings.MEDIA_SERVER_CALLBACK_URL.rstrip('/')}/hooks/media/...")
        if (rtmp_port, http_port) != (settings.MEDIA_SERVER_RTMP_PORT, settings.MEDIA_SERVER_HTTP_PORT):
            self.stdout.write(
                self.style.WARNING(
                    "  Django's video backend reads LIVESHOP_MEDIA_SERVER_RTMP_PORT /"
                    " LIVESHOP_MEDIA_SERVER_HTTP_PORT (and LIVESHOP_MEDIA_SERVER_PUBLIC_URL): set them"
                    " to match these ports."
                )
            )
        self.stdout.write("Ctrl-C stops it.")
        self.stdout.flush()


def _find_nginx() -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    nginx = shutil.which("nginx", path=path)
    if nginx is None:
        raise CommandError(f"nginx is not installed. On Debian/Ubuntu: {PACKAGES}")
    return nginx


def _find_rtmp_module(nginx: str) -> Path:
    """Where this nginx keeps dynamic modules (its --modules-path), plus the rtmp module's name."""
    version = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    match = re.search(r"--modules-path=(\S+)", version)
    module = Path(match.group(1) if match else "/usr/lib/nginx/modules") / "ngx_rtmp_module.so"
    if not module.exists():
        raise CommandError(f"nginx's RTMP module is not installed ({module}). On Debian/Ubuntu: {PACKAGES}")
    return module


def _gone_is_fine(function, path, exc_info) -> None:
    """rmtree's error handler: a file that vanished meanwhile (an nginx worker of the killed
    server still rotating its playlist) is already what we want; anything else is raised."""
    if not issubclass(exc_info[0], FileNotFoundError):
        raise exc_info[1]


def _prepare_dir(directory: Path, *, clear_hls: bool) -> Path:
    """The runtime folder with the subfolders nginx expects (it creates none of them itself, and
    skips recording silently without rec/). Live HLS is a cache: stale playlists are removed."""
    hls = directory / "hls_public"
    if clear_hls and hls.exists():
        shutil.rmtree(hls, onerror=_gone_is_fine)
    try:
        for name in (*PRIVATE_DIRS, "hls_public"):
            (directory / name).mkdir(parents=True, exist_ok=True)
        for name in PRIVATE_DIRS:
            (directory / name).chmod(0o700)
    except OSError as exc:
        raise CommandError(f"Cannot prepare the media server folder {directory}: {exc}") from exc
    return directory


def _callback_urls() -> dict[str, str]:
    base = settings.MEDIA_SERVER_CALLBACK_URL.rstrip("/")
    if not base.startswith("http://"):
        raise CommandError(
            "LIVESHOP_MEDIA_SERVER_CALLBACK_URL must be an http:// URL (nginx-rtmp's callbacks cannot"
            f" use TLS), not {base!r}."
        )
    return {name: base + reverse(f"events:media-{name.replace('_', '-')}") for name in local.CALLBACKS}


def _reset_url() -> str:
    return settings.MEDIA_SERVER_CALLBACK_URL.rstrip("/") + reverse("events:media-on-server-reset")


def _worker_user() -> str:
    """Started as root, nginx would run its workers as ``nobody``, which cannot write into
    folders made here nor enter those under a private parent (pytest's tmp, /root). Run them as
    the account that started nginx, i.e. the one Django runs as; without root, nginx ignores it."""
    if os.geteuid() != 0:
        return ""
    return f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"


def _check_port_free(address: str, port: int, label: str, option: str) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx does
        try:
            probe.bind((address or "0.0.0.0", port))  # noqa: S104 (the port nginx will bind)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"The {label} port {port} is already in use (another media server or nginx?). "
                    f"Stop it or pick another port with {option}."
                ) from exc
            raise CommandError(f"Cannot listen on {label} port {port}: {exc}") from exc
