"""Pre-recorded shows: ``manage.py preencode`` checked with ffprobe, and ``manage.py stream_video``
end to end in local mode: real nginx-rtmp and ffmpeg, a real ASGI server (uvicorn) on the test
database and Redis, and a websocket viewer that must receive each cue's product at the cue's
media time. Bad input is refused before ffmpeg starts."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events import prerecorded, services
from events.models import Highlight, LiveEvent
from events.prerecorded import clock, show
from events.srt_cues import CueSpec
from events.tests.factories import LiveEventFactory
from liveshop import crypto
from liveshop.media import MASK
from liveshop.video import get_video_backend
from tests import media
from tests.asgi_server import database_url
from tests.test_console_browser import ROOT, live_stack  # noqa: F401 (a fixture)

SAMPLE = ROOT.parent / "shared" / "reference" / "retail-demo-store"
if not SAMPLE.exists():
    SAMPLE = Path("/work/shared/reference/retail-demo-store")
SKUS = ["SV-JACKET", "SV-FLEECE", "SV-PACK"]
SHOW_CUES = [(2.0, "SV-JACKET"), (5.0, "SV-FLEECE"), (8.0, "SV-PACK")]  # in a 12 s video
LOOP_CUES = [(0.5, "SV-JACKET"), (1.5, "SV-FLEECE")]  # in a 3 s video
TOLERANCE = 1.0  # seconds, on a busy 2-core machine; bench/sync.py measures the real number
DEADLINE = 60  # seconds for anything to arrive


def srt_text(cues) -> str:
    blocks = []
    for number, (start, sku) in enumerate(cues, 1):
        begin, end = _stamp(start), _stamp(start + 0.5)
        blocks.append(f'{number}\n{begin} --> {end}\n{{"sku": "{sku}"}}\n')
    return "\n".join(blocks)


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def ffprobe(path, *args) -> dict:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", *args, str(path)], capture_output=True, check=True
    )
    return json.loads(done.stdout)


def keyframe_times(path) -> list[float]:
    data = ffprobe(path, "-select_streams", "v", "-skip_frame", "nokey", "-show_entries", "frame=pts_time")
    return [round(float(frame["pts_time"]), 3) for frame in data["frames"]]


def embedded_srt(path) -> str:
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:s:0", "-f", "srt", "-"], capture_output=True
    )
    return done.stdout.decode()


@dataclass
class Videos:
    folder: Path
    show: Path  # 12 s, cues at 2, 5 and 8 s in its subtitle track
    short: Path  # 3 s, cues at 0.5 and 1.5 s in its subtitle track
    plain: Path  # 3 s, no subtitle track, not pre-encoded


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Videos:
    """Test patterns pre-encoded by the command under test (1 s keyframes, as local HLS likes)."""
    reason = media.missing_tools()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("videos")
    made = {}
    for name, seconds, cues in (("show", 12, SHOW_CUES), ("short", 3, LOOP_CUES)):
        raw = media.media_test_video(folder / f"{name}-raw.mp4", seconds=seconds)
        srt = folder / f"{name}.srt"
        srt.write_text(srt_text(cues))
        made[name] = folder / f"{name}.mp4"
        call_command(
            "preencode", raw, made[name], "--srt", srt, "--preset", "ultrafast", "--video-bitrate", "800k",
            "--audio-bitrate", "96k", "--keyframe-interval", "1", stdout=io.StringIO(),
            stderr=io.StringIO(),
        )  # fmt: skip
    plain = media.media_test_video(folder / "plain.mp4", seconds=3)
    return Videos(folder, made["show"], made["short"], plain)


# preencode -------------------------------------------------------------------------------------


def test_preencode_writes_cbr_h264_with_fixed_keyframes_aac_and_the_added_srt_track(videos):
    data = ffprobe(videos.show, "-show_streams", "-show_format")
    kinds = {stream["codec_type"]: stream for stream in data["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["video"]["pix_fmt"] == "yuv420p"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (320, 180)
    assert kinds["audio"]["codec_name"] == "aac" and kinds["audio"]["sample_rate"] == "48000"
    assert kinds["subtitle"]["codec_name"] == "mov_text"
    assert float(data["format"]["duration"]) == pytest.approx(12, abs=0.1)
    assert int(kinds["video"]["bit_rate"]) == pytest.approx(800_000, rel=0.15)  # CBR: filler keeps it
    assert keyframe_times(videos.show) == [float(t) for t in range(12)]  # --keyframe-interval 1
    assert embedded_srt(videos.show).replace("\r", "").strip() == srt_text(SHOW_CUES).strip()


def test_preencode_keeps_the_retail_demo_samples_embedded_cues_and_adds_silent_audio(tmp_path):
    if media.missing_tools():
        pytest.skip(media.missing_tools())
    target = tmp_path / "sample.mp4"
    out = io.StringIO()
    call_command(
        "preencode", SAMPLE / "sample.mkv", target, "--size", "320x180", "--preset", "ultrafast", stdout=out
    )

    data = ffprobe(target, "-show_streams")
    assert [s["codec_name"] for s in data["streams"]] == ["h264", "aac", "mov_text"]
    assert keyframe_times(target)[:4] == pytest.approx([0, 2.002, 4.004, 6.006], abs=0.04)  # 29.97 fps, 2 s
    expected = (SAMPLE / "sample.srt").read_text().replace("\r", "").strip()
    assert embedded_srt(target).replace("\r", "").strip() == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "{out}"], "No such video file"),
        (["{text}", "{out}"], "is not a video ffmpeg can read"),
        (["{plain}", "{folder}/x.flv"], "Write the output to .mp4, .mov or .mkv"),
        (["{plain}", "{folder}/nowhere/x.mp4"], "No such folder"),
        (["{plain}", "{out}", "--srt", "{text}"], "line 1: malformed cue"),
        (["{plain}", "{out}", "--video-bitrate", "fast"], "not a bitrate"),
        (["{plain}", "{out}", "--size", "big"], "not a frame size"),
        (["{plain}", "{out}", "--keyframe-interval", "0"], "keyframe interval must be between"),
        (["{plain}", "{plain}"], "must be another file"),
    ],
)
def test_preencode_refuses_bad_input_and_writes_nothing(videos, tmp_path, args, message):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    names = {"missing": tmp_path / "nope.mp4", "text": text, "plain": videos.plain, "folder": tmp_path}
    names["out"] = tmp_path / "out.mp4"
    with pytest.raises(CommandError, match=message):
        call_command("preencode", *[arg.format(**names) for arg in args])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_preencodes_progress_writes_steady_lines_in_logs_and_always_the_last():
    from django.core.management.base import OutputWrapper

    from events.management.commands.preencode import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(OutputWrapper(stream), tty=False, interval=5)
    for done in range(13):
        bar(done, 12)
    bar(12, 12)  # a report after the end writes nothing more
    bar.close()

    [line] = stream.getvalue().splitlines()
    assert line.startswith(f"encoding [{'#' * 30}] 100%  00:00:12 / 00:00:12  ")


def test_preencode_and_stream_video_say_when_ffmpeg_is_missing(videos, tmp_path, monkeypatch, db):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandError, match="ffmpeg and ffprobe are not installed"):
        call_command("preencode", videos.plain, tmp_path / "out.mp4")
    event = LiveEventFactory()
    with pytest.raises(CommandError, match="ffmpeg and ffprobe are not installed"):
        call_command("stream_video", "--event", event.slug, "--video", videos.show)


def test_the_go_live_panel_suggests_what_preencode_encodes(videos, db):
    from events.encoder import STREAMING, SUGGESTED
    from events.prerecorded.preencode import CONTAINERS, encode_command
    from events.selectors import go_live_panel

    panel = go_live_panel(LiveEventFactory(ingest_url="rtmp://127.0.0.1:1935/live/"))
    info = prerecorded.probe(videos.plain)
    command = encode_command(info, videos.folder / "x.mp4", CONTAINERS[".mp4"], STREAMING, Fraction(30), None)

    assert replace(STREAMING, size=(1280, 720), fps=Fraction(30)) == SUGGESTED
    assert panel.settings == SUGGESTED.summary()
    for args in (STREAMING.video_args(Fraction(30)), STREAMING.audio_args()):
        assert shlex.join(args) in shlex.join(command)
        assert all(arg in shlex.split(panel.ffmpeg_command.replace("\\\n", "")) for arg in args)


# The media clock and the schedule (no ffmpeg) --------------------------------------------------


def test_the_media_clock_follows_reports_and_stops_when_they_stop():
    now = [100.0]
    clock = prerecorded.MediaClock(monotonic=lambda: now[0])
    assert clock.now() is None
    clock.report(5.0)
    now[0] += 0.08
    assert clock.now() == pytest.approx(5.08)
    clock.report(5.1)  # a new report re-anchors: no drift accumulates
    assert clock.now() == pytest.approx(5.1)
    now[0] += 30  # ffmpeg stalled: the clock does not run ahead of the video
    assert clock.now() == pytest.approx(5.1 + prerecorded.MAX_EXTRAPOLATION)


def test_looping_schedules_each_cue_once_per_measured_period():
    a, b = CueSpec(product=None, start_ms=500, end_ms=None, line=2), CueSpec(None, 1500, None, 6)
    cues = prerecorded.schedule([b, a], period=3.0186, start_time=0.0)
    first = [next(cues) for _ in range(5)]
    assert [(round(c.at, 4), c.loop, c.cue.line) for c in first] == [
        (0.5, 0, 2), (1.5, 0, 6), (3.5186, 1, 2), (4.5186, 1, 6), (6.5372, 2, 2)
    ]  # fmt: skip
    once = list(prerecorded.schedule([a, b], period=None))
    assert [c.at for c in once] == [0.5, 1.5]


def test_the_loop_period_is_what_ffmpeg_adds_per_loop_not_the_container_duration(videos):
    info = prerecorded.probe(videos.short)
    period = prerecorded.loop_period(info)
    assert period == pytest.approx(3.0, abs=0.05)
    # Ten loops end exactly where the measured period says they do.
    ten = clock._copy_duration(info, loops=9)
    assert ten == pytest.approx(9 * period + clock._copy_duration(info, loops=0), abs=0.001)


# stream_video: cues and bad input (no media server) --------------------------------------------


@pytest.fixture
def brand_show(db, settings):
    """A provisioned (fake backend) event whose lineup has the SKUs the test videos cue."""
    settings.VIDEO_BACKEND = "fake"
    get_video_backend.cache_clear()
    brand = OrganizationFactory()
    host = member(brand, role=Membership.Role.HOST)
    products = [ProductFactory(organization=brand, sku=sku, name=f"Product {sku}") for sku in SKUS]
    event = services.create_event(
        organization=brand, title="Pre-recorded", scheduled_start=timezone.now(), by=host, products=products
    )
    yield event, products, host
    get_video_backend.cache_clear()


@pytest.fixture
def no_encoder(monkeypatch):
    """Fails the test if ffmpeg would be started for the stream."""

    def refuse(*args, **kwargs):
        raise AssertionError("ffmpeg was started")

    monkeypatch.setattr(show, "_Encoder", refuse)


def test_stream_video_reads_the_cues_embedded_in_the_retail_demo_sample(db):
    if media.missing_tools():
        pytest.skip(media.missing_tools())
    brand = OrganizationFactory()
    products = [ProductFactory(organization=brand, pk=pk) for pk in (1, 2, 3, 4)]

    info = prerecorded.probe(SAMPLE / "sample.mkv")
    cues = prerecorded.read_cues(organization=brand, video=info)

    assert [(cue.product, cue.start_ms, cue.line) for cue in cues] == [
        (products[0], 4000, 2), (products[1], 8000, 6), (products[2], 12000, 10), (products[3], 16000, 14)
    ]  # fmt: skip
    assert info.video_codec == "h264" and info.audio_codec is None  # streamable as it is


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown event", "No event with the slug “no-such-show”"),
        ("not provisioned", "has no video channel yet"),
        ("ended by host", "is ended; it cannot go live"),
        ("missing file", "No such video file"),
        ("not a video", "is not a video ffmpeg can read"),
        ("no subtitle track", "has no subtitle track with product cues; pass --srt FILE"),
        ("bad srt", "line 3: bad JSON"),
        ("unknown product", 'line 3: no product with SKU "NOPE"'),
        ("not in lineup", "line 2: Product SV-PACK (SV-PACK) is not in the event's lineup"),
        ("cue after the end", "line 2: the cue starts at 00:00:04,000, after the video ends"),
        ("not h264", "needs H.264 video and AAC audio. Run: manage.py preencode"),
        ("not a host", "may not host"),
        ("unknown user", "No user “nobody”"),
    ],
)
def test_stream_video_refuses_bad_input_before_starting_ffmpeg(
    brand_show, videos, tmp_path, no_encoder, case, message
):
    event, products, host = brand_show
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    srt = tmp_path / "cues.srt"
    args = {"--event": event.slug, "--video": str(videos.show)}
    if case == "unknown event":
        args["--event"] = "no-such-show"
    elif case == "not provisioned":
        args["--event"] = LiveEventFactory(organization=event.organization, channel_id="", ingest_url="").slug
    elif case == "ended by host":
        services.end_event(event=event, by=host)
    elif case == "missing file":
        args["--video"] = str(tmp_path / "nope.mp4")
    elif case == "not a video":
        args["--video"] = str(text)
    elif case == "no subtitle track":
        args["--video"] = str(videos.plain)
    elif case == "bad srt":
        srt.write_text('1\n00:00:01,000 --> 00:00:02,000\n{"sku": SV-JACKET}\n')
        args["--srt"] = str(srt)
    elif case == "unknown product":
        srt.write_text('1\n00:00:01,000 --> 00:00:02,000\n{"sku": "NOPE"}\n')
        args["--srt"] = str(srt)
    elif case == "not in lineup":
        services.set_lineup(event=event, products=products[:2], by=host)
        srt.write_text('1\n00:00:01,000 --> 00:00:02,000\n{"sku": "SV-PACK"}\n')
        args["--srt"] = str(srt)
    elif case == "cue after the end":
        srt.write_text('1\n00:00:04,000 --> 00:00:05,000\n{"sku": "SV-PACK"}\n')
        args.update({"--srt": str(srt), "--video": str(videos.short)})
    elif case == "not h264":
        mpeg4 = tmp_path / "mpeg4.mkv"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", videos.show, "-map", "0", "-c:v", "mpeg4", "-c:a", "copy",
             "-c:s", "srt", str(mpeg4)],
            check=True,
        )  # fmt: skip
        args["--video"] = str(mpeg4)
    elif case == "not a host":
        args["--user"] = member(event.organization, role=Membership.Role.MODERATOR).username
    elif case == "unknown user":
        args["--user"] = "nobody"

    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("stream_video", *[part for pair in args.items() for part in pair])
    assert not Highlight.objects.exists()


# stream_video: what happens to the event afterwards (an encoder that finishes at once) -----------


class FinishedEncoder:
    """Stands in for ffmpeg: the whole video was sent (progress=end) and it exited 0."""

    def __init__(self, command, *, secret):
        self.finished = threading.Event()
        self.finished.set()
        self.clock = prerecorded.MediaClock()
        self.returncode = 0
        self.errors: list[str] = []

    def close(self, *, wait_first: bool) -> None:
        pass


def test_stream_video_help_says_what_happens_to_the_event():
    from events.management.commands.stream_video import Command

    text = " ".join(Command().create_parser("manage.py", "stream_video").format_help().split())

    assert "stays open: streaming again makes it live again" in text
    assert "--end-event" in text and "end the event for good" in text


@pytest.mark.django_db(transaction=True)  # the command closes stale connections after a show
@pytest.mark.parametrize("end_event", [False, True])
def test_stream_video_ends_the_event_for_good_only_with_end_event(brand_show, videos, monkeypatch, end_event):
    event, _, _ = brand_show
    monkeypatch.setattr(show, "_Encoder", FinishedEncoder)
    out = io.StringIO()

    args = ["--end-event"] if end_event else []
    call_command("stream_video", "--event", event.slug, "--video", str(videos.short), *args, stdout=out)

    event.refresh_from_db()
    if end_event:
        assert event.ended_by_host_at is not None and event.status == LiveEvent.Status.ENDED
        assert "is ended for good" in out.getvalue()
    else:
        assert event.ended_by_host_at is None and event.status == LiveEvent.Status.SCHEDULED
        assert "stays open: stream again to go live again" in out.getvalue()


# stream_video end to end: nginx-rtmp, ffmpeg, uvicorn and a websocket viewer -------------------


class Viewer:
    """A websocket client on /ws/events/<id>/ noting when each product message arrives."""

    def __init__(self, base_url: str, event_id: int):
        from websockets.sync.client import connect

        self.messages: list[tuple[float, dict]] = []
        self._stack = contextlib.ExitStack()
        url = f"{base_url.replace('http', 'ws', 1)}/ws/events/{event_id}/"
        self.socket = self._stack.enter_context(connect(url, origin=base_url))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                frame = json.loads(self.socket.recv())
                if frame.get("type") in ("product_featured", "product_cleared"):
                    self.messages.append((time.monotonic(), frame))
        except ConnectionClosed:
            pass

    def products(self) -> list[tuple[float, int | None]]:
        return [(at, (frame.get("product") or {}).get("id")) for at, frame in self.messages]

    def close(self) -> None:
        self._stack.close()
        self.thread.join(timeout=5)


@pytest.fixture
def stack_show(live_stack, settings):  # noqa: F811 (live_stack is the imported fixture)
    """A local event with the test SKUs in its lineup, the stack's URL and media server, and a
    viewer connected to it."""
    base_url, server = live_stack
    settings.VIDEO_BACKEND = "local"
    get_video_backend.cache_clear()
    brand = OrganizationFactory()
    host = member(brand, role=Membership.Role.HOST)
    products = [ProductFactory(organization=brand, sku=sku, name=f"Product {sku}") for sku in SKUS]
    event = services.create_event(
        organization=brand, title="Pre-recorded", scheduled_start=timezone.now(), by=host, products=products
    )
    assert event.backend == "local" and event.has_channel
    viewer = Viewer(base_url, event.pk)
    yield {"event": event, "products": products, "host": host, "server": server, "viewer": viewer}
    viewer.close()


def command_env(server) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,  # the stored stream key is encrypted with it
        "VIDEO_BACKEND": "local",
        "LIVESHOP_MEDIA_SERVER_HOST": "127.0.0.1",
        "LIVESHOP_MEDIA_SERVER_RTMP_PORT": str(server.rtmp_port),
        "LIVESHOP_MEDIA_SERVER_HTTP_PORT": str(server.http_port),
        "LIVESHOP_MEDIA_SERVER_PUBLIC_URL": server.public_url,
        "LIVESHOP_MEDIA_SERVER_DIR": str(server.directory),
        "PYTHONUNBUFFERED": "1",
    }


def start_stream_video(show, *args: str, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "stream_video", "--event", show["event"].slug, *args],
            cwd=ROOT,
            env=command_env(show["server"]),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def ffmpeg_children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if name == "ffmpeg" and int(rest[1]) == pid:
            children.append(int(entry.name))
    return children


def gone(pid: int) -> bool:
    """No such process, not even a zombie."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "X"


