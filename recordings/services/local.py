"""Recordings of the local media server, ingested like IVS's.

nginx-rtmp records each publish to one FLV, which events.media_hooks.on_record_done renames to
``rec/<channel id>-<unix time>.flv``. ``convert_local_recording`` turns it with ffmpeg (streams
copied, not re-encoded, when a browser can play them: H.264 4:2:0 and AAC) into the layout IVS
writes (shared/reference/ivs.md, section 4), below ``local_recordings_root()``::

    ivs/v1/local/<channel id>/<y>/<m>/<d>/<h>/<min>/r<unix time>/
      events/recording-started.json, recording-ended.json
      media/hls/master.m3u8, media/hls/<rendition>/playlist.m3u8 + <n>.ts
      media/thumbnails/<rendition>/thumb<n>.jpg

The playlist carries EXT-X-PROGRAM-DATE-TIME from the stream session's real start, so highlights
become cues at the right moments, and the metadata names the channel in an ARN-shaped
``arn:aws:ivs:local:local:channel/<channel id>``. ``ingest_local_recording`` then runs the one
ingestion service (recordings.services.ingest) on it, with the LOCAL_SOURCE "bucket".
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from events.models import LiveEvent, StreamSession
from recordings.exceptions import RecordingError
from recordings.models import Recording
from recordings.playlists import PlaylistError, parse_media
from recordings.services.ingest import (
    LOCAL_SOURCE,
    get_event_for_channel,
    ingest_recording,
    local_recordings_root,
    record_failure,
)
from recordings.services.manifest import ENDED, STARTED, parse_prefix

logger = logging.getLogger(__name__)

FFMPEG, FFPROBE = "ffmpeg", "ffprobe"  # looked up on PATH
ACCOUNT = "local"  # the <account> part of the prefix
SEGMENT_SECONDS = 4  # cut at the next keyframe after this
THUMBNAIL_SECONDS = 60  # one thumbnail at the start, then one a minute, as IVS's default
THUMBNAIL_HEIGHT = 480
FLV_NAME = re.compile(r"(?P<channel>[A-Za-z0-9_]+)-(?P<time>\d{9,11})\.flv")
# A session whose start is this close to the file's is the stream it recorded.
SESSION_MATCH = timedelta(minutes=2)
H264_PROFILES = {"Constrained Baseline": "42E0", "Baseline": "4200", "Main": "4D40", "High": "6400"}
AAC_PROFILES = {"LC": "mp4a.40.2", "HE-AAC": "mp4a.40.5", "HE-AACv2": "mp4a.40.29"}


class ConversionFailed(RecordingError):
    """A local recording cannot be turned into HLS: not the media server's file, not a video
    ffprobe can read, ffmpeg missing or failing. The message says which."""


@dataclass(frozen=True)
class LocalRecording:
    """An FLV of the media server, named ``<channel id>-<unix time>.flv``."""

    flv: Path
    channel_id: str
    recorded_at: datetime  # when nginx opened the file (whole seconds)

    @property
    def prefix(self) -> str:
        """Stable for the file, so converting and ingesting it again finds the same recording."""
        s = self.recorded_at
        date = f"{s.year}/{s.month}/{s.day}/{s.hour}/{s.minute}"
        return f"ivs/v1/{ACCOUNT}/{self.channel_id}/{date}/r{int(s.timestamp())}"

    @property
    def channel_arn(self) -> str:
        return f"arn:aws:ivs:local:{ACCOUNT}:channel/{self.channel_id}"


def parse_local_recording(flv: Path | str) -> LocalRecording:
    """The channel and start of a media server recording; ConversionFailed for other names."""
    flv = Path(flv)
    match = FLV_NAME.fullmatch(flv.name)
    if match is None:
        raise ConversionFailed(
            f"{flv.name} is not a recording of the local media server (<channel id>-<unix time>.flv)"
        )
    recorded_at = datetime.fromtimestamp(int(match["time"]), tz=UTC)
    return LocalRecording(flv=flv, channel_id=match["channel"], recorded_at=recorded_at)


def ingest_local_recording(
    *, flv: Path | str, stream_id: str = "", force: bool = False, progress=None
) -> Recording:
    """Convert the media server's recording ``flv`` (unless done before) and ingest it: a ready
    Recording (backend "local") with its cues. Idempotent like ingest_recording. A conversion
    failure marks the recording failed with the reason, writes nothing, and raises."""
    local = parse_local_recording(flv)
    if not local.flv.is_file() and not (local_recordings_root() / local.prefix / ENDED).is_file():
        raise ConversionFailed(f"The recording {local.flv} does not exist")
    event = get_event_for_channel(local.channel_id)
    session = find_session(event, stream_id=stream_id, near=local.recorded_at)
    stream_ids = [session.stream_id] if session else [stream_id] if stream_id else []
    started_at = session.started_at if session and session.started_at else local.recorded_at
    try:
        prefix = convert_local_recording(recording=local, started_at=started_at, force=force)
    except ConversionFailed as exc:
        record_failure(event=event, bucket=LOCAL_SOURCE, prefix=local.prefix, reason=str(exc))
        raise
    return ingest_recording(
        bucket=LOCAL_SOURCE, prefix=prefix, stream_ids=stream_ids, force=force, progress=progress
    )


def find_session(event: LiveEvent, *, stream_id: str, near: datetime) -> StreamSession | None:
    """The stream session the recording is of: by its stream id, else the one of ``event``
    that started closest to ``near`` (within SESSION_MATCH)."""
    sessions = StreamSession.objects.filter(event=event, started_at__isnull=False)
    if stream_id:
        found = sessions.filter(stream_id=stream_id).first()
        if found is not None:
            return found
    candidates = sessions.filter(started_at__range=(near - SESSION_MATCH, near + SESSION_MATCH))
    return min(candidates, key=lambda s: abs(s.started_at - near), default=None)


def convert_local_recording(*, recording: LocalRecording, started_at: datetime, force: bool = False) -> str:
    """Write ``recording`` in IVS's layout below local_recordings_root() and return its prefix.
    Built in a hidden folder and renamed into place once complete, so the prefix holds either
    nothing or a whole recording. Idempotent: a prefix with recording-ended.json is kept (unless
    ``force``). ConversionFailed for a file ffprobe or ffmpeg cannot read."""
    target = local_recordings_root() / recording.prefix
    if (target / ENDED).is_file() and not force:
        return recording.prefix
    parse_prefix(recording.prefix)  # a channel id the ingestion would refuse fails here, first
    if not recording.flv.is_file():
        raise ConversionFailed(f"The recording {recording.flv} does not exist")
    source = probe(recording.flv)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as scratch:
        work = Path(scratch) / target.name
        _write_recording(work, recording=recording, source=source, started_at=started_at)
        if target.exists():  # forced, or a folder left without recording-ended.json
            shutil.rmtree(target)
        try:
            os.replace(work, target)
        except OSError:
            if not (target / ENDED).is_file():  # not another process finishing first
                raise
    logger.info("Local recording converted", extra={"channel_id": recording.channel_id, "to": str(target)})
    return recording.prefix


@dataclass(frozen=True)
class Probe:
    duration: float | None
    video: dict
    audio: dict | None


def probe(path: Path) -> Probe:
    """ffprobe's view of ``path``: ConversionFailed unless it is a video ffprobe can read."""
    output = _run(
        [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        what=f"ffprobe could not read {path.name}",
        timeout=60,
    )
    try:
        info = json.loads(output)
    except ValueError:
        raise ConversionFailed(f"ffprobe could not read {path.name}: its output is not JSON") from None
    streams = info.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise ConversionFailed(f"{path.name} has no video stream")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _number((info.get("format") or {}).get("duration"))
    return Probe(duration=duration, video=video, audio=audio)


def _write_recording(work: Path, *, recording: LocalRecording, source: Probe, started_at: datetime) -> None:
    rendition = rendition_name(source.video)
    hls = work / "media" / "hls" / rendition
    thumbnails = work / "media" / "thumbnails" / rendition
    hls.mkdir(parents=True)
    thumbnails.mkdir(parents=True)
    _run(
        ffmpeg_command(recording.flv, source, hls=hls, thumbnails=thumbnails),
        what=f"ffmpeg could not convert {recording.flv.name}",
        timeout=120 + 4 * (source.duration or 3600),
    )
    playlist_path = hls / "playlist.m3u8"
    try:
        playlist = parse_media(playlist_path.read_text())
    except (OSError, PlaylistError) as exc:
        raise ConversionFailed(f"ffmpeg made no playable HLS from {recording.flv.name} ({exc})") from None
    playlist_path.write_text(with_program_date_times(playlist_path.read_text(), started_at))
    output = probe(hls / playlist.segments[0].uri)
    width, height = output.video.get("width"), output.video.get("height")
    peak = max((hls / s.uri).stat().st_size * 8 * 1000 // max(s.duration_ms, 1) for s in playlist.segments)
    (work / "media" / "hls" / "master.m3u8").write_text(master_playlist(rendition, output, peak))
    documents = recording_documents(
        recording,
        rendition=rendition,
        width=width,
        height=height,
        started_at=started_at,
        duration_ms=playlist.duration_ms,
    )
    (work / "events").mkdir()
    for name, document in documents.items():  # recording-ended.json last: it marks "complete"
        (work / name).write_text(json.dumps(document, indent=2))


def rendition_name(video: dict) -> str:
    """IVS-style folder name: "<height>p<frame rate>", e.g. "720p30"."""
    rate = _frame_rate(video) or 30
    return f"{video.get('height') or 0}p{round(rate)}"


def ffmpeg_command(flv: Path, source: Probe, *, hls: Path, thumbnails: Path) -> list[str]:
    """One ffmpeg run: HLS of the source (copied when browsers can play it as it is) and a
    thumbnail at the start and every THUMBNAIL_SECONDS after."""
    copy_video = source.video.get("codec_name") == "h264" and source.video.get("pix_fmt") in (
        "yuv420p",
        "yuvj420p",
    )
    video = ["-c:v", "copy"] if copy_video else [
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60",
    ]  # fmt: skip
    audio = []
    if source.audio is not None:
        audio = (
            ["-c:a", "copy"] if source.audio.get("codec_name") == "aac" else ["-c:a", "aac", "-b:a", "128k"]
        )
    select = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{THUMBNAIL_SECONDS})'"
    return [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(flv),
        "-map", "0:v:0", "-map", "0:a:0?", *video, *audio,
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(hls / "%d.ts"), str(hls / "playlist.m3u8"),
        "-map", "0:v:0", "-vf", f"{select},scale=-2:'min({THUMBNAIL_HEIGHT},ih)'", "-fps_mode", "vfr",
        "-q:v", "4", "-start_number", "0", str(thumbnails / "thumb%d.jpg"),
    ]  # fmt: skip


def with_program_date_times(text: str, started_at: datetime) -> str:
    """``text`` (a media playlist) with an EXT-X-PROGRAM-DATE-TIME before each segment: the
    session's start plus the segment's position, which is how ingestion places highlights."""
    lines, position_ms = [], 0
    for line in text.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME"):
            continue
        if line.startswith("#EXTINF:"):
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(started_at + timedelta(milliseconds=position_ms))}")
            position_ms += round(float(line[len("#EXTINF:") :].partition(",")[0]) * 1000)
        lines.append(line)
    return "\n".join(lines) + "\n"


