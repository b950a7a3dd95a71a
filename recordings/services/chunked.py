"""Chunked transcoding: an upload longer than LIVESHOP_TRANSCODE_CHUNKED_OVER_SECONDS is cut at
keyframes (``ffmpeg -f segment -c copy``) into pieces of about LIVESHOP_TRANSCODE_PIECE_SECONDS,
each piece is transcoded to the whole video's rendition plan as a step of its own, and each
rendition's segments are joined into one media playlist.

- The video's attempt (its lease, recordings.services.jobs) splits the upload, stores the pieces
  under ``<folder>/pieces/`` in the "recordings" storage (every worker can read them) and lists
  them as TranscodePiece rows; it queues ``transcode_pieces_task`` for the other workers and works
  on pieces itself, then joins.
- Each piece has its own lease: a worker claims the first piece nobody works on (pending, or
  running with a lease that ran out or a dead owner here), transcodes it with its start as the
  output's timestamp offset (the renditions' timestamps run on across pieces: no discontinuity),
  stores its segments as ``<folder>/<rendition>/p0003_segment_0000.ts`` and marks it done with
  their names and lengths. A restarted job (the video's attempt killed) finds the rows and the
  stored pieces: it skips the split and the finished pieces.
- The join writes only the playlists (the segments are stored already), the thumbnail comes from
  the upload, and the master playlist is stored last: until then nothing is published. A piece
  that fails fails the video with its sentence; the video's whole folder is deleted.
- An attempt hands the video over (requeues it) past half the task's soft time limit, so a long
  video on few workers is never killed by the limit: pieces done stay done.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from liveshop import media
from liveshop.media import MediaInfo, Problem
from liveshop.tasks import enqueue_on_commit
from recordings.exceptions import TranscodeFailed
from recordings.models import Recording, TranscodePiece
from recordings.playlists import PlaylistError, bit_rates, parse_master, parse_media
from recordings.services import jobs, problems
from recordings.services import transcode as single
from recordings.services.videos import delete_folder

logger = logging.getLogger(__name__)

Piece = TranscodePiece.Status
PIECES = "pieces"  # the split upload, under the video's folder
POLL_SECONDS = 0.5  # how often the video's attempt looks at pieces other workers run
SPLIT_SHARE, PIECES_SHARE = 5, 85  # percent of the bar: the split, then the pieces
HAND_OVER_SHARE = 0.5  # of the task's soft time limit: past it, requeue the video
# Every piece's timestamps start this much later (seconds), the first one's too: B-frames make a
# piece's first decoding time earlier than its start; only at 0 would ffmpeg shift that piece
# forward (avoid_negative_ts) and not the others, and its frames would overlap the next piece's.
TIMESTAMP_BASE = 10.0
CUT_EARLY = 0.001  # seconds: a piece's window starts and ends this much before its cut
AAC_FRAME = 1024  # samples in a frame of the renditions' sound
EXACT_SLACK_MS = 250  # a piece cut to its window may be this much shorter (its last frame's length)


class PieceLost(jobs.LeaseLost):
    """Another worker has taken the piece over (this one's piece lease ran out)."""


def piece_seconds() -> float:
    return settings.LIVESHOP_TRANSCODE_PIECE_SECONDS


def wanted(info: MediaInfo) -> bool:
    """Whether ``info``'s video is long enough to be transcoded in pieces. Sound only never is:
    its still picture (2 frames a second) costs little, and a piece's sound, cut anywhere, would
    not end on one of its frames (each piece's picture would run on past its sound)."""
    return info.has_video and (info.duration or 0) > settings.LIVESHOP_TRANSCODE_CHUNKED_OVER_SECONDS


# The video's attempt ----------------------------------------------------------------------------


def transcode_in_pieces(
    *, lease: jobs.Lease, recording: Recording, source: Path, info: MediaInfo, folder: Path, prefix: str
) -> tuple[single.Result, list[str]] | None:
    """Split (unless a previous attempt did), transcode the pieces with any other workers, join;
    returns the result and the names stored by the join, or None when this attempt handed the
    video over (past its time budget). TranscodeFailed with the sentence of a failed piece."""
    started = time.monotonic()
    pieces = list(_pieces(recording))
    local = folder / PIECES
    if not pieces:
        pieces = split(lease=lease, recording=recording, source=source, info=info, local=local, prefix=prefix)
    else:
        logger.info("Chunked transcode resumed", extra={"recording": recording.pk, "done": _done(pieces)})
    _queue_helpers(recording.pk, sum(p.status != Piece.DONE for p in pieces) - 1)
    while True:
        pieces = list(_pieces(recording))
        failed = next((p for p in pieces if p.status == Piece.FAILED), None)
        if failed is not None:
            detail = f"piece {failed.index} failed"
            raise TranscodeFailed(failed.failure_reason or problems.explain(Problem.UNKNOWN), detail=detail)
        if all(p.status == Piece.DONE for p in pieces):
            break
        if time.monotonic() - started > settings.CELERY_TASK_SOFT_TIME_LIMIT * HAND_OVER_SHARE:
            jobs.hand_over(lease)
            return None
        piece = claim_piece(recording_id=recording.pk, owner=lease.owner)
        if piece is None:  # the rest run on other workers
            lease.beat()
            time.sleep(POLL_SECONDS)
            continue
        try:
            work_piece(piece, owner=lease.owner, local=local, prefix=prefix, also=lease.beat)
        except PieceLost:  # this attempt stalled past the piece's lease: another has it
            continue
        _report(lease, recording)
    lease.beat(force=True)
    return join(lease=lease, pieces=pieces, source=source, info=info, folder=folder, prefix=prefix)


def _pieces(recording: Recording):
    return TranscodePiece.objects.filter(recording=recording, upload=recording.upload.name).order_by("index")


def _done(pieces: list[TranscodePiece]) -> int:
    return sum(p.status == Piece.DONE for p in pieces)


def _report(lease: jobs.Lease, recording: Recording) -> None:
    pieces = list(_pieces(recording).only("status"))
    lease.beat(progress=SPLIT_SHARE + PIECES_SHARE * _done(pieces) // max(1, len(pieces)))


def _queue_helpers(recording_id: int, count: int) -> None:
    """Ask other workers to take pieces; not with eager Celery (the helper would run here, before
    this attempt goes on, holding the video's lease without beating it)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    for _ in range(max(0, count)):
        enqueue_on_commit("recordings.tasks.transcode_pieces_task", recording_id)


def split(
    *, lease: jobs.Lease, recording: Recording, source: Path, info: MediaInfo, local: Path, prefix: str
) -> list[TranscodePiece]:
    """Cut the upload into pieces of about ``piece_seconds()`` at its keyframes, store them under
    ``<prefix>/pieces/`` and list them (rows created once all are stored).

    Each piece's file (a stream copy) holds more than the piece: from the keyframe before its
    start to LEAD seconds past its end, on the video's own clock (TIMESTAMP_BASE + seconds into
    the video). Its transcode decodes all of it and keeps exactly its own stretch (trimmed by
    time, picture and sound alike), so an open GOP (HEVC from cameras, x264's open-gop) loses
    nothing at a cut: the B-frames shown just before a piece's end come after the next keyframe
    in the file, and they are decoded with the pictures they refer to on both sides."""
    local.mkdir(parents=True, exist_ok=True)
    # MOV keeps a phone video's rotation (Matroska drops it in ffmpeg 5); Matroska takes any codec.
    container, suffix = ("mov", ".mov") if info.rotation else ("matroska", ".mkv")
    first = info.start_time or 0.0
    cuts = piece_starts(source, info, lease)
    bounds = list(zip(cuts, [*cuts[1:], None], strict=True))
    storage = storages["recordings"]
    for index, (start, end) in enumerate(bounds):
        name = f"{index:04d}{suffix}"
        _copy_piece(source, local / name, start=start if index else None, end=end, first=first,
                    container=container, beat=lease.beat, has_video=info.has_video)  # fmt: skip
        key = f"{prefix}/{PIECES}/{name}"
        storage.delete(key)
        with (local / name).open("rb") as content:
            storage.save(key, File(content, name=name))
        lease.beat()
    plan = [asdict(r) for r in single.rendition_plan(info)]
    length = first + (info.duration or 0.0)
    rows = [
        TranscodePiece(
            recording=recording,
            upload=recording.upload.name,
            index=i,
            start_seconds=start - first,
            duration_seconds=(end if end is not None else max(length, start)) - start,
            plan=plan,
        )
        for i, (start, end) in enumerate(bounds)
    ]
    with transaction.atomic():
        lease.beat(force=True)  # still ours: another attempt would split again
        TranscodePiece.objects.filter(recording=recording).delete()  # a replaced source's pieces
        TranscodePiece.objects.bulk_create(rows)
    logger.info("Video split for a chunked transcode", extra={"recording": recording.pk, "pieces": len(rows)})
    return list(_pieces(recording))


# A piece's file runs this long past the piece's end: the next keyframe and the B-frames after it
# in the file that are shown before it (at most 16 with x264, well under a second), and the sound.
LEAD = 2.0


def piece_starts(source: Path, info: MediaInfo, lease: jobs.Lease) -> list[float]:
    """Where the pieces start (the upload's timestamps, seconds): the first at the upload's
    start, then each at the first keyframe at or past the next multiple of ``piece_seconds()``
    (as ffmpeg's segment muxer cuts). TranscodeFailed when ffprobe cannot list the keyframes."""
    command = [
        media.ffmpeg.FFPROBE, "-v", "error", "-select_streams", "v:0",
        "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", str(source),
    ]  # fmt: skip
    lease.beat()
    try:
        listing = media.run(command, timeout=max(120.0, (info.duration or 0) / 10)).decode()
    except media.MediaError as exc:
        raise single._failed(
            exc, "ffprobe could not list the keyframes", source=source, work=source.parent
        ) from None
    keyframes = sorted(
        float(pts)
        for pts, _, flags in (line.partition(",") for line in listing.splitlines())
        if flags.startswith("K") and pts not in ("", "N/A")
    )
    first = info.start_time or 0.0
    starts, step = [first], piece_seconds()
    for keyframe in keyframes:
        if keyframe >= first + step * len(starts) and keyframe > starts[-1]:
            starts.append(keyframe)
    return starts


def _copy_piece(
    source: Path,
    target: Path,
    *,
    start: float | None,
    end: float | None,
    first: float,
    container: str,
    beat: Callable[..., None],
    has_video: bool,
) -> None:
    """Stream-copy the upload from the keyframe before ``start`` (None: its beginning) to LEAD
    seconds past ``end`` (None: its end) into ``target``, its timestamps moved to the video's
    own clock plus TIMESTAMP_BASE (never negative: no muxer shifts them)."""
    maps = ["-map", "0:v:0", "-map", "0:a:0?"] if has_video else ["-map", "0:a:0"]
    # Input options, both counted from the upload's first timestamp (-copyts keeps the upload's
    # own); -copypriorss keeps what the seek finds before -ss (the GOP the first pictures need,
    # the sound that starts before the cut).
    seek = ["-ss", f"{start - first:.6f}"] if start is not None else []
    until = ["-t", f"{end - (start if start is not None else first) + LEAD:.6f}"] if end is not None else []
    command = [
        media.ffmpeg.FFMPEG, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-progress", "pipe:1", "-nostats", "-copyts", *seek, *until, "-i", str(source), *maps,
        "-c", "copy", "-copypriorss", "1", "-output_ts_offset", f"{TIMESTAMP_BASE - first:.6f}",
        "-f", container, str(target),
    ]  # fmt: skip
    try:
        media.run_with_progress(command, on_progress=lambda _seconds: beat())
    except media.MediaError as exc:
        raise single._failed(
            exc, "ffmpeg could not split the video", source=source, work=target.parent
        ) from None


def join(
    *,
    lease: jobs.Lease,
    pieces: list[TranscodePiece],
    source: Path,
    info: MediaInfo,
    folder: Path,
    prefix: str,
) -> tuple[single.Result, list[str]]:
    """Write each rendition's media playlist (the pieces' segments in order) and the master (its
    bit rates measured over all the pieces' segments), make the thumbnail, check the whole length,
    store them (the master last); the result and names."""
    work = folder / "hls"
    work.mkdir()
    names = [r["name"] for r in pieces[0].plan]
    variants = []
    for name in names:
        segments = [_sized(segment) for piece in pieces for segment in piece.segments[name]["segments"]]
        (work / name).mkdir()
        (work / name / "index.m3u8").write_text(media_playlist(segments))
        sizes = [(size, ms) for _name, ms, size in segments]
        peak, average = bit_rates(sizes, target_duration=_target(segments))
        attributes = {key: value for key, value in pieces[0].segments[name].items() if key != "segments"}
        variants.append({**attributes, "name": name, "bandwidth": peak, "average_bandwidth": average})
    (work / "master.m3u8").write_text(single.master_playlist(variants))
    single.make_thumbnail(source, work / single.THUMBNAIL, info)
    result = single.describe(work, prefix)
    single.check_complete(result, info)
    stored = single.store_tree(work, prefix, on_progress=lambda _fraction: lease.beat())
    return result, stored


def _sized(segment: list) -> tuple[str, int, int]:
    """A piece's segment as (stored name, duration in ms, size in bytes); a piece finished before
    its sizes were recorded has its stored file's size read."""
    if len(segment) >= 3:
        return segment[0], segment[1], segment[2]
    return segment[0], segment[1], storages["recordings"].size(segment[0])


def _target(segments: list) -> int:
    return max(1, math.ceil(max(segment[1] for segment in segments) / 1000))


def media_playlist(segments: list) -> str:
    """A VOD media playlist of ``[[stored name, duration_ms, (size)], ...]`` (names relative to it)."""
    lines = [
        "#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{_target(segments)}",
        "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS",
    ]  # fmt: skip
    for name, ms, *_size in segments:
        lines += [f"#EXTINF:{ms / 1000:.3f},", name.rpartition("/")[2]]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def discard(*, recording_id: int, prefix: str) -> None:
    """A failed chunked transcode: the video's whole folder (pieces, their segments) and rows."""
    delete_folder(storages["recordings"], prefix)
    TranscodePiece.objects.filter(recording_id=recording_id).delete()


def finished(*, recording_id: int, prefix: str) -> None:
    """After the video is ready: the split upload and the rows go (the segments stay)."""
    delete_folder(storages["recordings"], f"{prefix}/{PIECES}")
    TranscodePiece.objects.filter(recording_id=recording_id).delete()


# One piece --------------------------------------------------------------------------------------


@transaction.atomic
def claim_piece(*, recording_id: int, owner: str) -> TranscodePiece | None:
    """The first piece of the video nobody works on (pending, or running with a lapsed lease or a
    dead owner on this machine), now ``owner``'s with a new lease; None when there is none.
    Rows other workers hold locked are skipped, not waited for."""
    now = timezone.now()
    if TranscodePiece.objects.filter(recording_id=recording_id, status=Piece.FAILED).exists():
        return None  # the video fails: no more work on it
    candidates = (
        TranscodePiece.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(recording_id=recording_id, status__in=[Piece.PENDING, Piece.RUNNING])
        .select_related("recording")
        .order_by("index")
    )
    for piece in candidates:
        if piece.upload != piece.recording.upload.name:
            continue
        if piece.status == Piece.RUNNING and not _piece_stale(piece, now=now):
            continue
        piece.status, piece.lease_owner, piece.attempts = Piece.RUNNING, owner, piece.attempts + 1
        piece.lease_expires_at = now + timedelta(seconds=jobs.lease_seconds())
        piece.save(update_fields=["status", "lease_owner", "attempts", "lease_expires_at", "updated_at"])
        return piece
    return None


def _piece_stale(piece: TranscodePiece, *, now) -> bool:
    if piece.lease_expires_at is None or piece.lease_expires_at <= now:
        return True
    return jobs.owner_is_dead(piece.lease_owner)


def _beat_piece(piece: TranscodePiece, owner: str) -> None:
    """Extend the piece's lease; LeaseLost when it is no longer ``owner``'s (or was deleted)."""
    expires = timezone.now() + timedelta(seconds=jobs.lease_seconds())
    mine = TranscodePiece.objects.filter(pk=piece.pk, lease_owner=owner, status=Piece.RUNNING)
    if not mine.update(lease_expires_at=expires):
        raise PieceLost(f"Piece {piece.index} of video {piece.recording_id} is no longer ours.")


def work_piece(
    piece: TranscodePiece,
    *,
    owner: str,
    local: Path | None,
    prefix: str,
    also: Callable[[], None] = lambda: None,
) -> None:
    """Transcode one claimed piece and store its segments; the piece ends done, or failed with
    the brand's sentence (its detail logged). ``also`` runs with each beat (the video's own
    lease, when its attempt works the piece). LeaseLost when the piece was taken over."""
    last = [0.0]

    def beat(*_args) -> None:
        if time.monotonic() - last[0] >= jobs.lease_seconds() * jobs.BEAT_EVERY:
            _beat_piece(piece, owner)
            last[0] = time.monotonic()
        also()

    folder = (
        Path(tempfile.gettempdir()) / f"{jobs.FOLDER_PREFIX}{piece.recording_id}-p{piece.index}-{os.getpid()}"
    )
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        segments = _transcode_piece(piece, folder=folder, local=local, prefix=prefix, beat=beat)
        _finish_piece(piece, owner, status=Piece.DONE, segments=segments)
    except TranscodeFailed as exc:
        logger.warning(
            "Video piece failed",
            extra={"recording": piece.recording_id, "piece": piece.index, "detail": exc.detail[:4000]},
        )
        _finish_piece(piece, owner, status=Piece.FAILED, failure_reason=str(exc)[:2000])
    except (PlaylistError, OSError) as exc:
        logger.warning(
            "Video piece failed",
            extra={
                "recording": piece.recording_id,
                "piece": piece.index,
                "detail": problems.technical_detail(exc),
            },
        )
        _finish_piece(piece, owner, status=Piece.FAILED, failure_reason=problems.explain(Problem.UNKNOWN))
    except SoftTimeLimitExceeded:
        _finish_piece(piece, owner, status=Piece.PENDING)  # another worker (or task) takes it again
        raise
    except PieceLost:
        _forget_if_orphaned(piece, folder / "hls", prefix)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _forget_if_orphaned(piece: TranscodePiece, work: Path, prefix: str) -> None:
    """The piece's row is gone (the video deleted, or its source replaced, while this worker ran):
    the segments it stored meanwhile are nobody's, even after the video's folder was deleted."""
    if TranscodePiece.objects.filter(pk=piece.pk).exists() or not work.is_dir():
        return
    storage = storages["recordings"]
    for path in work.rglob("*.ts"):
        storage.delete(f"{prefix}/{path.relative_to(work).as_posix()}")


def _transcode_piece(
    piece: TranscodePiece, *, folder: Path, local: Path | None, prefix: str, beat: Callable[..., None]
) -> dict:
    source = _piece_source(piece, folder=folder, local=local, prefix=prefix, beat=beat)
    try:
        info = media.probe(source, audio_only=True)
    except media.MediaError as exc:
        raise single._failed(
            exc, f"ffprobe could not read piece {piece.index}", source=source, work=folder
        ) from None
    plan = [single.Rendition(**r) for r in piece.plan]
    work = folder / "hls"
    work.mkdir()
    window = _window(piece, info)
    command = single.ffmpeg_command(
        source,
        work,
        plan,
        info,
        ts_offset=TIMESTAMP_BASE + piece.start_seconds,
        piece=f"p{piece.index:04d}_",
        window=window,
    )
    try:
        media.run_with_progress(command, on_progress=beat)
    except media.MediaError as exc:
        raise single._failed(exc, f"ffmpeg failed on piece {piece.index}", source=source, work=work) from None
    segments = _read_piece(work, prefix)
    _check_piece(piece, segments, exact=window is not None and window.end is not None)
    for playlist in work.rglob("*.m3u8"):
        playlist.unlink()  # the join writes the video's own
    single.store_tree(work, prefix, on_progress=beat)
    return segments


def _window(piece: TranscodePiece, info: MediaInfo) -> single.Window | None:
    """The stretch of the piece's file that is the piece (split: on the video's clock plus
    TIMESTAMP_BASE). The picture's ends a millisecond early, so Matroska's millisecond timestamps
    never put a frame on the wrong side; the sound's on the AAC frame (1024 samples) at or before
    the cut, counted from the video's start, so each piece's sound is whole frames and the next
    piece's encoder delay (one frame) lies exactly over the last one (players drop it). The first
    piece keeps what comes before (sound before the first keyframe), the last what comes after.
    None for a piece cut by an earlier version of split (its file's timestamps start at 0: it
    holds its piece and nothing else)."""
    if info.start_time < TIMESTAMP_BASE / 2:
        return None
    origin = TIMESTAMP_BASE + piece.start_seconds - CUT_EARLY
    last = not TranscodePiece.objects.filter(
        recording_id=piece.recording_id, upload=piece.upload, index=piece.index + 1
    ).exists()
    start = origin if piece.index else None
    end = None if last else origin + piece.duration_seconds
    if not info.audio_sample_rate:  # no grid to cut on (ffprobe said no rate): the picture's cuts
        return single.Window(origin=origin, start=start, end=end, audio_start=start, audio_end=end)
    rate = info.audio_sample_rate
    first = math.floor(piece.start_seconds * rate / AAC_FRAME + 1e-6)
    after = math.floor((piece.start_seconds + piece.duration_seconds) * rate / AAC_FRAME + 1e-6)
    return single.Window(
        origin=origin,
        start=start,
        end=end,
        audio_start=TIMESTAMP_BASE + first * AAC_FRAME / rate if piece.index else None,
        audio_samples=None if last else (after - first) * AAC_FRAME,
    )


def _piece_source(
    piece: TranscodePiece, *, folder: Path, local: Path | None, prefix: str, beat: Callable[..., None]
) -> Path:
    """The piece's file: the split's own copy when this worker split the video, else the stored one."""
    names = [f"{piece.index:04d}{suffix}" for suffix in (".mkv", ".mov")]
    for name in names:
        if local is not None and (local / name).is_file():
            return local / name
    storage = storages["recordings"]
    name = next((n for n in names if storage.exists(f"{prefix}/{PIECES}/{n}")), names[0])
    target = folder / name
    with storage.open(f"{prefix}/{PIECES}/{name}", "rb") as stored, target.open("wb") as out:
        while chunk := stored.read(4 * 1024 * 1024):
            out.write(chunk)
            beat()
    return target


def _read_piece(work: Path, prefix: str) -> dict:
    """Per rendition: the variant's attributes and its segments as stored names, lengths (ms) and
    sizes (bytes), for the join's playlists and bit rates."""
    out = {}
    for variant in parse_master((work / "master.m3u8").read_text()):
        name = variant.uri.split("/")[0]
        playlist = parse_media((work / variant.uri).read_text())
        out[name] = {
            "bandwidth": variant.bandwidth,
            "resolution": variant.resolution,
            "codecs": variant.codecs,
            "frame_rate": variant.frame_rate,
            "segments": [
                [f"{prefix}/{name}/{s.uri}", s.duration_ms, (work / name / s.uri).stat().st_size]
                for s in playlist.segments
            ],
        }
    return out


def _check_piece(piece: TranscodePiece, segments: dict, *, exact: bool) -> None:
    """TranscodeFailed (cut off) when a rendition is clearly shorter than the piece, as for a
    whole video (ffmpeg reads a damaged piece to where it can and exits 0). ``exact``: a piece
    cut to its window and followed by another, which must last its length to a few frames."""
    expected = round(piece.duration_seconds * 1000)
    missing = [name for name in piece_names(piece) if name not in segments]
    if missing:
        raise TranscodeFailed(
            problems.explain(Problem.UNKNOWN), detail=f"piece {piece.index} lacks {missing}"
        )
    for name, rendition in segments.items():
        got = sum(segment[1] for segment in rendition["segments"])
        short = (
            expected - got > EXACT_SLACK_MS
            if exact
            else (got < expected * single.COMPLETE_SHARE and expected - got > 1000)
        )
        if short:
            detail = f"piece {piece.index}: {name} lasts {got} ms, the piece {expected} ms"
            raise TranscodeFailed(problems.explain(Problem.TRUNCATED), detail=detail)


def piece_names(piece: TranscodePiece) -> list[str]:
    return [r["name"] for r in piece.plan]


def _finish_piece(piece: TranscodePiece, owner: str, *, status: str, **values) -> None:
    """Store a piece's outcome while it is still ``owner``'s; LeaseLost otherwise."""
    with transaction.atomic():
        row = TranscodePiece.objects.select_for_update().filter(pk=piece.pk).first()
        if row is None or row.lease_owner != owner or row.status != Piece.RUNNING:
            raise PieceLost(f"Piece {piece.index} of video {piece.recording_id} is no longer ours.")
        row.status, row.lease_expires_at = status, None
        for name, value in values.items():
            setattr(row, name, value)
        row.save(update_fields=["status", "lease_expires_at", "updated_at", *values])


def transcode_pieces(*, recording_id: int) -> int:
    """A helper worker's share: claim and transcode the video's free pieces one after another
    until none is left; returns how many it did. The video's own attempt joins them."""
    owner, done = jobs.new_owner(), 0
    recording = Recording.objects.filter(pk=recording_id).only("pk", "cdn_prefix").first()
    while recording is not None and (piece := claim_piece(recording_id=recording_id, owner=owner)):
        try:
            work_piece(piece, owner=owner, local=None, prefix=recording.cdn_prefix)
        except PieceLost:
            logger.info("Video piece taken over", extra={"recording": recording_id, "piece": piece.index})
            return done
        done += 1
    return done