def products_featured(viewer: Viewer) -> list[tuple[float, int]]:
    return [(at, product_id) for at, product_id in viewer.products() if product_id is not None]


def spacing(arrivals: list[float]) -> list[float]:
    return [round(at - arrivals[0], 3) for at in arrivals]


@pytest.mark.media
@pytest.mark.django_db(transaction=True)
def test_stream_video_features_each_cue_when_its_media_time_plays(stack_show, videos, tmp_path):
    viewer, event, products = stack_show["viewer"], stack_show["event"], stack_show["products"]
    log = tmp_path / "stream_video.log"

    process = start_stream_video(stack_show, "--video", str(videos.show), log=log)
    try:
        code = process.wait(timeout=DEADLINE + 12)
    finally:
        media.stop(process)
    output = log.read_text()
    assert code == 0, output

    featured = media.wait_for(
        lambda: (
            [m for m in viewer.products() if m[1] is not None][:3] if len(viewer.products()) >= 3 else None
        ),
        timeout=DEADLINE,
        what=f"three product messages\n{output}",
    )
    by_sku = {p.pk: p.sku for p in products}
    assert [by_sku[product_id] for _, product_id in featured] == [sku for _, sku in SHOW_CUES]
    expected = [at - SHOW_CUES[0][0] for at, _ in SHOW_CUES]
    print(f"cue spacing at the viewer {spacing([at for at, _ in featured])}, expected {expected}")
    assert spacing([at for at, _ in featured]) == pytest.approx(expected, abs=TOLERANCE), output
    # Each highlight is stamped with its cue's moment in the stream, from the media clock (the
    # live page's timing and the replay's cues), not with when the server got round to it.
    highlights = list(Highlight.objects.filter(event=event, product__isnull=False).order_by("id"))
    offsets = [h.offset_ms / 1000 for h in highlights]
    assert [h.cue_state for h in highlights] == [Highlight.CueState.SENT] * 3
    print(f"highlight offsets {offsets}\n{output}")
    assert offsets == pytest.approx([at for at, _ in SHOW_CUES], abs=0.05), output
    assert "featured Product SV-PACK (SRT line" in output
    # The video ended: the card came down with it.
    media.wait_for(lambda: viewer.products()[-1][1] is None, timeout=DEADLINE, what="product_cleared")
    assert "the product card was cleared" in output
    # The key is never printed: the shown ingest URL masks it.
    key = crypto.decrypt(LiveEvent.objects.get(pk=event.pk).stream_key_encrypted)
    assert key not in output and f"/live/{MASK}" in output


