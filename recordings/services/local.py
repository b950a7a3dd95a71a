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

Reconnects are merged as IVS merges them (shared/reference/ivs.md, 4.4): each publish is its own
stream session and FLV, and a stream that starts within the recording reconnect window
(liveshop.video.local.recording_reconnect_window) of the previous one's end joins its recording
session. Its parts are then one recording, under the prefix of its first part: one playlist with
a discontinuity before each later part and each part's own program date-times (so the gap takes
no replay time and highlights land in the right part), the stream ids of every part, and an
``rs-`` recording session id. Each part's FLV triggers a conversion of every finished part so
far, so the replay of part 1 is ready at once and grows when part 2 ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import connection

from events.models import LiveEvent, StreamSession
from liveshop import media, processes
from liveshop.media import MediaInfo
from liveshop.video.local import RECORDING_MAX_SPAN, RECORDING_MAX_STREAMS, recording_reconnect_window
from recordings.exceptions import RecordingError
from recordings.models import Recording
from recordings.playlists import MediaPlaylist, PlaylistError, parse_media
from recordings.services.ingest import (
    LOCAL_SOURCE,
    get_event_for_channel,
    ingest_recording,
    local_recordings_root,
    record_failure,
)
from recordings.services.manifest import ENDED, STARTED, parse_prefix

logger = logging.getLogger(__name__)

ACCOUNT = "local"  # the <account> part of the prefix
SEGMENT_SECONDS = 4  # cut at the next keyframe after this
THUMBNAIL_SECONDS = 60  # one thumbnail at the start, then one a minute, as IVS's default
THUMBNAIL_HEIGHT = 480
FLV_NAME = re.compile(r"(?P<channel>[A-Za-z0-9_]+)-(?P<time>\d{9,11})\.flv")
# A session whose start is this close to the file's is the stream it recorded.
SESSION_MATCH = timedelta(minutes=2)
# The merged parts' FLV names, in recording-ended.json: another part makes it stale.
PARTS_FIELD = "liveshop_parts"
# pg_advisory_lock(namespace, crc32(channel id)): one conversion of a channel's parts at a time.
LOCK_NAMESPACE = zlib.crc32(b"recordings.local") & 0x7FFFFFFF
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


@dataclass(frozen=True)
class Part:
    """One publish of a recording session: its FLV and its stream (when known)."""

    recording: LocalRecording
    started_at: datetime  # the stream session's start, else the file's
    stream_id: str


def ingest_local_recording(
    *, flv: Path | str, stream_id: str = "", force: bool = False, progress=None, cancel=None
) -> Recording:
    """Convert the media server's recording ``flv`` together with the other finished parts of
    its recording session (unless done before) and ingest them: one ready Recording (backend
    "local") with its cues. Idempotent like ingest_recording. A conversion failure marks the
    recording failed with the reason, writes nothing, and raises."""
    local = parse_local_recording(flv)
    if not local.flv.is_file() and not (local_recordings_root() / local.prefix / ENDED).is_file():
        raise ConversionFailed(f"The recording {local.flv} does not exist")
    event = get_event_for_channel(local.channel_id)
    with _one_conversion_at_a_time(local.channel_id):
        parts = recording_parts(event, local, stream_id=stream_id)
        prefix = parts[0].recording.prefix
        try:
            changed = convert_local_recording(parts=parts, force=force)
        except ConversionFailed as exc:
            record_failure(event=event, bucket=LOCAL_SOURCE, prefix=prefix, reason=str(exc))
            raise
        return ingest_recording(
            bucket=LOCAL_SOURCE,
            prefix=prefix,
            stream_ids=[part.stream_id for part in parts if part.stream_id],
            session_id=recording_session_id(parts),
            force=force or changed,
            progress=progress,
            cancel=cancel,
        )


def recording_parts(event: LiveEvent, local: LocalRecording, *, stream_id: str = "") -> list[Part]:
    """The finished parts of ``local``'s recording session, in time order, ``local`` included:
    the channel's FLVs whose stream sessions IVS's merge rule puts in one recording with
    ``local``'s (recording_sessions) and whose video is alike. A part still being recorded (its
    session open) waits."""
    sessions = list(StreamSession.objects.filter(event=event, started_at__isnull=False))
    own = find_session(event, stream_id=stream_id, near=local.recorded_at)
    if own is None:
        return [Part(local, local.recorded_at, stream_id)]
    group = next(g for g in recording_sessions(sessions) if own in g)
    parts = {own.pk: Part(local, own.started_at, own.stream_id)}
    for path in sorted(local.flv.parent.glob(f"{local.channel_id}-*.flv")):
        try:
            other = parse_local_recording(path)
        except ConversionFailed:
            continue
        session = session_recorded(group, other.recorded_at)
        if session is not None and session.pk not in parts and session.ended_at is not None:
            parts[session.pk] = Part(other, session.started_at, session.stream_id)
    return _alike(sorted(parts.values(), key=lambda part: part.started_at), own=local)


