"""Uploaded video -> HLS with ffmpeg: H.264/AAC renditions chosen by the picture's shorter side
(1080p, 720p and 360p, never above the source; portrait stays portrait), a multivariant playlist
and a thumbnail, stored in the "recordings" storage under
``<RECORDINGS_CDN_PREFIX>/uploads/<recording id>/`` with the rendition shape IVS ingestion stores.

ffmpeg works in the attempt's temporary folder (recordings.services.jobs.work_folder); files reach
the storage only once it has succeeded (segments, then playlists, the master last), and a failure
part way deletes what was stored, so the storage never holds a half-written replay. Progress comes
from ffmpeg's ``-progress`` reports and extends the attempt's lease; ffmpeg dies with its worker.

A transcode may be delivered more than once (a killed worker's task runs again): the job's lease
(recordings.services.jobs) lets one attempt at a time work and only the lease holder store the
outcome, so it finishes once."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files import File
from django.core.files.storage import storages

from liveshop import media
from liveshop.media import MediaInfo, Problem
from recordings.exceptions import InvalidUpload, TranscodeFailed
from recordings.models import Recording, new_media_prefix
from recordings.playlists import PlaylistError, bit_rates, parse_master, parse_media
from recordings.services import chunked, jobs, problems
from recordings.services.uploads import probe_video
from recordings.services.videos import delete_folder

logger = logging.getLogger(__name__)

Status = Recording.Status
LADDER = (1080, 720, 360)  # renditions by the picture's shorter side, best first
STEP_DOWN = 0.8  # a lower rung only when at most 80 % of the top one: no 740p + 720p pair
REFERENCE_PIXELS, REFERENCE_KBPS = 1280 * 720, 2800  # 720p's video bitrate; others by pixel count
MIN_KBPS = 200
# A sound-only upload plays over a still picture (the player, the thumbnail and the renditions'
# shape stay those of a video): the studio's dark background, 2 frames a second.
AUDIO_PICTURE_SIZE = (640, 360)
AUDIO_PICTURE = "color=c=0x16141b:s=640x360:r=2"
AUDIO_BITRATE = "128k"
SEGMENT_SECONDS = 4
TRANSCODE_SHARE = 90  # percent of the bar for ffmpeg; storing the files takes the rest
PROGRESS_STEP = 5  # write progress to the database at most every 5 %
THUMBNAIL = "thumbnail.jpg"
POSTER_PREFIX = "poster-"  # a poster the brand picked: a new name each time, so no cache shows the old
COMPLETE_SHARE = 0.9  # renditions shorter than 90 % of the source's duration: the file was cut off


@dataclass(frozen=True)
class Rendition:
    name: str
    width: int
    height: int
    video_kbps: int


def rendition_plan(info: MediaInfo) -> list[Rendition]:
    """The renditions of a ``width`` x ``height`` picture (as displayed, rotation applied), best
    first, chosen by its shorter side so a phone's 1080x1920 gets 1080x1920, 720x1280 and
    360x640: the top one at the source's own size (at most 1080 on the shorter side), then each
    lower rung of LADDER that is clearly smaller. Never larger than the source: a tiny source
    gets one rendition, its own size. Bitrates follow the pixel count, not the height."""
    if not info.has_video:  # sound only: one still picture to play it with
        return [Rendition("audio", *AUDIO_PICTURE_SIZE, MIN_KBPS)]
    short, long = sorted((info.width, info.height))
    top = min(short, LADDER[0])
    rungs = [top] + [rung for rung in LADDER[1:] if rung <= top * STEP_DOWN]
    return [_rendition(rung, short=short, long=long, portrait=info.height > info.width) for rung in rungs]


def _rendition(rung: int, *, short: int, long: int, portrait: bool) -> Rendition:
    small, large = _even(rung), _even(round(long * rung / short))
    width, height = (small, large) if portrait else (large, small)
    return Rendition(f"{small}p", width, height, _kbps(width * height))


def output_prefix(recording: Recording) -> str:
    """The stable folder of an upload's HLS in the "recordings" storage: its ``cdn_prefix``, set
    at upload (a random key under the private prefix); one is given here to a row without it."""
    if not recording.cdn_prefix:
        prefix = new_media_prefix(private=True)
        Recording.objects.filter(pk=recording.pk, cdn_prefix="").update(cdn_prefix=prefix)
        recording.refresh_from_db(fields=["cdn_prefix"])
    return recording.cdn_prefix


def _even(n: int) -> int:
    return max(2, n - n % 2)


def _kbps(pixels: int) -> int:
    return max(MIN_KBPS, round(REFERENCE_KBPS * (pixels / REFERENCE_PIXELS) ** 0.75))


def transcode_upload(*, recording_id: int) -> Recording | None:
    """Transcode an uploaded video (status processing, progress 0..100) to ready with renditions,
    master playlist, thumbnail and duration, or to failed with a sentence for the brand (ffmpeg's
    words in the log) and nothing stored. Idempotent: a video that is ready, failed, or being
    transcoded by a live attempt is returned as it is (see recordings.services.jobs); None for a
    video deleted before or while it ran (what this attempt stored is deleted too)."""
    lease = jobs.claim(recording_id=recording_id)
    if lease is None:
        return Recording.objects.filter(pk=recording_id).first()
    recording = Recording.objects.get(pk=recording_id)
    prefix, stored, in_pieces = output_prefix(recording), [], False
    try:
        with jobs.work_folder(lease) as folder:
            source = _source(recording, folder, lease)
            info = probe_video(source, recording=recording_id)
            if in_pieces := chunked.wanted(info):
                return _transcode_in_pieces(lease, recording, source=source, info=info, folder=folder)
            work = folder / "hls"
            work.mkdir()
            run_ffmpeg(source, work, rendition_plan(info), info, on_progress=_progress_writer(lease))
            advertise_measured_bit_rates(work)
            make_thumbnail(source, work / THUMBNAIL, info)
            result = describe(work, prefix)
            check_complete(result, info)
            lease.beat(force=True)
            stored = store_tree(work, prefix, on_progress=_progress_writer(lease, start=TRANSCODE_SHARE))
            return _complete(lease, result)
    except jobs.LeaseLost:
        current = Recording.objects.filter(pk=recording_id).first()
        if current is None:  # deleted meanwhile: what this attempt stored is nobody's
            delete_folder(storages["recordings"], prefix)
            logger.info("Transcode stopped: the video was deleted", extra={"recording": recording_id})
            return None
        # Another attempt owns the job and writes the same names: leave what is stored to it.
        logger.warning("Transcode taken over by another attempt", extra={"recording": recording_id})
        return current
    except SoftTimeLimitExceeded:
        if in_pieces:  # the pieces done stay done: the next attempt goes on from them
            jobs.hand_over(lease)
            return Recording.objects.filter(pk=recording_id).first()
        _delete(stored)
        return _fail(lease, problems.explain(Problem.TIMED_OUT), detail="the task's soft time limit")
    except (TranscodeFailed, InvalidUpload) as exc:  # InvalidUpload: probe_video logged the detail
        _discard(stored, in_pieces=in_pieces, lease=lease, prefix=prefix)
        return _fail(lease, str(exc), detail=getattr(exc, "detail", ""))
    except (PlaylistError, OSError) as exc:
        _discard(stored, in_pieces=in_pieces, lease=lease, prefix=prefix)
        return _fail(lease, problems.explain(Problem.UNKNOWN), detail=problems.technical_detail(exc))
    except BaseException:
        _delete(stored)
        raise


def _transcode_in_pieces(
    lease: jobs.Lease, recording: Recording, *, source: Path, info: MediaInfo, folder: Path
) -> Recording | None:
    """A long video in pieces (recordings.services.chunked): ready, or handed over to a next
    attempt before this one's time limit (the video returned as it is, pending)."""
    prefix = recording.cdn_prefix
    outcome = chunked.transcode_in_pieces(
        lease=lease, recording=recording, source=source, info=info, folder=folder, prefix=prefix
    )
    if outcome is None:
        return Recording.objects.filter(pk=recording.pk).first()
    result, stored = outcome
    try:
        done = _complete(lease, result)
    except BaseException:
        _delete(stored)
        raise
    chunked.finished(recording_id=recording.pk, prefix=prefix)
    return done


