"""Beacons in: a player's batch (one heartbeat and the card events since the last batch) is
checked for shape and source, turned into buffer records and pushed to the buffer in one round
trip. No database write happens here (analytics.flush does those in bulk), and nothing here is on
the card fan-out's path.

Counting rules (each refusal is counted by reason, analytics.models.DroppedBeacon):
- a viewer is the signed-in user or the signed cookie's id (``Viewer``): two tabs, a refresh, a
  second device of one account count once;
- a heartbeat reports the time the video *played* since the last one (paused time is never
  reported); the server credits at most the wall time since that viewer's previous accepted
  heartbeat on the stream, and refuses one closer than MIN_GAP_MS: whatever tabs or scripts send,
  a viewer's watch time never exceeds the time that passed;
- a batch is identified by its tab and sequence number: sent twice, it counts once;
- times are the client's, read relative to the batch's own ``sentAt`` (clocks may be wrong):
  an item after ``sentAt`` is "future", one older than MAX_AGE_MS is "late".
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings

from analytics import streams
from analytics.buffer import Heartbeat, Submission, get_buffer
from analytics.exceptions import BeaconRejected
from events.models import Highlight
from liveshop import jsoninput, tasks, viewer_id
from recordings.models import ProductCue

MAX_BODY_BYTES = 16 * 1024
MAX_ITEMS = 40
MIN_GAP_MS = 5_000  # heartbeats come every 15 s; closer than this is a second tab or a script
MAX_PLAYED_MS = 35_000  # the most one heartbeat may credit when it is the viewer's first
MAX_AGE_MS = 10 * 60_000  # items queued longer than this (a sleeping laptop) are late
FUTURE_SLACK_MS = 2_000
BATCH_SEEN_SECONDS = 3600
HEARTBEAT_KEY_SECONDS = 300
CARD_KINDS = ("impression", "click", "add_to_cart")
TAB_RE = re.compile(r"^[A-Za-z0-9_-]{8,40}$")


@dataclass(frozen=True)
class Viewer:
    """Who reports: ``key`` is "u:<user id>", "id:<cookie id>" or "addr:<keyed address hash>"."""

    key: str
    user: object = None

    @functools.cached_property
    def id(self) -> str:
        return viewer_id.counting_id(self.key)  # the id an order carries too (commerce.Order.viewer)

    @property
    def user_id(self) -> int | None:
        return self.user.pk if getattr(self.user, "is_authenticated", False) else None


@dataclass
class Outcome:
    stored: int = 0
    dropped: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Batch:
    kind: str  # "event" or "recording"
    target_id: int
    tab: str
    seq: int
    sent_at: int
    items: list[dict]


def parse_body(body: bytes) -> dict:
    """The request body as a JSON object, or BeaconRejected."""
    if len(body) > MAX_BODY_BYTES:
        raise BeaconRejected(f"A batch is at most {MAX_BODY_BYTES} bytes.")
    try:
        payload = jsoninput.loads(body)
    except ValueError:
        raise BeaconRejected("The batch is not JSON.") from None
    if not isinstance(payload, dict):
        raise BeaconRejected("The batch must be a JSON object.")
    return payload


def _int(value, name: str, low: int = 0, high: int = 2**53) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BeaconRejected(f"{name} must be a whole number from {low} to {high}.")
    return value


def parse_batch(payload: dict) -> Batch:
    """Check the batch's shape (BeaconRejected with the reason otherwise)."""
    targets = [(kind, payload[kind]) for kind in ("event", "recording") if kind in payload]
    if len(targets) != 1:
        raise BeaconRejected("Name exactly one of event or recording.")
    kind, target = targets[0]
    tab = payload.get("tab")
    if not isinstance(tab, str) or not TAB_RE.match(tab):
        raise BeaconRejected("tab must be 8-40 letters, digits, - or _.")
    items = payload.get("items")
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        raise BeaconRejected(f"items must be a list of 1 to {MAX_ITEMS} items.")
    for item in items:
        _check_item(item)
    if sum(item["type"] == "heartbeat" for item in items) > 1:
        raise BeaconRejected("At most one heartbeat per batch.")
    return Batch(
        kind,
        _int(target, kind, 1),
        tab,
        _int(payload.get("seq"), "seq", 0, 10**9),
        _int(payload.get("sentAt"), "sentAt"),
        items,
    )


