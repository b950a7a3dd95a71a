"""What IVS writes beside a recording (shared/reference/ivs.md, section 4): the prefix's parts and
the events/recording-*.json metadata, parsed and checked. Pure functions, no S3 or database."""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from datetime import datetime

from recordings.exceptions import InvalidRecordingPrefix, MalformedRecording

STARTED = "events/recording-started.json"
ENDED = "events/recording-ended.json"
FAILED = "events/recording-failed.json"
EVENTS_FOLDER = "events/"

# ivs/v1/<account>/<channel id>/<year>/<month>/<day>/<hours>/<minutes>/<recording id>; the date
# parts are the UTC start, not zero-padded.
PREFIX = re.compile(
    r"ivs/v1/(?P<account>[A-Za-z0-9_-]+)/(?P<channel>[A-Za-z0-9_-]+)"
    r"/\d{4}/\d{1,2}/\d{1,2}/\d{1,2}/\d{1,2}/(?P<recording>[A-Za-z0-9_-]+)"
)
CHANNEL_ARN = re.compile(
    r"arn:aws:ivs:[a-z0-9-]*:(?P<account>[A-Za-z0-9_-]*):channel/(?P<channel>[A-Za-z0-9_-]+)"
)
RECORDING_ENDED = "RECORDING_ENDED"
RECORDING_FAILED = "RECORDING_ENDED_WITH_FAILURE"


@dataclass(frozen=True)
class RecordingPrefix:
    prefix: str  # without leading or trailing "/"
    account: str
    channel_id: str  # the last segment of the channel ARN
    recording_id: str

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}"


@dataclass(frozen=True)
class Rendition:
    path: str  # folder under media.hls.path, e.g. "720p30"
    playlist: str
    width: int | None
    height: int | None


@dataclass(frozen=True)
class RecordingManifest:
    """events/recording-ended.json or recording-failed.json."""

    channel_arn: str
    status: str
    message: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: int
    hls_path: str  # "media/hls"
    master_playlist: str  # "master.m3u8"
    renditions: tuple[Rendition, ...]
    thumbnails_path: str  # "media/thumbnails", or "" without thumbnails
    latest_thumbnail: str  # "media/latest_thumbnail/thumb.jpg", or ""

    @property
    def failed(self) -> bool:
        return self.status != RECORDING_ENDED

    @property
    def failure_reason(self) -> str:
        detail = f": {self.message}" if self.message else ""
        return f"IVS ended the recording with a failure ({self.status}){detail}"

    @property
    def master_key(self) -> str:
        return posixpath.join(self.hls_path, self.master_playlist)

    def rendition_key(self, rendition: Rendition) -> str:
        return posixpath.join(self.hls_path, rendition.path, rendition.playlist)


def parse_prefix(prefix: str) -> RecordingPrefix:
    """The parts of an IVS recording prefix; InvalidRecordingPrefix for anything else."""
    cleaned = (prefix or "").strip().strip("/")
    match = PREFIX.fullmatch(cleaned)
    if match is None:
        raise InvalidRecordingPrefix(
            f"{prefix!r} is not an IVS recording prefix "
            "(ivs/v1/<account>/<channel id>/<year>/<month>/<day>/<hour>/<minute>/<recording id>)"
        )
    return RecordingPrefix(cleaned, match["account"], match["channel"], match["recording"])


def channel_id_of(arn: str) -> str | None:
    """The channel id (last ARN segment) of an IVS channel ARN, or None."""
    match = CHANNEL_ARN.fullmatch(arn or "")
    return match["channel"] if match else None


def parse_manifest(data: bytes, *, where: str) -> RecordingManifest:
    """Parse recording-ended.json or recording-failed.json (``where`` names it in errors). A
    failed recording needs only its status and start: its media section may be partial."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRecording(f"{where} is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise MalformedRecording(f"{where} is not a JSON object")
    fields = _Fields(document, where)
    status = fields.string("recording_status")
    if status not in (RECORDING_ENDED, RECORDING_FAILED):
        raise MalformedRecording(f"{where}: recording_status is {status!r}, not an ended recording")
    failed = status == RECORDING_FAILED
    hls = fields.object("media", "hls", optional=failed)
    return RecordingManifest(
        channel_arn=fields.string("channel_arn"),
        status=status,
        message=str(document.get("recording_status_message") or ""),
        started_at=fields.moment("recording_started_at"),
        ended_at=fields.moment("recording_ended_at", optional=failed),
        duration_ms=fields.integer("media", "hls", "duration_ms", optional=failed) or 0,
        hls_path=fields.path("media", "hls", "path", optional=failed),
        master_playlist=fields.path("media", "hls", "playlist", optional=failed),
        renditions=() if hls is None else _renditions(fields),
        thumbnails_path=fields.path("media", "thumbnails", "path", optional=True),
        latest_thumbnail=fields.path("media", "latest_thumbnail", "path", optional=True),
    )


def _renditions(fields: _Fields) -> tuple[Rendition, ...]:
    items = fields.value("media", "hls", "renditions")
    if not isinstance(items, list) or not items:
        raise MalformedRecording(f"{fields.where}: media.hls.renditions must be a non-empty list")
    renditions = []
    for i, item in enumerate(items):
        entry = _Fields(item if isinstance(item, dict) else {}, f"{fields.where}: media.hls.renditions[{i}]")
        renditions.append(
            Rendition(
                path=entry.path("path"),
                playlist=entry.path("playlist"),
                width=entry.integer("resolution_width", optional=True),
                height=entry.integer("resolution_height", optional=True),
            )
        )
    return tuple(renditions)


class _Fields:
    """Typed access to a nested JSON object; MalformedRecording names the missing or bad field."""

    def __init__(self, document: dict, where: str):
        self.document, self.where = document, where

    def value(self, *path: str, optional: bool = False):
        node = self.document
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None and not optional:
            raise MalformedRecording(f"{self.where}: {'.'.join(path)} is missing")
        return node

    def _typed(self, path, optional, kind, name):
        value = self.value(*path, optional=optional)
        if value is not None and not isinstance(value, kind):
            raise MalformedRecording(f"{self.where}: {'.'.join(path)} must be {name}, not {value!r}")
        return value

    def object(self, *path: str, optional: bool = False) -> dict | None:
        return self._typed(path, optional, dict, "an object")

    def string(self, *path: str, optional: bool = False) -> str:
        return self._typed(path, optional, str, "a string") or ""

    def integer(self, *path: str, optional: bool = False) -> int | None:
        value = self._typed(path, optional, int, "an integer")
        if isinstance(value, bool) or (value is not None and value < 0):
            raise MalformedRecording(f"{self.where}: {'.'.join(path)} must be a non-negative integer")
        return value

    def moment(self, *path: str, optional: bool = False) -> datetime | None:
        value = self.string(*path, optional=optional)
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise MalformedRecording(f"{self.where}: {'.'.join(path)} is not an RFC 3339 UTC time: {value!r}")
        return moment

    def path(self, *path: str, optional: bool = False) -> str:
        """A relative path inside the recording: no leading "/", no "..", no URL."""
        value = self.string(*path, optional=optional).strip()
        parts = value.split("/")
        if value and (value.startswith("/") or ".." in parts or "" in parts or ":" in value):
            raise MalformedRecording(f"{self.where}: {'.'.join(path)} is not a relative path: {value!r}")
        return value