def _discard(stored: list[str], *, in_pieces: bool, lease: jobs.Lease, prefix: str) -> None:
    """A failed attempt's output: what it stored, or for pieces the video's whole folder (every
    piece's segments) and its pieces; not when the job is no longer this attempt's."""
    if not in_pieces:
        _delete(stored)
        return
    try:
        lease.beat(force=True)
    except jobs.LeaseLost:
        return
    chunked.discard(recording_id=lease.recording_id, prefix=prefix)


def _source(recording: Recording, folder: Path, lease: jobs.Lease) -> Path:
    """The upload as a local file: its own path on disk, or a copy (S3, memory) in ``folder``,
    extending the lease while a large one downloads."""
    if not recording.upload:
        raise TranscodeFailed("The video has no uploaded file.")
    try:
        on_disk = Path(recording.upload.path)
    except NotImplementedError:
        on_disk = None
    if on_disk is not None and on_disk.is_file():  # InMemoryStorage names a path it never writes
        return on_disk
    copy = folder / f"upload{Path(recording.upload.name).suffix.lower()}"
    with recording.upload.open("rb") as stored, copy.open("wb") as out:
        while chunk := stored.read(4 * 1024 * 1024):
            out.write(chunk)
            lease.beat()
    return copy


def _progress_writer(lease: jobs.Lease, *, start: int = 0) -> Callable[[float], None]:
    """A callback taking 0..1 of a step, writing ``start`` + its share when it grows >= 5 %, and
    extending the lease meanwhile; raises LeaseLost when another attempt took the job over."""
    share = TRANSCODE_SHARE if start == 0 else 100 - start
    last = [start]

    def report(fraction: float) -> None:
        percent = min(99, start + int(share * max(0.0, min(1.0, fraction))))
        if percent >= last[0] + PROGRESS_STEP:
            last[0] = percent
            lease.beat(progress=percent)
        else:
            lease.beat()

    return report


