"""Writes: the buffer's batches rolled up into PostgreSQL in bulk.

``flush_buffer`` seals what the buffer holds into a named batch, then writes every sealed batch
not yet written: one transaction per batch that records the batch's id (FlushedBatch, primary
key) and adds its sums with INSERT ... ON CONFLICT DO UPDATE. A batch whose id is already there
was written by an earlier run that died before forgetting it, or by a second worker at the same
time: it is forgotten without counting again. So a flush run twice counts once."""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, connection, transaction

from analytics.buffer import get_buffer
from analytics.models import DroppedBeacon, FlushedBatch, Source, ViewerInteraction, WatchMinute
from commerce.models import Order, OrderLine

logger = logging.getLogger(__name__)


@dataclass
class FlushResult:
    batches: int = 0
    records: int = 0
    skipped: int = 0  # batches written before (counted once)


def flush_buffer() -> FlushResult:
    """Seal the buffer and write each sealed batch once (see the module's docstring)."""
    buffer, result = get_buffer(), FlushResult()
    buffer.seal(uuid.uuid4().hex)
    for batch_id in buffer.batches():
        records = [json.loads(raw) for raw in buffer.read(batch_id)]
        if write_batch(batch_id, records):
            result.batches += 1
            result.records += len(records)
        else:
            result.skipped += 1
        buffer.forget(batch_id)
    return result


def write_batch(batch_id: str, records: list[dict]) -> bool:
    """Add one batch's records to the roll-ups in one transaction; False when it was written
    before (nothing changes)."""
    try:
        with transaction.atomic():
            FlushedBatch.objects.create(id=batch_id, records=len(records))
            _upsert_watch(records)
            _upsert_interactions(records)
            _upsert_drops(records)
    except IntegrityError:
        if FlushedBatch.objects.filter(pk=batch_id).exists():
            return False
        # A row it names is gone (an event deleted since): count the batch as dropped rather
        # than retry it for ever.
        logger.exception("analytics batch %s could not be written", batch_id)
        _upsert_drops([{"k": "d", "s": "", "why": "flush_failed", "n": len(records)}])
    return True


def record_purchases(*, order_id: int) -> int:
    """Add a ``purchase`` interaction (analytics.ViewerInteraction) for each line of the paid order
    that was added on a show or video, under the order's viewer (commerce.Order.viewer) and the
    moment on screen then; returns how many. Idempotent: the order is marked once (FlushedBatch
    "order:<id>") in the same transaction, so a retried task adds nothing."""
    order = Order.objects.filter(pk=order_id, status__in=PURCHASED).exclude(viewer="").first()
    if order is None:
        return 0
    lines = order.lines.select_related("variant", "recording")
    records = [record for record in (_purchase(order, line) for line in lines) if record]
    with transaction.atomic():
        _, new = FlushedBatch.objects.get_or_create(
            id=f"order:{order.pk}", defaults={"records": len(records)}
        )
        if not new:
            return 0
        _upsert_interactions(records)
    return len(records)


PURCHASED = (Order.Status.PAID, Order.Status.REFUNDED)  # refunded: after it was paid


def _purchase(order: Order, line: OrderLine) -> dict | None:
    """The line as the record a beacon's card event makes (analytics.ingest), or None for a line
    added elsewhere than a show or video (the shop's pages) or whose product is gone."""
    if line.variant is None:
        return None
    if line.source == Source.LIVE and line.event_id:
        where = {"s": f"live:{line.event_id}", "e": line.event_id, "r": None}
        moment = f"h{line.highlight_id}" if line.highlight_id else ""
    elif line.source == Source.REPLAY and line.recording_id:
        where = {"s": f"replay:{line.recording_id}", "e": line.recording.event_id, "r": line.recording_id}
        moment = f"c{line.cue_id}" if line.cue_id else ""
    else:
        return None
    return {
        **where,
        "k": "i",
        "o": order.organization_id,
        "src": line.source,
        "v": order.viewer,
        "u": order.user_id,
        "t": ViewerInteraction.Kind.PURCHASE,
        "pr": line.variant.product_id,
        "mo": moment,
        "at": int((order.paid_at or order.created_at).timestamp() * 1000),
    }


def _when(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


def _upsert(model, columns: list[str], conflict: list[str], updates: str, rows: list[tuple]) -> None:
    if not rows:
        return
    table = model._meta.db_table
    # Names are our models' own; every value is a parameter.
    placeholders = ", ".join(["%s"] * len(columns))
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates.format(t=table)}"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


STREAM_COLUMNS = ["stream", "organization_id", "event_id", "recording_id", "source", "viewer"]


def _stream_values(record: dict) -> tuple:
    return (record["s"], record["o"], record["e"], record["r"], record["src"], record["v"])


def _upsert_watch(records: list[dict]) -> None:
    sums: dict[tuple, list] = {}
    for record in records:
        if record["k"] != "w":
            continue
        key = (*_stream_values(record), record["m"])
        entry = sums.setdefault(key, [0, None])
        entry[0] += record["ms"]
        if record["p"] is not None:
            entry[1] = max(entry[1] or 0, record["p"])
    rows = [(*key[:-1], _when(key[-1]), ms, position) for key, (ms, position) in sums.items()]
    _upsert(
        WatchMinute,
        [*STREAM_COLUMNS, "minute", "watched_ms", "position_s"],
        ["stream", "viewer", "minute"],
        "watched_ms = {t}.watched_ms + excluded.watched_ms, position_s = CASE "
        "WHEN {t}.position_s IS NULL THEN excluded.position_s "
        "WHEN excluded.position_s IS NULL THEN {t}.position_s "
        "WHEN excluded.position_s > {t}.position_s THEN excluded.position_s ELSE {t}.position_s END",
        rows,
    )


def _upsert_interactions(records: list[dict]) -> None:
    sums: dict[tuple, list] = {}
    for record in records:
        if record["k"] != "i":
            continue
        key = (*_stream_values(record), record["u"], record["t"], record["pr"], record["mo"])
        entry = sums.setdefault(key, [0, record["at"], record["at"]])
        entry[0] += 1
        entry[1], entry[2] = min(entry[1], record["at"]), max(entry[2], record["at"])
    rows = []
    for key, (count, first, last) in sums.items():
        moment = key[-1]
        highlight = int(moment[1:]) if moment.startswith("h") else None
        cue = int(moment[1:]) if moment.startswith("c") else None
        rows.append((*key, highlight, cue, count, _when(first / 1000), _when(last / 1000)))
    _upsert(
        ViewerInteraction,
        [
            *STREAM_COLUMNS,
            "user_id",
            "kind",
            "product_id",
            "moment",
            "highlight_id",
            "cue_id",
            "count",
            "first_at",
            "last_at",
        ],
        ["stream", "viewer", "kind", "product_id", "moment"],
        "count = {t}.count + excluded.count, last_at = CASE WHEN excluded.last_at > {t}.last_at "
        "THEN excluded.last_at ELSE {t}.last_at END, first_at = CASE WHEN excluded.first_at < {t}.first_at "
        "THEN excluded.first_at ELSE {t}.first_at END",
        rows,
    )


def _upsert_drops(records: list[dict]) -> None:
    sums: dict[tuple, int] = defaultdict(int)
    for record in records:
        if record["k"] == "d":
            sums[(record["s"], record["why"])] += record["n"]
    rows = [(stream, reason, n) for (stream, reason), n in sums.items()]
    _upsert(
        DroppedBeacon,
        ["stream", "reason", "count"],
        ["stream", "reason"],
        "count = {t}.count + excluded.count",
        rows,
    )
