"""The copy engine: many object copies at once, with progress, a stop at the first failure, and a
cancellation that a signal handler can set. Each backend supplies the copy of one object."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from liveshop.objectstore.base import Cancellation, CopyCancelled, CopyItem, CopyProgress

# A cancelled copy waits this long for the requests already running (their objects then count
# as copied) before it returns; how often the waiting thread looks at the cancellation.
CANCEL_GRACE = 2.0
POLL_SECONDS = 0.1


def run_copies(
    items: Iterable[CopyItem],
    copy: Callable[[CopyItem], int],
    *,
    concurrency: int,
    progress: Callable[[CopyProgress], None] | None = None,
    cancel: Cancellation | None = None,
) -> tuple[int, int]:
    """``copy(item)`` (which returns the bytes copied) for every item, ``concurrency`` at a time.
    Returns (objects, bytes) copied. Stops at the first failure: nothing more starts, copies
    already running finish, and that failure is raised.

    Stops soon after ``cancel`` is set (workers check it between objects), and on an exception
    that is not an error (KeyboardInterrupt) raised in this thread: nothing more starts, copies
    already running get CANCEL_GRACE seconds to finish (those that do are counted), then
    CopyCancelled (or that exception) is raised; a copy still running is left to finish on its
    own. The waiting thread only ever blocks on a SimpleQueue, never on a lock an exception from
    a signal handler could leave held."""
    items = list(items)
    total, bytes_total = len(items), sum(item.source.size for item in items)
    done = bytes_done = 0
    started = time.monotonic()
    stop = threading.Event()  # set: workers start nothing more
    results: queue.SimpleQueue = queue.SimpleQueue()  # (number, bytes or None if skipped, error)
    running: dict[int, Future] = {}

    def work(number: int, item: CopyItem) -> None:
        if stop.is_set() or (cancel is not None and cancel.is_set()):
            results.put((number, None, None))
            return
        try:
            results.put((number, copy(item), None))
        except BaseException as exc:  # handed to the waiting thread, raised there
            results.put((number, None, exc))

    def collect(timeout: float | None) -> bool:
        """Count one finished copy (raising its error); False when none finished in time."""
        nonlocal done, bytes_done
        try:
            number, size, error = results.get(timeout=timeout)
        except queue.Empty:
            return False
        running.pop(number, None)
        if error is not None:
            raise error
        if size is not None:
            done, bytes_done = done + 1, bytes_done + size
            report()
        return True

    def report() -> None:
        if progress is not None:
            progress(CopyProgress(done, total, bytes_done, bytes_total, time.monotonic() - started))

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise CopyCancelled(
                f"Cancelled with {total - done} of {total} objects not copied", done=done, total=total
            )

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="object-copy")
    if cancel is not None:
        cancel.watchers += 1
    try:
        report()
        # A bounded window of submitted copies rather than all of them: a failure then leaves at
        # most ``2 * concurrency`` queued requests to cancel, and memory stays flat for 30,000.
        for number, item in enumerate(items):
            while len(running) >= 2 * concurrency:
                collect(POLL_SECONDS)
                check()
            check()
            running[number] = pool.submit(work, number, item)
        while running:
            collect(POLL_SECONDS)
            check()
    except BaseException as exc:
        stop.set()
        for number, future in list(running.items()):
            if future.cancel():
                del running[number]
        pool.shutdown(wait=False, cancel_futures=True)
        # An error: the copies already running finish. A cancellation: they get a short grace.
        grace = None if isinstance(exc, Exception) and not isinstance(exc, CopyCancelled) else CANCEL_GRACE
        deadline = None if grace is None else time.monotonic() + grace
        while running:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            with contextlib.suppress(Exception):  # the first exception is the one raised
                collect(left)
        if isinstance(exc, CopyCancelled):
            exc.done, exc.running = done, len(running)
        raise
    finally:
        if cancel is not None:
            cancel.watchers -= 1
    pool.shutdown(wait=True)
    return done, bytes_done
