"""Writes what IVS writes for a recording (shared/reference/ivs.md, section 4) into an S3 bucket:
the prefix, per-rendition media playlists with EXT-X-PROGRAM-DATE-TIME tags and .ts segments,
the multivariant playlists, thumbnails, and events/recording-started.json plus
recording-ended.json (or recording-failed.json). Used by the tests (moto) and bench/ingest.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from liveshop.objectstore import content_type

# (folder, width, height, bandwidth): IVS's rendition folders are not fixed; read the JSON.
RENDITIONS = (
    ("720p30", 1280, 720, 2_500_000),
    ("480p30", 852, 480, 1_200_000),
    ("360p30", 640, 360, 700_000),
    ("160p30", 284, 160, 230_000),
)
CODECS = "avc1.4D401F,mp4a.40.2"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pdt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class RecordingSpec:
    """One recording session. ``streams`` are (seconds after ``started_at``, length in seconds):
    more than one = reconnects IVS merged into the same prefix, with gaps between them."""

    channel_arn: str
    started_at: datetime
    streams: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, 360.0)])
    recording_id: str = "j8Z9O91ndcVs"
    segment_seconds: float = 12.0
    renditions: tuple = RENDITIONS
    thumbnail_seconds: int = 60
    segment_bytes: int = 1880  # ten TS packets; scaled down per rendition
    stream_ids: list[str] = field(default_factory=lambda: ["st-1A2b3c4D5e6F78ghij9Klmn"])
    session_id: str = "a6RfV23ES97iyfoQ"

    @property
    def account(self) -> str:
        return self.channel_arn.split(":")[4]

    @property
    def channel_id(self) -> str:
        return self.channel_arn.rsplit("/", 1)[1]

    @property
    def prefix(self) -> str:
        s = self.started_at.astimezone(UTC)
        return (
            f"ivs/v1/{self.account}/{self.channel_id}/{s.year}/{s.month}/{s.day}/{s.hour}/{s.minute}/"
            f"{self.recording_id}"
        )

    @property
    def ended_at(self) -> datetime:
        offset, length = self.streams[-1]
        return self.started_at + timedelta(seconds=offset + length)

    @property
    def duration_ms(self) -> int:
        return sum(round(length * 1000) for _, length in self.streams)

    def segments(self) -> list[tuple[datetime, float, bool]]:
        """(program date-time, length in seconds, starts a new stream) of every segment."""
        out = []
        for n, (offset, length) in enumerate(self.streams):
            position = 0.0
            while position < length - 1e-9:
                seconds = min(self.segment_seconds, length - position)
                at = self.started_at + timedelta(seconds=offset + position)
                out.append((at, seconds, n > 0 and position == 0))
                position += seconds
        return out


def media_playlist(spec: RecordingSpec) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{round(spec.segment_seconds)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for i, (at, seconds, new_stream) in enumerate(spec.segments()):
        if new_stream:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXT-X-PROGRAM-DATE-TIME:{pdt(at)}", f"#EXTINF:{seconds:.3f},", f"{i}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def byte_range_playlist(spec: RecordingSpec, size: int) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:4", f"#EXT-X-TARGETDURATION:{round(spec.segment_seconds)}"]
    for i, (at, seconds, _) in enumerate(spec.segments()):
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{pdt(at)}",
            f"#EXTINF:{seconds:.3f},",
            f"#EXT-X-BYTERANGE:{size}@0",
        ]
        lines.append(f"{i}.ts")
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def master_playlist(spec: RecordingSpec, playlist: str = "playlist.m3u8") -> str:
    lines = ["#EXTM3U", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for name, width, height, bandwidth in spec.renditions:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},FRAME-RATE=30.000,"
            f'CODECS="{CODECS}",VIDEO="{name}"'
        )
        lines.append(f"{name}/{playlist}")
    return "\n".join([*lines, ""])


def metadata(spec: RecordingSpec, status: str, message: str = "") -> dict:
    """recording-started.json / -ended.json / -failed.json (ivs.md 4.3)."""
    hls = {
        "path": "media/hls",
        "playlist": "master.m3u8",
        "byte_range_playlist": "byte-range-multivariant.m3u8",
        "renditions": [
            {
                "path": name,
                "playlist": "playlist.m3u8",
                "byte_range_playlist": "byte-range-variant.m3u8",
                "resolution_height": height,
                "resolution_width": width,
            }
            for name, width, height, _ in spec.renditions
        ],
    }
    document = {
        "version": "v1",
        "channel_arn": spec.channel_arn,
        "recording_started_at": rfc3339(spec.started_at),
        "recording_status": status,
        "media": {
            "hls": hls,
            "thumbnails": {"path": "media/thumbnails", "resolution_height": 480, "resolution_width": 852},
            "latest_thumbnail": {
                "path": "media/latest_thumbnail/thumb.jpg",
                "resolution_height": 480,
                "resolution_width": 852,
            },
        },
    }
    if status != "RECORDING_STARTED":
        document["recording_ended_at"] = rfc3339(spec.ended_at)
        document["recording_status_message"] = message
        hls["duration_ms"] = spec.duration_ms if status == "RECORDING_ENDED" else 0
    return document


def recording_objects(
    spec: RecordingSpec, *, ended: str | None = "ended", message: str = ""
) -> dict[str, bytes]:
    """Every object of the recording, by key relative to the prefix. ``ended``: "ended",
    "failed" or None (still recording: only recording-started.json)."""
    objects: dict[str, bytes] = {}
    count = len(spec.segments())
    for n, (name, _, height, _) in enumerate(spec.renditions):
        size = max(188, spec.segment_bytes * height // 720) // 188 * 188
        for i in range(count):
            tag = f"{name}/{i}".encode()
            objects[f"media/hls/{name}/{i}.ts"] = (tag + bytes([0x47 + n]) * size)[:size]
        objects[f"media/hls/{name}/playlist.m3u8"] = media_playlist(spec).encode()
        objects[f"media/hls/{name}/byte-range-variant.m3u8"] = byte_range_playlist(spec, size).encode()
    objects["media/hls/master.m3u8"] = master_playlist(spec).encode()
    objects["media/hls/byte-range-multivariant.m3u8"] = master_playlist(
        spec, "byte-range-variant.m3u8"
    ).encode()
    seconds = spec.duration_ms // 1000
    for i in range(max(1, seconds // spec.thumbnail_seconds)):
        objects[f"media/thumbnails/thumb{i}.jpg"] = b"\xff\xd8\xff\xe0" + f"thumb{i}".encode() + b"\xff\xd9"
    objects["media/latest_thumbnail/thumb.jpg"] = b"\xff\xd8\xff\xe0latest\xff\xd9"
    objects["events/recording-started.json"] = json.dumps(metadata(spec, "RECORDING_STARTED")).encode()
    if ended == "ended":
        objects["events/recording-ended.json"] = json.dumps(metadata(spec, "RECORDING_ENDED")).encode()
    elif ended == "failed":
        document = metadata(spec, "RECORDING_ENDED_WITH_FAILURE", message or "InternalServerException")
        objects["events/recording-failed.json"] = json.dumps(document).encode()
    return objects


def write_recording(
    put: Callable[[str, bytes], object],
    spec: RecordingSpec,
    *,
    ended: str | None = "ended",
    message: str = "",
    concurrency: int = 1,
) -> dict[str, bytes]:
    """Write the recording's objects under ``spec.prefix`` with ``put(key, body)``; returns them
    by relative key."""
    objects = recording_objects(spec, ended=ended, message=message)
    items = [(f"{spec.prefix}/{key}", body) for key, body in objects.items()]
    if concurrency > 1:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda item: put(*item), items))
    else:
        for item in items:
            put(*item)
    return objects


def client_put(client, bucket: str) -> Callable[[str, bytes], object]:
    """``put`` for write_recording through a boto3 client (PutObject with the right type)."""
    return lambda key, body: client.put_object(
        Bucket=bucket, Key=key, Body=body, ContentType=content_type(key)
    )
