"""A long upload transcoded in pieces (recordings.services.chunked), with real ffmpeg on a short
generated video cut into ~2-second pieces: each rendition's joined playlist plays end to end with
no gap, a job killed part way goes on from its finished pieces, a bad piece fails the video with a
sentence and leaves nothing stored, and a second worker takes pieces in parallel."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from recordings.models import Recording, TranscodePiece
from recordings.playlists import parse_media
from recordings.services import chunked
from recordings.services.transcode import transcode_upload
from recordings.tests.upload_media import assert_bit_rates_are_measured, files_in, make_video, upload

pytestmark = pytest.mark.skipif(not __import__("shutil").which("ffmpeg"), reason="ffmpeg is not installed")

SECONDS = 9


@pytest.fixture(scope="session")
def long_video(tmp_path_factory) -> Path:
    """9 s of a 640x480 test pattern at 10 fps (a keyframe each second, as phones and cameras
    write them) with a tone: two renditions, cut into five pieces of ~2 s."""
    path = tmp_path_factory.mktemp("video") / "long.mp4"
    return make_video(path, size="640x480", seconds=SECONDS, rate=10, extra=("-g", "10"))


@pytest.fixture
def in_pieces(settings):
    settings.LIVESHOP_TRANSCODE_CHUNKED_OVER_SECONDS = 3
    settings.LIVESHOP_TRANSCODE_PIECE_SECONDS = 2


def ffprobe_json(*args: str) -> dict:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args], capture_output=True, check=True, text=True
    )
    return json.loads(done.stdout)


def assert_plays_end_to_end(playlist: Path) -> None:
    """The rendition's playlist lasts the source's length (ffprobe reading it through the HLS
    demuxer), and its picture and sound run without a gap or a step back across pieces."""
    duration = float(ffprobe_json("-show_entries", "format=duration", str(playlist))["format"]["duration"])
    assert abs(duration - SECONDS) <= 0.3, duration
    for stream, largest_gap in (("v:0", 0.15), ("a:0", 0.05)):
        packets = ffprobe_json("-select_streams", stream, "-show_entries", "packet=dts_time,duration_time",
                               str(playlist))["packets"]  # fmt: skip
        times = [float(p["dts_time"]) for p in packets]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Sound: each piece's AAC starts with its encoder's priming, under a millisecond early.
        assert min(gaps) >= -0.002, f"{stream} steps back {min(gaps):.4f} s"
        assert max(gaps) <= largest_gap, f"{stream} has a gap of {max(gaps):.3f} s"
        assert times[-1] - times[0] >= SECONDS - 0.3


def worked(monkeypatch) -> list[tuple[str, int]]:
    """Records (thread name, piece index) for each piece a worker transcodes."""
    calls, original = [], chunked.work_piece

    def spy(piece, **kwargs):
        calls.append((threading.current_thread().name, piece.index))
        return original(piece, **kwargs)

    monkeypatch.setattr(chunked, "work_piece", spy)
    return calls


@pytest.mark.django_db
def test_a_long_video_is_transcoded_in_pieces_and_plays_end_to_end(
    host_client, brand, on_disk, in_pieces, long_video, monkeypatch, django_capture_on_commit_callbacks
):
    calls = worked(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        upload(host_client, brand, name="long.mp4", content=long_video.read_bytes())

    video = Recording.objects.get()
    assert video.status == "ready", video.failure_reason
    assert sorted(index for _thread, index in calls) == [0, 1, 2, 3, 4]
    assert [(r["name"], r["width"], r["height"]) for r in video.renditions] == [
        ("480p", 640, 480),
        ("360p", 480, 360),
    ]
    assert abs(video.duration_ms - SECONDS * 1000) <= 300
    hls = on_disk[1]
    folder = hls / video.cdn_prefix
    assert not (folder / chunked.PIECES).exists() and not TranscodePiece.objects.exists()
    assert (hls / video.thumbnails[0]).read_bytes()[:2] == b"\xff\xd8"
    # BANDWIDTH and AVERAGE-BANDWIDTH measured over all the pieces' segments of each rendition.
    variants = assert_bit_rates_are_measured(hls / video.master_path)
    assert [v.uri for v in variants] == ["480p/index.m3u8", "360p/index.m3u8"]
    assert all(v.codecs.startswith("avc1.") and "mp4a" in v.codecs for v in variants)
    assert [r["average_bandwidth"] for r in video.renditions] == [v.average_bandwidth for v in variants]
    for rendition in video.renditions:
        playlist = hls / rendition["playlist"]
        text = playlist.read_text()
        assert "#EXT-X-DISCONTINUITY" not in text  # the pieces' timestamps run on
        segments = parse_media(text).segments
        assert {s.uri[:5] for s in segments} == {f"p000{i}" for i in range(5)}
        assert all((playlist.parent / s.uri).is_file() for s in segments)
        assert_plays_end_to_end(playlist)
    # Every stored file is listed: no leftover of a piece.
    listed = {hls / video.master_path, hls / video.thumbnails[0]}
    for rendition in video.renditions:
        playlist = hls / rendition["playlist"]
        listed |= {playlist} | {playlist.parent / s.uri for s in parse_media(playlist.read_text()).segments}
    assert set(files_in(folder)) == listed


class Killed(BaseException):
    """The worker dies (SIGKILL): nothing after this point runs, no except clause catches it."""


@pytest.mark.django_db
def test_a_job_killed_part_way_goes_on_from_its_finished_pieces(
    host_client, brand, on_disk, in_pieces, long_video, monkeypatch, django_capture_on_commit_callbacks
):
    original, splits, done = chunked.work_piece, [], []
    original_split = chunked.split

    def dies_at_the_third_piece(piece, **kwargs):
        if len(done) == 2:
            raise Killed
        original(piece, **kwargs)
        done.append(piece.index)

    monkeypatch.setattr(chunked, "work_piece", dies_at_the_third_piece)
    monkeypatch.setattr(chunked, "split", lambda **kw: splits.append(1) or original_split(**kw))
    with pytest.raises(Killed), django_capture_on_commit_callbacks(execute=True):
        upload(host_client, brand, name="long.mp4", content=long_video.read_bytes())

    video = Recording.objects.get()
    assert video.status == "processing" and video.attempts == 1
    pieces = {p.index: p.status for p in TranscodePiece.objects.all()}
    assert pieces == {0: "done", 1: "done", 2: "running", 3: "pending", 4: "pending"}
    hls = on_disk[1]
    finished = {
        p: p.stat().st_mtime_ns for p in files_in(hls / video.cdn_prefix) if p.name.startswith("p000")
    }
    assert finished and {p.name[:5] for p in finished} == {"p0000", "p0001"}
    # The worker's leases run out; the periodic check requeues the job and a worker takes it.
    Recording.objects.update(lease_expires_at="2020-01-01T00:00Z")
    TranscodePiece.objects.update(lease_expires_at="2020-01-01T00:00Z")
    monkeypatch.setattr(chunked, "work_piece", original)
    calls = worked(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        from recordings.services.jobs import check_stale_jobs

        assert check_stale_jobs().requeued == [video.pk]

    video.refresh_from_db()
    assert video.status == "ready", video.failure_reason
    assert video.attempts == 2 and len(splits) == 1  # not split again
    assert sorted(index for _thread, index in calls) == [2, 3, 4]
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in finished.items())  # not redone
    for rendition in video.renditions:
        assert_plays_end_to_end(hls / rendition["playlist"])


@pytest.mark.django_db
def test_a_bad_piece_fails_the_video_clearly_with_nothing_stored(
    host_client, brand, on_disk, in_pieces, long_video, monkeypatch, django_capture_on_commit_callbacks
):
    original_split = chunked.split

    def damages_the_third_piece(**kwargs):
        pieces = original_split(**kwargs)
        for path in [kwargs["local"] / "0002.mkv", on_disk[1] / kwargs["prefix"] / "pieces" / "0002.mkv"]:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 3])  # cut off, as a disk or a copy can
        return pieces

    monkeypatch.setattr(chunked, "split", damages_the_third_piece)
    with django_capture_on_commit_callbacks(execute=True):
        upload(host_client, brand, name="long.mp4", content=long_video.read_bytes())

    video = Recording.objects.get()
    assert video.status == "failed"
    assert "ends early" in video.failure_reason and "ffmpeg" not in video.failure_reason
    assert files_in(on_disk[1]) == [] and not TranscodePiece.objects.exists()
    assert video.master_path == "" and video.renditions == []


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_takes_pieces_in_parallel(
    host_client, brand, on_disk, in_pieces, long_video, monkeypatch
):
    calls = worked(monkeypatch)
    # Pieces take a moment more, so two workers surely meet on this loaded machine.
    original = chunked._transcode_piece
    monkeypatch.setattr(
        chunked, "_transcode_piece", lambda piece, **kw: time.sleep(0.3) or original(piece, **kw)
    )
    stop = threading.Event()

    def helper():
        try:
            while not stop.is_set():
                for video in Recording.objects.all():
                    chunked.transcode_pieces(recording_id=video.pk)
                time.sleep(0.05)
        finally:
            connection.close()

    other = threading.Thread(target=helper, name="other-worker")
    other.start()
    try:  # the upload's transcode runs here, after its commit (eager Celery)
        upload(host_client, brand, name="long.mp4", content=long_video.read_bytes())
    finally:
        stop.set()
        other.join(timeout=60)

    video = Recording.objects.get()
    video.refresh_from_db()
    assert video.status == "ready", video.failure_reason
    assert sorted(index for _thread, index in calls) == [0, 1, 2, 3, 4]  # each piece once
    assert {thread for thread, _index in calls} == {"MainThread", "other-worker"}
    for rendition in video.renditions:
        assert_plays_end_to_end(on_disk[1] / rendition["playlist"])


@pytest.fixture(scope="session")
def other_sources(tmp_path_factory) -> dict[str, Path]:
    """5 s each: a phone video lying on its side with a rotation tag, and sound only."""
    folder = tmp_path_factory.mktemp("other")
    flat = make_video(folder / "flat.mp4", size="320x240", seconds=5, rate=10, extra=("-g", "10"))
    rotated = folder / "rotated.mp4"
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(flat), "-c", "copy",
               "-metadata:s:v:0", "rotate=90", str(rotated)]  # fmt: skip
    subprocess.run(command, check=True)
    return {"rotated": rotated, "sound-only": make_video(folder / "tone.m4a", video=False, seconds=5)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source", "renditions", "pieces"),
    [("rotated", [("240p", 240, 320)], 3), ("sound-only", [("audio", 640, 360)], 0)],
)
def test_a_rotated_phone_video_keeps_its_shape_in_pieces_and_sound_only_is_one_pass(
    host_client, brand, on_disk, in_pieces, other_sources, source, renditions, pieces,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    path = other_sources[source]
    with django_capture_on_commit_callbacks(execute=True):
        kind = "video/mp4" if path.suffix == ".mp4" else "audio/mp4"
        upload(host_client, brand, name=path.name, content=path.read_bytes(), content_type=kind)

    video = Recording.objects.get()
    assert video.status == "ready", video.failure_reason
    assert [(r["name"], r["width"], r["height"]) for r in video.renditions] == renditions
    assert abs(video.duration_ms - 5000) <= 300
    playlist = on_disk[1] / video.renditions[0]["playlist"]
    names = {s.uri[:5] for s in parse_media(playlist.read_text()).segments}
    assert len(names - {"segme"}) == pieces  # pieces of ~2 s; sound only: "segment_0000.ts" ...
    stream = ffprobe_json("-select_streams", "v:0", "-show_entries", "stream=width,height", str(playlist))
    assert (stream["streams"][0]["width"], stream["streams"][0]["height"]) == renditions[0][1:]


@pytest.mark.django_db
def test_a_piece_finished_after_its_video_was_deleted_leaves_no_file(
    brand, on_disk, in_pieces, long_video, monkeypatch, django_capture_on_commit_callbacks
):
    """A helper worker still on a piece when the brand deletes the video: its segments go too."""
    from django.core.files import File

    original = chunked._transcode_piece
    video = Recording.objects.create(organization=brand, backend="upload", title="Long", status="pending")
    with long_video.open("rb") as content:
        video.upload.save("long.mp4", File(content))
    monkeypatch.setattr(chunked, "work_piece", lambda piece, **kw: None)  # the attempt leaves pieces be
    monkeypatch.setattr(chunked.time, "sleep", lambda _s: (_ for _ in ()).throw(Killed))
    with pytest.raises(Killed):
        transcode_upload(recording_id=video.pk)
    video.refresh_from_db()
    TranscodePiece.objects.update(lease_expires_at="2020-01-01T00:00Z")  # the attempt died

    def deleted_meanwhile(piece, **kw):
        segments = original(piece, **kw)
        Recording.objects.filter(pk=video.pk).delete()  # the rows go with it
        return segments

    monkeypatch.undo()
    monkeypatch.setattr(chunked, "_transcode_piece", deleted_meanwhile)
    assert chunked.transcode_pieces(recording_id=video.pk) == 0
    stored = [p for p in files_in(on_disk[1] / video.cdn_prefix) if p.suffix == ".ts"]
    assert stored == []


def frames(path: Path) -> list[float]:
    """The picture's frames as decoded (presentation times), in order."""
    found = ffprobe_json("-select_streams", "v:0", "-show_entries", "frame=pts_time", str(path))["frames"]
    return [float(f["pts_time"]) for f in found]