def _alike(parts: list[Part], *, own: LocalRecording) -> list[Part]:
    """IVS merges a reconnect only when its video is like the stream before (same size, frame
    rate and codecs: ivs.md 4.4): of ``parts``, the run around ``own`` that ffprobe describes
    alike. A part ffprobe cannot read stands alone (its conversion then says why)."""
    if len(parts) == 1:
        return parts
    runs: list[list[Part]] = []
    previous = object()
    for part in parts:
        try:
            source = probe(part.recording.flv)
            kind = (source.width, rendition_name(source), source.video_codec, source.audio_codec)
        except ConversionFailed:
            kind = object()
        if kind != previous:
            runs.append([])
        runs[-1].append(part)
        previous = kind
    return next(run for run in runs if any(part.recording == own for part in run))


def recording_sessions(sessions: Sequence[StreamSession]) -> list[list[StreamSession]]:
    """Stream sessions (started ones) grouped into recording sessions as IVS merges reconnects:
    a stream that starts within the reconnect window of the previous one's end (or while it is
    still open) joins its recording, up to RECORDING_MAX_STREAMS streams and RECORDING_MAX_SPAN
    after the first start. A window of 0 merges nothing."""
    window = recording_reconnect_window()
    groups: list[list[StreamSession]] = []
    for session in sorted(sessions, key=lambda s: (s.started_at, s.pk or 0)):
        group = groups[-1] if groups else None
        if group is not None and window and _joins(group, session, window):
            group.append(session)
        else:
            groups.append([session])
    return groups


def _joins(group: list[StreamSession], session: StreamSession, window: timedelta) -> bool:
    previous = group[-1]
    gap = session.started_at - (previous.ended_at or session.started_at)
    return (
        gap <= window
        and len(group) < RECORDING_MAX_STREAMS
        and session.started_at - group[0].started_at < RECORDING_MAX_SPAN
    )


def recording_session_id(parts: Sequence[Part]) -> str:
    """The recording session's id, from its first stream's ("rs-" instead of "st-"); "" when
    no part's stream is known."""
    first = next((part.stream_id for part in parts if part.stream_id), "")
    return f"rs-{first.removeprefix('st-')}"[:64] if first else ""


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


def session_recorded(sessions: Sequence[StreamSession], recorded_at: datetime) -> StreamSession | None:
    """Of ``sessions``, the one publishing when nginx opened a file at ``recorded_at`` (whole
    seconds, just after on_publish): the latest to start by then, within SESSION_MATCH."""
    started = [
        s
        for s in sessions
        if recorded_at - SESSION_MATCH <= s.started_at < recorded_at + timedelta(seconds=1)
    ]
    return max(started, key=lambda s: s.started_at, default=None)


@contextlib.contextmanager
def _one_conversion_at_a_time(channel_id: str) -> Iterator[None]:
    """Conversions of one channel's parts wait for each other (PostgreSQL advisory lock): two
    parts ending close together must not write the prefix at once, nor skip each other."""
    if connection.vendor != "postgresql":
        yield
        return
    key = zlib.crc32(channel_id.encode()) & 0x7FFFFFFF
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, key])


def convert_local_recording(*, parts: Sequence[Part], force: bool = False) -> bool:
    """Write the ``parts`` (in time order) as one recording in IVS's layout below
    local_recordings_root(), under the first part's prefix; True when written, False when
    already there. Built in a hidden folder and renamed into place once complete, so the prefix
    holds either nothing or a whole recording. Idempotent: a prefix whose recording-ended.json
    lists the same parts is kept (unless ``force``). ConversionFailed for a file ffprobe or
    ffmpeg cannot read."""
    first = parts[0].recording
    target = local_recordings_root() / first.prefix
    names = [part.recording.flv.name for part in parts]
    done = _parts_of(target) if (target / ENDED).is_file() else []
    if not force and (done == names or (done is None and len(names) == 1)):
        return False
    parse_prefix(first.prefix)  # a channel id the ingestion would refuse fails here, first
    for part in parts:
        if not part.recording.flv.is_file():
            raise ConversionFailed(f"The recording {part.recording.flv} does not exist")
    sources = [probe(part.recording.flv) for part in parts]
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    # The pid in the name tells a live conversion's folder from one a killed worker left behind.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.") as scratch:
        work = Path(scratch) / target.name
        _write_recording(work, parts=parts, sources=sources)
        if target.exists():  # forced, another part, or a folder left without recording-ended.json
            shutil.rmtree(target)
        try:
            os.replace(work, target)
        except OSError:
            if not (target / ENDED).is_file():  # not another process finishing first
                raise
    logger.info(
        "Local recording converted",
        extra={"channel_id": first.channel_id, "to": str(target), "parts": len(parts)},
    )
    return True


