"""Beacon batches as the player sends them, on a fake clock (milliseconds)."""

from analytics import ingest

T0 = 1_800_000_000_000  # a fixed "now" (2027-01-15), so tests never wait


def beacon(target: dict, *, tab="tab-aaaaaaaa", seq=0, sent_at=T0, items=(), **extra):
    return {**target, "tab": tab, "seq": seq, "sentAt": sent_at, "items": list(items), **extra}


def heartbeat(at=T0, played_ms=15_000, **extra):
    return {"type": "heartbeat", "at": at, "playedMs": played_ms, **extra}


def send(viewer_key: str, target: dict, *, now=T0, user=None, **batch):
    """Ingest one batch from ``viewer_key`` at server time ``now``."""
    return ingest.ingest_beacon(
        payload=beacon(target, sent_at=batch.pop("sent_at", now), **batch),
        viewer=ingest.Viewer(viewer_key, user),
        now_ms=now,
    )
