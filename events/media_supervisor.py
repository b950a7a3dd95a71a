"""Run nginx (the local media server) as a supervised child: restart it when it stops on its own,
and tell Django each time it had no publisher (``on_server_reset``), since nginx-rtmp posts no
on_publish_done when nginx stops, is killed or crashes (so a show would stay "live" forever).

One thread, no Django: the loop waits for nginx, reads its /stat every CHECK_INTERVAL (a stream
that disappears from it is reported as a check: a crashed worker or a lost publish_done leaves
no callback either), delivers resets (retried with backoff while Django is down; each carries
the moment it describes, so a late one never ends a stream that started after it) and sleeps
between restarts. Signals set flags and are forwarded to nginx:
SIGTERM, SIGINT and SIGHUP stop it (fast shutdown), SIGQUIT gracefully. (Not nginx's reload on
SIGHUP: the config is rendered once, and during a reload /stat, which is per worker, would
miss the streams of the old worker.)

nginx runs in its own process group: its workers outlive a killed master (still holding the ports
and the publishers' connections), so the supervisor kills the whole group once the master is
gone. nginx's master dies with the supervisor (PR_SET_PDEATHSIG); workers left by a supervisor
that was itself killed are found through nginx.pid at the next start (``kill_leftover_nginx``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from liveshop.processes import die_with_parent_hook

RESTART_DELAYS = (0.2, 1, 2, 5, 10)  # seconds before restarts 1, 2, 3... after nginx stops
STABLE_AFTER = 30  # seconds up after which the next stop starts the delays over
RESET_TIMEOUT = 10  # seconds for Django to answer one reset (eager Celery converts in it)
FINAL_TIMEOUT = 3  # seconds for the last attempt, when stopping
RESET_RETRY_MAX = 60  # seconds between attempts at most while Django does not answer
RESET_GIVE_UP = 3600  # seconds after which an undelivered reset is dropped (logged)
TICK = 0.1  # seconds between checks of nginx, signals and pending resets
CHECK_INTERVAL = 2  # seconds between reads of nginx's /stat
STAT_TIMEOUT = 2
SHOW_APP = "show"  # liveshop.video.local.SHOW_APP (this module imports no Django)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


@dataclass
class _Reset:
    at: float  # unix time: nothing published to nginx then (or, for a check, not ``gone``)
    gone: tuple[str, ...] | None = None  # a check: channels in /stat at ``seen_at``, not at ``at``
    seen_at: float = 0.0
    next_try: float = 0.0
    attempts: int = 0


class Supervisor:
    def __init__(
        self,
        command: list[str],
        *,
        reset_url: str,
        reset_headers: dict[str, str] | None = None,
        stat_url: str = "",
        log: Callable[[str], object] = print,
    ):
        self.command = command
        self.reset_url = reset_url
        self.reset_headers = reset_headers or {}  # the callback secret: in a header, never the URL
        self.stat_url = stat_url
        self.log = log
        self.publishing: dict[str, int] = {}  # channel id: stream age (ms) in the last /stat
        self.checked_at = 0.0
        self.next_check = 0.0
        self.nginx: subprocess.Popen | None = None
        self.stopping = False
        self.pending: list[_Reset] = []
        self.restarts = 0

    def run(self) -> int:
        """Run nginx until a stop signal; returns nginx's last exit code."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        self._report(time.time())  # nginx is not running: nothing can be publishing
        failures, code = 0, 0
        while not self.stopping:
            started = time.monotonic()
            dies_with_us = die_with_parent_hook()  # nginx's master, not its workers: see above
            self.nginx = subprocess.Popen(self.command, start_new_session=True, preexec_fn=dies_with_us)
            code = self._wait_for_nginx()
            at = time.time()
            kill_group(self.nginx.pid)  # orphaned workers would keep the ports and the publishers
            self._report(at)
            if self.stopping:
                break
            failures = 1 if time.monotonic() - started > STABLE_AFTER else failures + 1
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS)) - 1]
            self.log(f"nginx stopped ({_exit_reason(code)}); restarting it in {delay:g} s.\n")
            self._idle(until=time.monotonic() + delay)
            self.restarts += 1
        self._deliver(final=True)
        return code

    def _wait_for_nginx(self) -> int:
        self.publishing = {}
        while True:
            try:
                return self.nginx.wait(timeout=TICK)
            except subprocess.TimeoutExpired:
                self._check_stat()
                self._deliver()

    def _check_stat(self) -> None:
        """Every CHECK_INTERVAL, read which channels nginx publishes; when one is gone, or is
        younger than it was (its encoder came back in between), without Django being told for
        sure (a worker crashed, a publish_done was lost), report a check."""
        if not self.stat_url or time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + CHECK_INTERVAL
        at = time.time()
        publishing = read_publishing(self.stat_url)
        if publishing is None:
            return  # nginx starting, or too busy to answer: next time
        gone = {channel for channel, age in self.publishing.items() if publishing.get(channel, -1) < age}
        if gone:
            self.pending.append(_Reset(at=at, gone=tuple(sorted(gone)), seen_at=self.checked_at))
        self.publishing, self.checked_at = publishing, at

    def _idle(self, *, until: float) -> None:
        while not self.stopping and time.monotonic() < until:
            self._deliver()
            time.sleep(TICK)

    def _on_signal(self, signum, frame) -> None:
        if signum in STOP_SIGNALS:
            self.stopping = True
        if self.nginx is not None and self.nginx.poll() is None:
            os.kill(self.nginx.pid, signal.SIGQUIT if signum == signal.SIGQUIT else signal.SIGTERM)

    def _report(self, at: float) -> None:
        self.pending.append(_Reset(at=at))
        self._deliver()

    def _deliver(self, *, final: bool = False) -> None:
        """Post each due reset; on failure retry later (doubling the wait), or once more if
        ``final``."""
        now = time.time()
        for reset in list(self.pending):
            if reset.next_try > now and not final:
                continue
            if self._post(reset, timeout=FINAL_TIMEOUT if final else RESET_TIMEOUT):
                self.pending.remove(reset)
                continue
            reset.attempts += 1
            reset.next_try = now + min(RESET_RETRY_MAX, 0.5 * 2**reset.attempts)
            if final or now - reset.at > RESET_GIVE_UP:
                self.pending.remove(reset)
                self.log("Django was not told that nginx stopped: live shows on it may stay live.\n")

    def _post(self, reset: _Reset, *, timeout: float) -> bool:
        fields = {"call": "server_reset", "at": f"{reset.at:.6f}"}
        if reset.gone is not None:
            fields.update(call="server_check", gone=",".join(reset.gone), seen_at=f"{reset.seen_at:.6f}")
        body = urlencode(fields).encode()
        request = urllib.request.Request(  # noqa: S310 (our URL)
            self.reset_url, data=body, headers=self.reset_headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError) as exc:
            if reset.attempts == 0:
                self.log(f"Could not tell Django that nginx had no publisher ({exc}); retrying.\n")
            return False