def _parts_of(target: Path) -> list[str] | None:
    """The parts a converted recording holds (None when it does not say: one, made before)."""
    try:
        return json.loads((target / ENDED).read_text()).get(PARTS_FIELD)
    except (OSError, ValueError, AttributeError):
        return None


def probe(path: Path) -> MediaInfo:
    """ffprobe's view of ``path``: ConversionFailed unless it is a video ffprobe can read (its
    duration may be unknown)."""
    try:
        return media.probe(path, need_duration=False)
    except media.NoVideoStream:
        raise ConversionFailed(f"{path.name} has no video stream") from None
    except media.MediaError as exc:
        raise _failed(exc, f"ffprobe could not read {path.name}") from None


def _write_recording(work: Path, *, parts: Sequence[Part], sources: Sequence[MediaInfo]) -> None:
    rendition = rendition_name(sources[0])
    hls = work / "media" / "hls" / rendition
    thumbnails = work / "media" / "thumbnails" / rendition
    hls.mkdir(parents=True)
    thumbnails.mkdir(parents=True)
    playlists = []
    for index, (part, source) in enumerate(zip(parts, sources, strict=True)):
        flv = part.recording.flv
        # Later parts' segments get their own names: part 1's stay as they were (cached a year).
        stem = "" if index == 0 else f"{int(part.recording.recorded_at.timestamp())}_"
        command = ffmpeg_command(
            flv,
            source,
            hls=hls,
            thumbnails=thumbnails,
            stem=stem,
            first_thumbnail=len(list(thumbnails.iterdir())),
        )
        try:
            media.run(command, timeout=120 + 4 * (source.duration or 3600))
        except media.MediaError as exc:
            raise _failed(exc, f"ffmpeg could not convert {flv.name}") from None
        playlist_path = hls / f"{stem}playlist.m3u8"
        try:
            playlists.append((parse_media(playlist_path.read_text()), part.started_at))
        except (OSError, PlaylistError) as exc:
            raise ConversionFailed(f"ffmpeg made no playable HLS from {flv.name} ({exc})") from None
        if stem:
            playlist_path.unlink()
    (hls / "playlist.m3u8").write_text(joined_playlist(playlists))
    output = probe(hls / playlists[0][0].segments[0].uri)
    width, height = output.width, output.height
    segments = [segment for playlist, _ in playlists for segment in playlist.segments]
    peak = max((hls / s.uri).stat().st_size * 8 * 1000 // max(s.duration_ms, 1) for s in segments)
    (work / "media" / "hls" / "master.m3u8").write_text(master_playlist(rendition, output, peak))
    last, last_start = playlists[-1]
    documents = recording_documents(
        parts[0].recording,
        rendition=rendition,
        width=width,
        height=height,
        started_at=parts[0].started_at,
        duration_ms=sum(playlist.duration_ms for playlist, _ in playlists),
        ended_at=last_start + timedelta(milliseconds=last.duration_ms),
    )
    documents[ENDED][PARTS_FIELD] = [part.recording.flv.name for part in parts]
    (work / "events").mkdir()
    for name, document in documents.items():  # recording-ended.json last: it marks "complete"
        (work / name).write_text(json.dumps(document, indent=2))


def joined_playlist(parts: Sequence[tuple[MediaPlaylist, datetime]]) -> str:
    """One VOD media playlist of ``parts`` (each a playlist and when its stream started): a
    discontinuity before each part after the first, and an EXT-X-PROGRAM-DATE-TIME before each
    segment (its stream's start plus its position in it), which is how ingestion places
    highlights and how the gap between two parts costs no replay time."""
    target = max(math.ceil(s.duration_ms / 1000) for playlist, _ in parts for s in playlist.segments)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{max(target, 1)}",
             "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]  # fmt: skip
    for index, (playlist, started_at) in enumerate(parts):
        for number, segment in enumerate(playlist.segments):
            if index and not number:
                lines.append("#EXT-X-DISCONTINUITY")
            moment = started_at + timedelta(milliseconds=segment.position_ms)
            lines += [
                f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(moment)}",
                f"#EXTINF:{segment.duration_ms / 1000:.3f},",
                segment.uri,
            ]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def rendition_name(video: MediaInfo) -> str:
    """IVS-style folder name: "<height>p<frame rate>", e.g. "720p30"."""
    return f"{video.height}p{round(video.frame_rate or 30)}"