@dataclass(frozen=True)
class Window:
    """The part of a piece's file (recordings.services.chunked) that is the piece, in the file's
    own timestamps (seconds), and where it goes: ``origin`` becomes the output's time 0 (before
    ``ts_offset``). The picture from ``start`` to ``end`` (None: the file's start or end); the
    sound from ``audio_start`` (None: the file's start), ``audio_samples`` of it (None: to the
    end), its samples timed from there by their count, so pieces whose sound starts and ends on
    the AAC encoder's 1024-sample frames join without a partial frame or a drift."""

    origin: float
    start: float | None
    end: float | None
    audio_start: float | None = None
    audio_samples: int | None = None
    audio_end: float | None = None  # without a sample count (a sample rate ffprobe did not say)

    def picture(self) -> str:
        bounds = [
            f"{name}={value:.6f}"
            for name, value in (("start", self.start), ("end", self.end))
            if value is not None
        ]
        cut = f"trim={':'.join(bounds)}," if bounds else ""
        return f"{cut}setpts=PTS-{self.origin:.6f}/TB"

    def sound(self) -> str:
        filters = []
        if self.audio_start is not None:
            filters.append(f"atrim=start={self.audio_start:.6f}")
        if self.audio_samples is not None:
            filters.append(f"atrim=end_sample={self.audio_samples}")
        elif self.audio_end is not None:
            filters.append(f"atrim=end={self.audio_end:.6f}")
        if self.audio_start is None:
            filters.append(f"asetpts=PTS-{self.origin:.6f}/TB")
        else:
            filters.append(f"asetpts=N/SR/TB+{self.audio_start - self.origin:.6f}/TB")
        return ",".join(filters)