def _check_item(item) -> None:
    if not isinstance(item, dict) or item.get("type") not in ("heartbeat", *CARD_KINDS):
        raise BeaconRejected(f"Each item needs a type: heartbeat or one of {', '.join(CARD_KINDS)}.")
    _int(item.get("at"), "at")
    if item["type"] == "heartbeat":
        _int(item.get("playedMs"), "playedMs", 0, 10 * 60_000)
        if item.get("positionMs") is not None:
            _int(item["positionMs"], "positionMs")
    elif sum(name in item for name in ("highlightId", "cueId")) != 1:
        raise BeaconRejected("A card item names its highlightId (live) or cueId (replay).")
    else:
        _int(item.get("highlightId", item.get("cueId")), "highlightId/cueId", 1)


@dataclass
class Prepared:
    """A checked batch: records to push as they are (``drops``), the submission for the
    buffer's one atomic step (None: nothing more), and a refusal to raise after the push."""

    outcome: Outcome
    drops: list[str] = field(default_factory=list)
    submission: Submission | None = None
    rejected: str = ""


def ingest_beacon(*, payload: dict, viewer: Viewer, now_ms: int | None = None) -> Outcome:
    """Check one batch and push its records to the buffer in one round trip (refusals counted).
    Raises BeaconRejected (a 400) for a malformed batch or a stream this viewer cannot watch."""
    prepared = prepare(payload=payload, viewer=viewer, now_ms=now_ms)
    buffer = get_buffer()
    if prepared.drops:
        buffer.push(prepared.drops)
    if prepared.rejected:
        raise BeaconRejected(prepared.rejected)
    status = buffer.submit(prepared.submission) if prepared.submission else ""
    schedule_flush()
    return finish(prepared, status)