def psnr_per_frame(output: Path, source: Path) -> list[float]:
    """Each output frame's PSNR (dB) against the source's frame at the same time from the start."""
    graph = "[0:v]setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS[b];[a][b]psnr=stats_file=-"
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(output), "-i", str(source),
         "-lavfi", graph, "-f", "null", "-"],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    values = [
        line.split("psnr_avg:")[1].split()[0] for line in done.stdout.splitlines() if "psnr_avg:" in line
    ]
    return [float("inf") if v == "inf" else float(v) for v in values]


@pytest.fixture(scope="session")
def open_gop_sources(tmp_path_factory) -> dict[str, Path]:
    """9 s of 640x480 at 10 fps with a tone, a keyframe each second that is an open GOP's: B-frames
    shown before it reference the GOP before (x264 ``open-gop``: recovery-point I-frames; x265: CRA
    pictures with RASL ones), as cameras write HEVC."""
    folder = tmp_path_factory.mktemp("open-gop")
    gop = "open-gop=1:keyint=10:min-keyint=10:scenecut=0:bframes=3"
    encoders = {
        "h264": ("-preset", "veryfast", "-x264-params", gop),
        "hevc": (
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-tag:v",
            "hvc1",
            "-x265-params",
            f"{gop}:log-level=error",
        ),
    }
    return {
        codec: make_video(folder / f"{codec}.mp4", seconds=SECONDS, rate=10, extra=extra)
        for codec, extra in encoders.items()
    }