def master_playlist(rendition: str, output: Probe, bandwidth: int) -> str:
    attributes = [f"BANDWIDTH={max(bandwidth, 1)}"]
    if output.video.get("width") and output.video.get("height"):
        attributes.append(f"RESOLUTION={output.video['width']}x{output.video['height']}")
    if rate := _frame_rate(output.video):
        attributes.append(f"FRAME-RATE={rate:.3f}")
    if codecs := codecs_of(output):
        attributes.append(f'CODECS="{codecs}"')
    return "\n".join(
        ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS",
         "#EXT-X-STREAM-INF:" + ",".join(attributes), f"{rendition}/playlist.m3u8", ""]
    )  # fmt: skip


def codecs_of(output: Probe) -> str:
    """RFC 6381 codecs of an H.264 (+ AAC) output, or "" when one is not known (players then
    find out themselves)."""
    profile = H264_PROFILES.get(output.video.get("profile", ""))
    level = output.video.get("level")
    if output.video.get("codec_name") != "h264" or profile is None or not isinstance(level, int):
        return ""
    codecs = [f"avc1.{profile}{level:02X}"]
    if output.audio is not None:
        audio = (
            AAC_PROFILES.get(output.audio.get("profile", ""))
            if output.audio.get("codec_name") == "aac"
            else None
        )
        if audio is None:
            return ""
        codecs.append(audio)
    return ",".join(codecs)