def prepare(*, payload: dict, viewer: Viewer, now_ms: int | None = None) -> Prepared:
    """Everything but the buffer: shape (BeaconRejected), stream, who, times, the records. Reads
    the database only for a stream not described in this process lately, a signed-in viewer or
    card items (analytics.asgi calls it on the event loop and falls back to a thread then)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    batch = parse_batch(payload)
    stream = streams.resolve(batch.kind, batch.target_id)
    prepared, n = Prepared(Outcome()), len(batch.items)
    outcome = prepared.outcome
    if stream is None or not stream.watchable_by(viewer.user):
        prepared.drops, prepared.rejected = (
            [_drop("", "unknown_stream", 1)],
            f"No such {batch.kind} to watch.",
        )
        return prepared
    if stream.is_brands(viewer.user):
        outcome.dropped["brand_viewer"] += n
    elif not stream.accepting():
        outcome.dropped["not_playing"] += n
    if outcome.dropped:
        prepared.drops = [_drop(stream.key, reason, count) for reason, count in outcome.dropped.items()]
        return prepared
    timed = _timed(batch, now_ms, outcome)
    base = {**stream.fields(), "src": stream.source, "v": viewer.id}
    records = _card_records(stream, base, [i for i in timed if i["type"] != "heartbeat"], viewer, outcome)
    heartbeat = next(
        (_heartbeat(stream, base, i, viewer, now_ms) for i in timed if i["type"] == "heartbeat"), None
    )
    records += [_drop(stream.key, reason, count) for reason, count in outcome.dropped.items()]
    prepared.submission = Submission(
        seen_key=f"batch:{viewer.id}:{batch.tab}:{batch.seq}",
        seen_ttl=BATCH_SEEN_SECONDS,
        records=records,
        duplicate_record=_drop(stream.key, "duplicate_batch", n),
        heartbeat=heartbeat,
    )
    return prepared


def finish(prepared: Prepared, status: str) -> Outcome:
    """The outcome once the buffer answered ``status`` ("ok", "duplicate", "too_frequent"; "" when
    nothing was submitted)."""
    outcome, submission = prepared.outcome, prepared.submission
    if submission is None:
        return outcome
    if status == "duplicate":
        outcome.stored, outcome.dropped = 0, Counter({"duplicate_batch": _items_of(submission)})
        return outcome
    heartbeat_stored = submission.heartbeat is not None and status == "ok"
    outcome.stored = len(submission.records) - len(outcome.dropped) + heartbeat_stored
    if status == "too_frequent":
        outcome.dropped["too_frequent"] += 1
    return outcome


def _items_of(submission: Submission) -> int:
    return json.loads(submission.duplicate_record)["n"]


def _timed(batch: Batch, now_ms: int, outcome: Outcome) -> list[dict]:
    """The batch's items on the server's clock; future and late ones counted out."""
    timed = []
    for item in batch.items:
        if item["at"] > batch.sent_at + FUTURE_SLACK_MS:
            outcome.dropped["future"] += 1
        elif batch.sent_at - item["at"] > MAX_AGE_MS:
            outcome.dropped["late"] += 1
        else:
            timed.append({**item, "server_at": now_ms - max(0, batch.sent_at - item["at"])})
    return timed


def _heartbeat(stream, base: dict, item: dict, viewer: Viewer, now_ms: int) -> Heartbeat:
    position = item.get("positionMs")
    if position is not None and not stream.is_live:
        duration = stream.target.duration_ms or position
        position = min(position, duration) // 1000
    else:
        position = None
    # "ms" is filled by the buffer with the time it credits ("ms":0, is replaced there).
    record = {**base, "k": "w", "m": item["server_at"] // 60_000 * 60, "ms": 0, "p": position}
    return Heartbeat(
        key=f"hb:{stream.key}:{viewer.id}",
        now_ms=now_ms,
        min_gap_ms=MIN_GAP_MS,
        ttl=HEARTBEAT_KEY_SECONDS,
        played_ms=item["playedMs"],
        first_cap_ms=max(MAX_PLAYED_MS, settings.ANALYTICS_HEARTBEAT_SECONDS * 1000 + 5_000),
        template=json.dumps(record, separators=(",", ":")),
        refused_record=_drop(stream.key, "too_frequent", 1),
    )


def _card_records(stream, base: dict, items: list[dict], viewer: Viewer, outcome: Outcome) -> list[str]:
    if not items:
        return []
    key = "highlightId" if stream.is_live else "cueId"
    ids = {item.get(key) for item in items}
    if stream.is_live:
        known = dict(
            Highlight.objects.filter(event_id=stream.event_id, pk__in=ids).values_list("pk", "product_id")
        )
    else:
        known = dict(
            ProductCue.objects.filter(recording_id=stream.recording_id, pk__in=ids).values_list(
                "pk", "product_id"
            )
        )
    records = []
    for item in items:
        product = known.get(item.get(key))
        if product is None:
            outcome.dropped["unknown_moment"] += 1
            continue
        moment = ("h" if stream.is_live else "c") + str(item[key])
        record = {
            **base,
            "k": "i",
            "u": viewer.user_id,
            "t": item["type"],
            "pr": product,
            "mo": moment,
            "at": item["server_at"],
        }
        records.append(json.dumps(record, separators=(",", ":")))
    return records


def _drop(stream_key: str, reason: str, n: int) -> str:
    return json.dumps({"k": "d", "s": stream_key, "why": reason, "n": n}, separators=(",", ":"))


_flush_asked_at = -1e9


def schedule_flush() -> None:
    """Ask for a flush at most once per ANALYTICS_FLUSH_SECONDS (one Redis SET NX), so the
    roll-ups lag the players by seconds with or without Celery beat."""
    if not settings.ANALYTICS_SCHEDULE_FLUSH:
        return
    global _flush_asked_at
    interval = settings.ANALYTICS_FLUSH_SECONDS
    if time.monotonic() - _flush_asked_at < interval:
        return  # this process asked within the interval: no round trip
    _flush_asked_at = time.monotonic()
    if get_buffer().first_time("flush-scheduled", max(1, int(interval))):
        tasks.enqueue("analytics.tasks.flush_buffer_task", countdown=interval)