@pytest.mark.django_db
@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_an_open_gop_source_keeps_every_frame_across_the_cuts(
    host_client, brand, on_disk, in_pieces, open_gop_sources, codec, django_capture_on_commit_callbacks
):
    source = open_gop_sources[codec]
    source_frames = frames(source)
    assert len(source_frames) == SECONDS * 10
    with django_capture_on_commit_callbacks(execute=True):
        upload(host_client, brand, name=f"{codec}.mp4", content=source.read_bytes())

    video = Recording.objects.get()
    assert video.status == "ready", video.failure_reason
    top = on_disk[1] / video.renditions[0]["playlist"]
    assert video.renditions[0]["width"] == 640  # the source's own size: frames compare one to one
    assert len({s.uri[:5] for s in parse_media(top.read_text()).segments}) == 5  # in pieces
    for rendition in video.renditions:
        got = frames(on_disk[1] / rendition["playlist"])
        # Every frame once, 0.1 s apart: none lost at a cut (the B-frames shown before a piece's
        # first keyframe), none twice.
        assert len(got) == len(source_frames), rendition["name"]
        steps = [round(b - a, 3) for a, b in itertools.pairwise(got)]
        assert set(steps) == {0.1}, rendition["name"]
        assert_plays_end_to_end(on_disk[1] / rendition["playlist"])
    # And each is the source's picture (a B-frame decoded without the GOP before it comes out
    # grey or smeared): PSNR against the source frame by frame.
    psnr = psnr_per_frame(top, source)
    assert len(psnr) == len(source_frames)
    assert min(psnr) > 30, [(i, round(p, 1)) for i, p in enumerate(psnr) if p <= 30]


def test_a_piece_cut_by_the_earlier_split_is_transcoded_whole():
    """A piece stored before pieces had windows (its timestamps start at 0, from a job that was
    running when this version was deployed) is transcoded as then: no window, no -copyts."""
    from liveshop.media import MediaInfo

    piece = TranscodePiece(recording_id=1, upload="x.mp4", index=2, start_seconds=4.0, duration_seconds=2.0)
    legacy = MediaInfo(path=Path("0002.mkv"), duration=2.0, start_time=0.0, video_codec="h264", width=640,
                       height=480, frame_rate=None, audio_codec="aac", audio_sample_rate=44100)  # fmt: skip

    assert chunked._window(piece, legacy) is None
