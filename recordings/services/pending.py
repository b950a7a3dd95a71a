"""Finding recordings that were never ingested (an EventBridge event lost, a task given up): the
reconcile pass behind ``manage.py ingest_recording --pending``."""

from __future__ import annotations

from dataclasses import dataclass, field

from events.models import LiveEvent
from liveshop import objectstore
from recordings.models import Recording
from recordings.services.ingest import storage_errors
from recordings.services.manifest import CHANNEL_ARN, ENDED

# Below ivs/v1/<account>/<channel id>/: year, month, day, hour, minute, recording id.
DATE_LEVELS = 6


@dataclass
class PendingScan:
    prefixes: list[str] = field(default_factory=list)  # recording ended, not ready here
    ready: int = 0  # prefixes already ingested
    not_ended: list[str] = field(default_factory=list)  # started, or failed at IVS


def find_pending_recordings(*, bucket: str) -> PendingScan:
    """Walk ``bucket``'s recordings of the channels Liveshop's events use (folder by folder,
    never listing segments) and return the prefixes that have events/recording-ended.json but
    no ready Recording. Read-only."""
    client = objectstore.s3_client()
    ready = set(
        Recording.objects.filter(source_bucket=bucket, status=Recording.Status.READY).values_list(
            "source_prefix", flat=True
        )
    )
    scan = PendingScan()
    with storage_errors():
        for base in _channel_folders():
            for folder in _walk(client, bucket, base, DATE_LEVELS):
                prefix = folder.rstrip("/")
                if prefix in ready:
                    scan.ready += 1
                elif any(objectstore.list_objects(client, bucket=bucket, prefix=f"{prefix}/{ENDED}")):
                    scan.prefixes.append(prefix)
                else:
                    scan.not_ended.append(prefix)
    return scan


def _channel_folders() -> list[str]:
    arns = LiveEvent.objects.exclude(channel_id="").values_list("channel_id", flat=True)
    matches = (CHANNEL_ARN.fullmatch(arn) for arn in arns)
    return sorted({f"ivs/v1/{m['account']}/{m['channel']}/" for m in matches if m and m["account"]})


def _walk(client, bucket: str, prefix: str, depth: int):
    if depth == 0:
        yield prefix
        return
    for folder in objectstore.list_folders(client, bucket=bucket, prefix=prefix):
        yield from _walk(client, bucket, folder, depth - 1)