def ffmpeg_command(
    flv: Path, source: MediaInfo, *, hls: Path, thumbnails: Path, stem: str = "", first_thumbnail: int = 0
) -> list[str]:
    """One ffmpeg run: HLS of the source (copied when browsers can play it as it is) and a
    thumbnail at the start and every THUMBNAIL_SECONDS after."""
    copy_video = source.video_codec == "h264" and source.pix_fmt in ("yuv420p", "yuvj420p")
    video = ["-c:v", "copy"] if copy_video else [
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60",
    ]  # fmt: skip
    audio = []
    if source.has_audio:
        audio = ["-c:a", "copy"] if source.audio_codec == "aac" else ["-c:a", "aac", "-b:a", "128k"]
    select = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{THUMBNAIL_SECONDS})'"
    return [
        media.ffmpeg.FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(flv),
        "-map", "0:v:0", "-map", "0:a:0?", *video, *audio,
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(hls / f"{stem}%d.ts"), str(hls / f"{stem}playlist.m3u8"),
        "-map", "0:v:0", "-vf", f"{select},scale=-2:'min({THUMBNAIL_HEIGHT},ih)'", "-fps_mode", "vfr",
        "-q:v", "4", "-start_number", str(first_thumbnail), str(thumbnails / "thumb%d.jpg"),
    ]  # fmt: skip


def master_playlist(rendition: str, output: MediaInfo, bandwidth: int) -> str:
    attributes = [f"BANDWIDTH={max(bandwidth, 1)}", f"RESOLUTION={output.width}x{output.height}"]
    if output.frame_rate:
        attributes.append(f"FRAME-RATE={float(output.frame_rate):.3f}")
    if codecs := codecs_of(output):
        attributes.append(f'CODECS="{codecs}"')
    return "\n".join(
        ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS",
         "#EXT-X-STREAM-INF:" + ",".join(attributes), f"{rendition}/playlist.m3u8", ""]
    )  # fmt: skip


def codecs_of(output: MediaInfo) -> str:
    """RFC 6381 codecs of an H.264 (+ AAC) output, or "" when one is not known (players then
    find out themselves)."""
    profile = H264_PROFILES.get(output.video_profile)
    level = output.video_level
    if output.video_codec != "h264" or profile is None or level is None:
        return ""
    codecs = [f"avc1.{profile}{level:02X}"]
    if output.has_audio:
        audio = AAC_PROFILES.get(output.audio_profile) if output.audio_codec == "aac" else None
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
    ended_at: datetime | None = None,
) -> dict[str, dict]:
    """events/recording-started.json and recording-ended.json, as IVS writes them (4.3); the
    end is the last part's (``ended_at``), else ``started_at`` plus the duration."""
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
        "recording_ended_at": _rfc3339(ended_at or started_at + timedelta(milliseconds=duration_ms)),
        "recording_status": "RECORDING_ENDED",
        "recording_status_message": "",
        "media": {**media, "hls": {**media["hls"], "duration_ms": duration_ms}},
    }
    return {STARTED: started, ENDED: ended}


def _remove_leftovers(target: Path) -> None:
    """Remove the scratch folders of ``target`` whose converting process is gone (killed)."""
    for folder in target.parent.glob(f".{target.name}.*"):
        pid = folder.name.removeprefix(f".{target.name}.").partition(".")[0]
        if folder.is_dir() and not (pid.isdigit() and processes.is_alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


def _failed(exc: media.MediaError, what: str) -> ConversionFailed:
    """The ConversionFailed for ffmpeg or ffprobe failing to do ``what``, with its last lines."""
    if isinstance(exc, media.ToolMissing):
        return ConversionFailed(f"{exc.tool} is not installed ({media.ffmpeg.INSTALL}): {what}")
    if isinstance(exc, media.TimedOut):
        return ConversionFailed(f"{what}: it did not finish in {exc.timeout:.0f} s")
    if isinstance(exc, media.ToolFailed):
        return ConversionFailed(f"{what}: {' '.join(exc.lines[-3:])[-500:] or f'exit code {exc.returncode}'}")
    return ConversionFailed(f"{what}: {exc}")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _pdt(moment: datetime) -> str:
    return _rfc3339(moment)