def recording_documents(
    recording: LocalRecording,
    *,
    rendition: str,
    width: int | None,
    height: int | None,
    started_at: datetime,
    duration_ms: int,
) -> dict[str, dict]:
    """events/recording-started.json and recording-ended.json, as IVS writes them (4.3)."""
    size = {"resolution_height": height, "resolution_width": width} if width and height else {}
    media = {
        "hls": {
            "path": "media/hls",
            "playlist": "master.m3u8",
            "renditions": [{"path": rendition, "playlist": "playlist.m3u8", **size}],
        },
        "thumbnails": {"path": "media/thumbnails", **size},
    }
    started = {
        "version": "v1",
        "channel_arn": recording.channel_arn,
        "recording_started_at": _rfc3339(started_at),
        "recording_status": "RECORDING_STARTED",
        "media": media,
    }
    ended = {
        **started,
        "recording_ended_at": _rfc3339(started_at + timedelta(milliseconds=duration_ms)),
        "recording_status": "RECORDING_ENDED",
        "recording_status_message": "",
        "media": {**media, "hls": {**media["hls"], "duration_ms": duration_ms}},
    }
    return {STARTED: started, ENDED: ended}


def _run(command: list[str], *, what: str, timeout: float) -> str:
    """``command``'s standard output; ConversionFailed with its last error lines otherwise."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ConversionFailed(f"{command[0]} is not installed (apt-get install ffmpeg): {what}") from None
    except subprocess.TimeoutExpired:
        raise ConversionFailed(f"{what}: it did not finish in {timeout:.0f} s") from None
    if result.returncode != 0:
        error = " ".join(result.stderr.strip().splitlines()[-3:])[-500:] or f"exit code {result.returncode}"
        raise ConversionFailed(f"{what}: {error}")
    return result.stdout


def _frame_rate(video: dict) -> float | None:
    rate = str(video.get("avg_frame_rate") or video.get("r_frame_rate") or "")
    numerator, _, denominator = rate.partition("/")
    try:
        rate = float(numerator) / float(denominator or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _pdt(moment: datetime) -> str:
    return _rfc3339(moment)
