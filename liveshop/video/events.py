"""Stream and recording state as the EventBridge events IVS sends, so one handler serves every
backend: IVS delivers them through an EventBridge API destination, the local media server builds
them here from nginx-rtmp's callbacks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

STREAM_STATE_CHANGE = "IVS Stream State Change"
RECORDING_STATE_CHANGE = "IVS Recording State Change"

SESSION_CREATED = "Session Created"
SESSION_ENDED = "Session Ended"
STREAM_START = "Stream Start"
STREAM_END = "Stream End"
STREAM_FAILURE = "Stream Failure"


def _envelope(detail_type: str, channel_id: str, detail: dict, at: datetime | None) -> dict:
    at = at or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.ivs",
        "account": "local",
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "region": "local",
        "resources": [channel_id],
        "detail": detail,
    }


def stream_state_change(
    channel_id: str, event_name: str, stream_id: str, *, at: datetime | None = None, **detail
) -> dict:
    """An "IVS Stream State Change" event for ``channel_id``."""
    return _envelope(
        STREAM_STATE_CHANGE,
        channel_id,
        {"event_name": event_name, "channel_name": "", "stream_id": stream_id, **detail},
        at,
    )


def recording_state_change(
    channel_id: str, recording_status: str, stream_id: str, *, at: datetime | None = None, **detail
) -> dict:
    """An "IVS Recording State Change" event (bucket, prefix, duration... go in ``detail``)."""
    return _envelope(
        RECORDING_STATE_CHANGE,
        channel_id,
        {"recording_status": recording_status, "channel_name": "", "stream_id": stream_id, **detail},
        at,
    )