@pytest.mark.media
@pytest.mark.django_db(transaction=True)
def test_stream_video_loop_repeats_the_cues_and_sigterm_stops_it_cleanly(stack_show, videos, tmp_path):
    viewer, event, products = stack_show["viewer"], stack_show["event"], stack_show["products"]
    log = tmp_path / "stream_video.log"

    process = start_stream_video(stack_show, "--video", str(videos.short), "--loop", log=log)
    try:
        media.wait_for(
            lambda: (
                len([m for m in viewer.products() if m[1] is not None]) >= 5 or process.poll() is not None
            ),
            timeout=DEADLINE,
            what="two loops of cues",
        )
        assert process.poll() is None, log.read_text()
        encoders = ffmpeg_children(process.pid)
        assert len(encoders) == 1, log.read_text()

        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        media.stop(process)
    output = log.read_text()
    assert code == 0, output
    assert gone(encoders[0]), output

    featured = products_featured(viewer)
    by_sku = {p.pk: p.sku for p in products}
    skus = [by_sku[product_id] for _, product_id in featured]
    assert skus[:5] == ["SV-JACKET", "SV-FLEECE", "SV-JACKET", "SV-FLEECE", "SV-JACKET"]
    period = prerecorded.loop_period(prerecorded.probe(videos.short))
    starts = [start for start, _ in LOOP_CUES]
    expected = [start - starts[0] + loop * period for loop in range(3) for start in starts][:5]
    print(f"looped cue spacing {spacing([at for at, _ in featured[:5]])}, expected {expected}\n{output}")
    assert spacing([at for at, _ in featured[:5]]) == pytest.approx(expected, abs=TOLERANCE), output
    # Stopped cleanly: the card came down, and the event was not ended by its host.
    media.wait_for(lambda: viewer.products()[-1][1] is None, timeout=DEADLINE, what="product_cleared")
    assert Highlight.objects.filter(event=event).first().is_clear
    event.refresh_from_db()
    assert event.ended_by_host_at is None
    assert "Stopped after" in output


