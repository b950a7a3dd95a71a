"""Stream and recording state as the EventBridge events IVS sends, so one handler serves every
backend: IVS delivers them through an EventBridge API destination, the local media server builds
them here from nginx-rtmp's callbacks.

``parse_origin`` checks who an event says it is from (shared/reference/ivs.md, section 3): the
source, a detail type Liveshop subscribes to, and a channel ARN whose account and region are the
envelope's. Whether that account is Liveshop's is the caller's check (``configured_account``)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

STREAM_STATE_CHANGE = "IVS Stream State Change"
STREAM_HEALTH_CHANGE = "IVS Stream Health Change"
RECORDING_STATE_CHANGE = "IVS Recording State Change"
# What deploy/cloudformation.yaml's rules route to Liveshop; IVS's other detail types never come.
DETAIL_TYPES = (STREAM_STATE_CHANGE, STREAM_HEALTH_CHANGE, RECORDING_STATE_CHANGE)
SOURCE = "aws.ivs"

SESSION_CREATED = "Session Created"
SESSION_ENDED = "Session Ended"
STREAM_START = "Stream Start"
STREAM_END = "Stream End"
STREAM_FAILURE = "Stream Failure"
STREAM_TAKEOVER = "Stream Takeover"
STREAM_TAKEOVER_FAILURE = "Stream Takeover Failure"
# Every detail.event_name IVS documents for "IVS Stream State Change".
STREAM_EVENT_NAMES = (
    SESSION_CREATED,
    SESSION_ENDED,
    STREAM_START,
    STREAM_END,
    STREAM_FAILURE,
    STREAM_TAKEOVER,
    STREAM_TAKEOVER_FAILURE,
)

# The local media server's events: its channel ids ("ch_...") are no ARNs, its account and
# region are this word (as its recordings' prefixes: ivs/v1/local/<channel id>/...).
LOCAL_ACCOUNT = "local"
CHANNEL_ARN = re.compile(
    r"arn:aws:ivs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):channel/(?P<channel>[A-Za-z0-9_-]+)"
)
LOCAL_CHANNEL = re.compile(r"[A-Za-z0-9_-]{1,128}")
RECORDING_CONFIGURATION_ARN = re.compile(
    r"arn:aws:ivs:[a-z0-9-]+:(?P<account>\d{12}):recording-configuration/[A-Za-z0-9_-]+"
)


class UntrustedEvent(ValueError):
    """An event that does not say it comes from IVS (or the local media server) consistently:
    another source, a detail type nobody routes here, an account or region that disagrees with
    the channel ARN's. The message says which."""


@dataclass(frozen=True)
class Origin:
    channel: str  # resources[0]: the channel ARN, or the local channel id
    channel_id: str  # the ARN's last segment, or the local channel id
    account: str  # LOCAL_ACCOUNT for the local media server
    region: str

    @property
    def local(self) -> bool:
        return self.account == LOCAL_ACCOUNT


def parse_origin(payload: dict, *, local_allowed: bool = False) -> Origin:
    """The channel and account ``payload`` (a dict) is about, checked for consistency;
    UntrustedEvent otherwise. Local channel ids pass only with ``local_allowed`` (the media
    server's own callbacks, never the IVS webhook nor the ingest task)."""
    if payload.get("source") != SOURCE:
        raise UntrustedEvent(
            f"'source' is {_shown(payload.get('source'))}: only {SOURCE!r} events are accepted."
        )
    if payload.get("detail-type") not in DETAIL_TYPES:
        raise UntrustedEvent(
            f"'detail-type' {_shown(payload.get('detail-type'))} is not one Liveshop subscribes to "
            f"({', '.join(DETAIL_TYPES)})."
        )
    resources = payload.get("resources")
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], str):
        raise UntrustedEvent("'resources' must hold exactly one channel ARN.")
    account, region, channel = payload.get("account"), payload.get("region"), resources[0]
    match = CHANNEL_ARN.fullmatch(channel)
    if match is None:
        if local_allowed and account == LOCAL_ACCOUNT and LOCAL_CHANNEL.fullmatch(channel):
            return Origin(channel, channel, LOCAL_ACCOUNT, LOCAL_ACCOUNT)
        raise UntrustedEvent(f"'resources' {_shown(channel)} is not an IVS channel ARN.")
    if account != match["account"]:
        raise UntrustedEvent(f"'account' {_shown(account)} is not the channel ARN's account.")
    if region != match["region"]:
        raise UntrustedEvent(f"'region' {_shown(region)} is not the channel ARN's region.")
    return Origin(channel, match["channel"], match["account"], match["region"])


def configured_account() -> str:
    """Liveshop's AWS account: IVS_ACCOUNT_ID, else the account of
    IVS_RECORDING_CONFIGURATION_ARN; "" when neither is set (callers then derive it from the
    channels they know)."""
    if settings.IVS_ACCOUNT_ID:
        return settings.IVS_ACCOUNT_ID
    match = RECORDING_CONFIGURATION_ARN.fullmatch(settings.IVS_RECORDING_CONFIGURATION_ARN or "")
    return match["account"] if match else ""


def _shown(value: object) -> str:
    return (
        repr(value[:80])
        if isinstance(value, str)
        else repr(type(value).__name__ if value is not None else None)
    )


def _envelope(detail_type: str, channel_id: str, detail: dict, at: datetime | None) -> dict:
    """IVS's envelope; ``account`` and ``region`` are the channel ARN's, as IVS sends them (the
    local media server's channel ids are no ARNs: LOCAL_ACCOUNT)."""
    at = at or datetime.now(UTC)
    match = CHANNEL_ARN.fullmatch(channel_id)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": match["account"] if match else LOCAL_ACCOUNT,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "region": match["region"] if match else LOCAL_ACCOUNT,
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