def ffmpeg_command(
    source: Path,
    work: Path,
    plan: list[Rendition],
    info: MediaInfo,
    *,
    ts_offset: float = 0.0,
    piece: str = "",
    window: Window | None = None,
) -> list[str]:
    """The one ffmpeg command for ``plan``. A piece of a chunked transcode (recordings.services.
    chunked) gives its start in the video (``ts_offset``: the pieces' timestamps then run on
    without a jump), a name for its segments (``piece``: "p0003_") and the stretch of its file
    that is the piece (``window``: read on the file's own clock, -copyts)."""
    n = len(plan)
    video = f"[0:v:0]{window.picture()}," if window else "[0:v:0]"
    scale = ";".join(f"[s{i}]scale={r.width}:{r.height}[v{i}]" for i, r in enumerate(plan))
    graph = f"{video}split={n}{''.join(f'[s{i}]' for i in range(n))};{scale}"
    audio = [("0:a:0" if info.has_video else "1:a:0") for _ in plan]
    if window and info.has_audio:  # the piece's own sound, split for each rendition
        graph += f";[0:a:0]{window.sound()},asplit={n}{''.join(f'[a{i}]' for i in range(n))}"
        audio = [f"[a{i}]" for i in range(n)]
    # Input 0 gives the picture: the upload, or for sound only a still one (the sound is input 1).
    still = ["-f", "lavfi", "-i", f"{AUDIO_PICTURE}:d={info.duration:.3f}"]  # -shortest lags 10 s
    inputs = ["-i", str(source)] if info.has_video else [*still, "-i", str(source)]
    command = [
        media.ffmpeg.FFMPEG, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-progress", "pipe:1", "-nostats", *(["-copyts"] if window else []), *inputs,
        "-filter_complex", graph,
    ]  # fmt: skip
    for i in range(n):
        command += ["-map", f"[v{i}]"]
    if info.has_audio:
        for stream in audio:
            command += ["-map", stream]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-profile:v", "high"]
    for i, r in enumerate(plan):
        command += [f"-b:v:{i}", f"{r.video_kbps}k", f"-maxrate:v:{i}", f"{round(r.video_kbps * 1.07)}k"]
        command += [f"-bufsize:v:{i}", f"{r.video_kbps * 2}k"]
    # Keyframes every 2 s on every rendition, so segments line up and players switch cleanly.
    command += ["-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0"]
    if info.has_audio:
        command += ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2"]
    streams = " ".join(
        f"v:{i}{f',a:{i}' if info.has_audio else ''},name:{r.name}" for i, r in enumerate(plan)
    )
    if ts_offset:
        command += ["-output_ts_offset", f"{ts_offset:.6f}"]
    command += [
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_filename", str(work / "%v" / f"{piece}segment_%04d.ts"),
        "-master_pl_name", "master.m3u8", "-var_stream_map", streams,
        str(work / "%v" / "index.m3u8"),
    ]  # fmt: skip
    return command


def run_ffmpeg(
    source: Path, work: Path, plan: list[Rendition], info: MediaInfo, *, on_progress: Callable[[float], None]
) -> None:
    """Run ffmpeg, reporting the share of the duration done; TranscodeFailed with its error. An
    exception from ``on_progress`` (a lost lease, a time limit) stops ffmpeg and propagates."""
    try:
        media.run_with_progress(
            ffmpeg_command(source, work, plan, info),
            on_progress=lambda seconds: on_progress(seconds / info.duration),
        )
    except media.MediaError as exc:
        raise _failed(exc, "ffmpeg failed", source=source, work=work) from None


