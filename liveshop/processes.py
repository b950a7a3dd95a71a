"""Child processes (ffmpeg) that die with the process that started them.

A Celery worker killed with SIGKILL (the OOM killer, a hard time limit, a stopped container)
cannot stop its children, and an orphaned ffmpeg goes on transcoding for nobody. On Linux,
``die_with_parent`` (a ``preexec_fn``) asks the kernel to SIGKILL the child when its parent dies
(prctl PR_SET_PDEATHSIG). The kernel watches the *thread* that started the child, so start long
children from a thread that outlives them (Celery's prefork pool runs tasks on its main thread).
Elsewhere it does nothing; ``stop`` ends a child the caller gives up on."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1

# Looked up once at import: between fork and exec the child should do as little as possible.
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None) if sys.platform == "linux" else None


def die_with_parent_hook(sig: int = signal.SIGKILL):
    """A ``preexec_fn`` for Popen: the child gets ``sig`` when this process dies (Linux; else None)."""
    if _prctl is None:
        return None
    parent = os.getpid()

    def hook() -> None:
        _prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def stop(process: subprocess.Popen, timeout: float = 5) -> None:
    """Kill ``process`` if it still runs and reap it (no zombie, no orphan)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


def is_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True