def read_publishing(stat_url: str) -> dict[str, int] | None:
    """The streams publishing in nginx's public application, from its /stat XML: their names
    (channel ids) and ages (ms); None when nginx does not answer."""
    try:
        with urllib.request.urlopen(stat_url, timeout=STAT_TIMEOUT) as response:  # noqa: S310 (loopback)
            stat = ET.fromstring(response.read())  # noqa: S314 (our own nginx, on loopback)
    except (urllib.error.URLError, OSError, ET.ParseError):
        return None
    streams = stat.iterfind(f"server/application[name='{SHOW_APP}']/live/stream")
    return {
        stream.findtext("name"): int(stream.findtext("time") or 0)
        for stream in streams
        if stream.findtext("name") and stream.find("publishing") is not None
    }


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of the process group ``pgid`` (nginx's workers after its master)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def kill_leftover_nginx(directory: Path, *, timeout: float = 5) -> list[int]:
    """Kill the nginx processes a killed supervisor left in ``directory`` (found by the group of
    the master in ``nginx.pid``; only processes named nginx), and wait until they are gone: they
    hold the ports. Returns their pids."""
    try:
        group = int((directory / "nginx.pid").read_text().strip())
    except (OSError, ValueError):
        return []
    leftover = [pid for pid, name, _ in _processes(group) if name == "nginx"]
    for pid in leftover:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(pid in leftover for pid, _, _ in _processes(group)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return leftover


def _processes(group: int) -> list[tuple[int, str, str]]:
    """(pid, name, state) of the live (not zombie) processes in process group ``group``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition("(")[2].rpartition(")")
        fields = rest.split()  # state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(group) and fields[0] != "Z":
            found.append((int(stat.parent.name), name, fields[0]))
    return found


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