def advertise_measured_bit_rates(work: Path) -> None:
    """Rewrite ffmpeg's master playlist with each rendition's BANDWIDTH (peak) and
    AVERAGE-BANDWIDTH measured from its segments' sizes and lengths (recordings.playlists.
    bit_rates); ffmpeg advertises its encoders' targets plus 10 % and no average."""
    variants = []
    for variant in parse_master((work / "master.m3u8").read_text()):
        path = work / variant.uri
        playlist = parse_media(path.read_text())
        sizes = [((path.parent / s.uri).stat().st_size, s.duration_ms) for s in playlist.segments]
        target = playlist.target_duration or math.ceil(max(ms for _size, ms in sizes) / 1000)
        peak, average = bit_rates(sizes, target_duration=target)
        variants.append(
            {
                "name": variant.uri.split("/")[0],
                "resolution": variant.resolution,
                "codecs": variant.codecs,
                "frame_rate": variant.frame_rate,
                "bandwidth": peak,
                "average_bandwidth": average,
            }
        )
    (work / "master.m3u8").write_text(master_playlist(variants))


def master_playlist(variants: list[dict]) -> str:
    """A multivariant playlist of ``variants`` (dicts with name, bandwidth, average_bandwidth,
    resolution, frame_rate, codecs), each at ``<name>/index.m3u8``, in their order."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        attributes = [f"BANDWIDTH={v['bandwidth'] or 1}"]
        if v.get("average_bandwidth"):
            attributes.append(f"AVERAGE-BANDWIDTH={v['average_bandwidth']}")
        if v.get("resolution"):
            attributes.append(f"RESOLUTION={v['resolution']}")
        if v.get("frame_rate"):
            attributes.append(f"FRAME-RATE={v['frame_rate']:.3f}")
        if v.get("codecs"):
            attributes.append(f'CODECS="{v["codecs"]}"')
        lines += [f"#EXT-X-STREAM-INF:{','.join(attributes)}", f"{v['name']}/index.m3u8"]
    return "\n".join([*lines, ""])


def make_thumbnail(source: Path, target: Path, info: MediaInfo, *, at: float | None = None) -> None:
    """One JPEG, 360 px high, at ``at`` seconds or a tenth of the way in (past a black first
    frame, at most 5 s)."""
    at = min(5.0, info.duration / 10) if at is None else at
    still = ["-f", "lavfi", "-i", f"{AUDIO_PICTURE}:d=1"]
    picture = ["-ss", f"{at:.3f}", "-i", str(source)] if info.has_video else still
    command = [
        media.ffmpeg.FFMPEG, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        *picture, "-frames:v", "1", "-vf", "scale=-2:360", "-q:v", "4", str(target),
    ]  # fmt: skip
    try:
        media.run(command, timeout=120)
    except media.MediaError as exc:
        raise _failed(exc, "ffmpeg could not make a thumbnail", source=source, work=target.parent) from None
    if not target.exists():
        detail = "ffmpeg could not make a thumbnail: no error message"
        raise TranscodeFailed(problems.explain(Problem.UNKNOWN), detail=detail)


def _failed(exc: media.MediaError, what: str, *, source: Path, work: Path) -> TranscodeFailed:
    """TranscodeFailed with the sentence for the kind of problem ffmpeg reports, its own last
    lines (the server's paths replaced by their role) as the detail for the log."""
    detail = f"{what}: {problems.technical_detail(exc)}"
    detail = detail.replace(str(work), "<output>").replace(str(source), "<upload>")
    return TranscodeFailed(problems.explain(media.diagnose(exc, path=source)), detail=detail)


def check_complete(result: Result, info: MediaInfo) -> None:
    """TranscodeFailed (cut off) when the renditions are clearly shorter than the source says it
    is: ffmpeg reads a file that ends early to its end, reports "partial file" and exits 0."""
    expected = info.duration_ms
    if result.duration_ms < expected * COMPLETE_SHARE and expected - result.duration_ms > 1000:
        detail = f"renditions last {result.duration_ms} ms, the source says {expected} ms"
        raise TranscodeFailed(problems.explain(Problem.TRUNCATED), detail=detail)


def store_tree(work: Path, prefix: str, *, on_progress: Callable[[float], None]) -> list[str]:
    """Copy ``work``'s files under ``prefix`` in the "recordings" storage: segments and the
    thumbnail first, media playlists next, the master last. Returns the names stored, in order;
    on an error the caller deletes them."""
    storage = storages["recordings"]
    files = sorted((p for p in work.rglob("*") if p.is_file()), key=_store_order)
    stored: list[str] = []
    try:
        for done, path in enumerate(files, 1):
            name = f"{prefix}/{path.relative_to(work).as_posix()}"
            storage.delete(name)  # a re-run replaces a failed run's leftovers
            with path.open("rb") as content:
                saved = storage.save(name, File(content, name=path.name))
            stored.append(saved)
            if saved != name:
                detail = f"The storage saved {name} as {saved}; playlists would not find it."
                raise TranscodeFailed(problems.explain(Problem.UNKNOWN), detail=detail)
            on_progress(done / len(files))
    except jobs.LeaseLost:
        raise  # the attempt that took over stores the same names: its files, not ours to delete
    except Exception:
        _delete(stored)
        raise
    return stored


def _store_order(path: Path) -> tuple[int, str]:
    rank = 2 if path.name == "master.m3u8" else 1 if path.suffix == ".m3u8" else 0
    return rank, path.as_posix()


@dataclass(frozen=True)
class Result:
    renditions: list[dict]
    master_path: str
    thumbnails: list[str]
    duration_ms: int


def describe(work: Path, prefix: str) -> Result:
    """Renditions as IVS ingestion stores them (best first), from the playlists ffmpeg wrote."""
    renditions = []
    for variant in parse_master((work / "master.m3u8").read_text()):
        playlist = parse_media((work / variant.uri).read_text())
        width, _, height = variant.resolution.partition("x")
        renditions.append(
            {
                "name": variant.uri.split("/")[0],
                "resolution": variant.resolution,
                "width": int(width) if width else None,
                "height": int(height) if height else None,
                "bandwidth": variant.bandwidth,
                "average_bandwidth": variant.average_bandwidth,
                "codecs": variant.codecs,
                "frame_rate": variant.frame_rate,
                "duration_ms": playlist.duration_ms,
                "playlist": f"{prefix}/{variant.uri}",
            }
        )
    renditions.sort(key=lambda r: (r["height"] or 0, r["bandwidth"] or 0), reverse=True)
    return Result(
        renditions=renditions,
        master_path=f"{prefix}/master.m3u8",
        thumbnails=[f"{prefix}/{THUMBNAIL}"],
        duration_ms=max(r["duration_ms"] for r in renditions),
    )


def _delete(names: list[str]) -> None:
    storage = storages["recordings"]
    for name in reversed(names):
        try:
            storage.delete(name)
        except Exception:
            logger.exception("Could not delete a partial transcode output", extra={"name": name})


def _complete(lease: jobs.Lease, result: Result) -> Recording:
    recording = jobs.finish(
        lease,
        status=Status.READY,
        progress=100,
        failure_reason="",
        renditions=result.renditions,
        master_path=result.master_path,
        thumbnails=result.thumbnails,
        duration_ms=result.duration_ms,
    )
    logger.info(
        "Video transcoded",
        extra={"recording": lease.recording_id, "duration_ms": result.duration_ms, "attempt": lease.attempt},
    )
    return recording


def _fail(lease: jobs.Lease, reason: str, *, detail: str = "") -> Recording:
    """Store ``reason`` (the brand's sentence) as the failure; ``detail`` goes to the log only."""
    try:
        recording = jobs.finish(lease, status=Status.FAILED, failure_reason=reason[:2000])
    except jobs.LeaseLost:  # another attempt owns the job now (or it was deleted): not this one's
        return Recording.objects.filter(pk=lease.recording_id).first()
    logger.warning(
        "Video transcode failed",
        extra={"recording": lease.recording_id, "reason": reason, "detail": detail[:4000]},
    )
    return recording
