"""Stock pushed to the people looking at it, within a second of any change.

Every writer of ``Variant.stock`` (commerce.stock for checkout, release, expiry, cancel and
refund; the admin; the import) calls catalog.variants.stock_changed_on_commit, which hands the
products to ``StockPusher.changed`` after commit (EventsConfig.ready registers it). The pusher
publishes the products' current stock, read from the database, as:

- ``{"type": "stock", "products": [...]}`` to the viewers of every scheduled or live event whose
  lineup holds the product or that featured it (events.payloads.stock_payload: public fields);
- ``{"type": "stock_levels", "products": [...]}`` to those events' host consoles (exact counts);
- ``{"type": "stock", ...}`` to the brand's stock topic (``stock-<brand id>``), which replay and
  video pages follow (events.stock_socket): one publish per change, however many videos exist.

Coalesced per product: a product is published at once (the leading edge), then at most once per
WINDOW seconds, and the state after the last change always goes out (the trailing edge), read
after that change committed. With Redis the window is shared by every process (``SET NX PX``), so
a hot product selling in many web processes still makes one frame per window; without Redis (the
one-process demo) it is this process's. Publishing runs on a daemon thread of its own, so the
request that sold the item never waits for the push.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

from events.realtime.publishing import _redis, broadcast_to_event, broadcast_to_studio, encode, publish

logger = logging.getLogger(__name__)

WINDOW = 0.25  # seconds: at most one frame per product per window
BRAND_FRAME_PRODUCTS = 200  # a brand frame's products at most (an import may restock thousands)


def stock_topic(organization_id: int) -> str:
    """The topic of a brand's stock changes (replay and video pages follow it)."""
    return f"stock-{organization_id}"


def window_key(product_id: int) -> str:
    return f"liveshop:stock-window:{product_id}"


@dataclass
class Pending:
    """A product with a change not yet published. ``due``: when to try (monotonic); ``marked``:
    changed since the last try; ``lost``: the last try found another process's window open."""

    due: float
    marked: bool = False
    lost: bool = False
    busy: bool = False


class StockPusher:
    def __init__(self, window: float = WINDOW):
        self.window = window
        self._lock = threading.Lock()
        self._pending: dict[int, Pending] = {}
        self._local_windows: dict[int, float] = {}  # product id -> window end (no Redis)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def changed(self, product_ids: set[int]) -> None:
        """Products whose stock changed and committed: publish them soon (see the module)."""
        now = time.monotonic()
        with self._lock:
            for product_id in product_ids:
                entry = self._pending.get(product_id)
                if entry is None:
                    self._pending[product_id] = Pending(due=now)
                else:
                    entry.marked = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="liveshop-stock-push", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=self._next_wait())
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                logger.exception("Stock changes not pushed")
            finally:
                connections.close_all()  # this thread's connections only: none held between pushes

    def _next_wait(self) -> float | None:
        with self._lock:
            dues = [entry.due for entry in self._pending.values() if not entry.busy]
        return max(0.0, min(dues) - time.monotonic()) if dues else None

    def flush(self, *, force: bool = False) -> int:
        """Try every product that is due (``force``: every pending one, ignoring windows, as at
        exit); returns how many were published."""
        now = time.monotonic()
        with self._lock:
            due = [pid for pid, entry in self._pending.items() if force or entry.due <= now]
            tried = {pid: self._pending[pid].marked for pid in due}
            for pid in due:
                self._pending[pid].marked, self._pending[pid].busy = False, True
        if not due:
            return 0
        won = set(due) if force else self._open_windows(due)
        published = False
        try:
            if won:
                publish_stock(won)
            published = True
        finally:  # not published (the database failed): tried again once, a window later
            self._settle(tried, won if published else set(), time.monotonic())
        return len(won)

    def _settle(self, tried: dict[int, bool], won: set[int], now: float) -> None:
        """After a try: a published product is done unless it changed meanwhile; one whose window
        another process held is tried again once that window has surely closed, unless a second
        loss with no change since proves a later window (opened after our change) covered it."""
        with self._lock:
            for pid, marked_before in tried.items():
                entry = self._pending.get(pid)
                if entry is None:  # settled by a concurrent forced flush (at exit)
                    continue
                entry.busy = False
                if pid in won:
                    entry.lost = False
                    if not entry.marked:
                        del self._pending[pid]
                        continue
                elif entry.lost and not marked_before and not entry.marked:
                    del self._pending[pid]
                    continue
                else:
                    entry.lost = True
                entry.due = now + self.window
        if self._pending:
            self._wake.set()

    def _open_windows(self, product_ids: list[int]) -> set[int]:
        """The products whose window this process opens now (every process shares them in Redis)."""
        if not settings.REDIS_URL:
            now = time.monotonic()
            if len(self._local_windows) > 1000:  # forget closed windows
                self._local_windows = {pid: end for pid, end in self._local_windows.items() if end > now}
            opened = {pid for pid in product_ids if self._local_windows.get(pid, 0) <= now}
            self._local_windows.update(dict.fromkeys(opened, now + self.window))
            return opened
        milliseconds = int(self.window * 1000)
        try:
            pipeline = _redis().pipeline(transaction=False)
            for pid in product_ids:
                pipeline.set(window_key(pid), b"1", nx=True, px=milliseconds)
            answers = pipeline.execute()
        except Exception as exc:  # Redis down: push anyway (publish() remembers what it missed)
            logger.warning("Stock push windows unavailable (%s); pushing without", exc)
            return set(product_ids)
        return {pid for pid, answer in zip(product_ids, answers, strict=True) if answer}


def publish_stock(product_ids: set[int]) -> None:
    """Publish the products' stock now, read from the database, to every audience of them."""
    from events.selectors import stock_audiences

    audiences = stock_audiences(product_ids)
    for event_id, products in audiences.events.items():
        broadcast_to_event(event_id, "stock", {"products": [p["public"] for p in products]})
        broadcast_to_studio(event_id, "stock.levels", {"products": [p["exact"] for p in products]})
    for organization_id, products in audiences.brands.items():
        for start in range(0, len(products), BRAND_FRAME_PRODUCTS):
            chunk = products[start : start + BRAND_FRAME_PRODUCTS]
            publish(stock_topic(organization_id), encode("stock", {"products": [p["public"] for p in chunk]}))


@functools.cache
def get_pusher() -> StockPusher:
    """This process's pusher (its thread starts with the first change)."""
    pusher = StockPusher()
    atexit.register(_flush_at_exit, pusher)
    return pusher


def _flush_at_exit(pusher: StockPusher) -> None:
    # A one-off process (a management command) may end inside a window: its last state goes now.
    try:
        pusher.flush(force=True)
    except Exception:
        logger.exception("Stock changes not pushed at exit")


def push_stock_changes(product_ids: set[int]) -> None:
    """The catalog's stock listener (catalog.variants.listen_to_stock_changes)."""
    get_pusher().changed(product_ids)