@pytest.mark.media
@pytest.mark.django_db(transaction=True)
def test_a_refused_ingest_is_a_command_error_with_ffmpegs_words_and_no_key(stack_show, videos, settings):
    event = stack_show["event"]
    server = stack_show["server"]
    settings.MEDIA_SERVER_RTMP_PORT, settings.MEDIA_SERVER_HTTP_PORT = server.rtmp_port, server.http_port
    # A key the media server does not know (as after a rotation elsewhere): nginx refuses it.
    wrong_key = "sk_not-this-events-key"
    LiveEvent.objects.filter(pk=event.pk).update(stream_key_encrypted=crypto.encrypt(wrong_key))

    with pytest.raises(CommandError) as error:
        call_command(
            "stream_video", "--event", event.slug, "--video", str(videos.short), stdout=io.StringIO()
        )

    message = str(error.value)
    assert "ffmpeg failed (exit code 1)" in message
    assert "Input/output error" in message and MASK in message
    assert wrong_key not in message
    assert not Highlight.objects.filter(event=event).exists()


@pytest.mark.django_db
def test_stream_video_names_an_event_by_brand_when_two_brands_share_its_slug():
    from events.management.commands.stream_video import Command
    from events.tests.factories import LiveEventFactory

    acme = LiveEventFactory(organization=OrganizationFactory(slug="acme"), slug="drop")
    globex = LiveEventFactory(organization=OrganizationFactory(slug="globex"), slug="drop")

    with pytest.raises(CommandError, match=r"Several brands .*\(acme/drop, globex/drop\)"):
        Command._event("drop")
    assert Command._event("globex/drop") == globex
    assert Command._event("acme/drop") == acme
    with pytest.raises(CommandError, match="No event with the slug “initech/drop”"):
        Command._event("initech/drop")
