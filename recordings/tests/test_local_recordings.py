"""Local media server recordings: real ffmpeg makes an FLV as nginx-rtmp records it, the converter
writes IVS's layout, and the one ingestion service makes it a replay in a FileSystemStorage (as in
local mode). Skipped where ffmpeg is missing; marked "media" with the other ffmpeg/nginx tests."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from catalog.tests.factories import ProductFactory
from events.models import Highlight
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from liveshop.media import ffmpeg
from recordings.models import ProductCue, Recording
from recordings.playlists import parse_master, parse_media
from recordings.services.ingest import LOCAL_SOURCE, local_recordings_root
from recordings.services.local import ConversionFailed, ingest_local_recording
from recordings.services.manifest import parse_manifest, parse_prefix
from recordings.services.product_cues import LATE_CUE_MS
from recordings.tests.conftest import highlight
from tests import media

pytestmark = [pytest.mark.media, pytest.mark.django_db]

CHANNEL = "ch_0123456789abcdef0123"
STREAM_ID = "st-LocalRecording0000000001"
RECORDED_AT = datetime(2024, 6, 23, 20, 12, 3, tzinfo=UTC)
SESSION_START = RECORDED_AT + timedelta(milliseconds=400)  # on_publish comes just before the file
SECONDS = 6
# The test pattern as an encoder sends it (tests/media.py), in 4:2:0 as browsers need.
SOURCE = [a for a in media.FFMPEG_TEST_SOURCE if a != "-re"] + ["-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def flv_source(tmp_path_factory) -> Path:
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    path = tmp_path_factory.mktemp("flv") / "source.flv"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *SOURCE, "-t", str(SECONDS), "-f", "flv",
         str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture
def local_mode(settings, tmp_path):
    """The media server's folder and a FileSystemStorage for "recordings", as in local mode."""
    settings.MEDIA_SERVER_DIR = tmp_path / "media-server"
    settings.RECORDINGS_CDN_PREFIX = "replays"
    settings.AWS_RECORDINGS_BUCKET_NAME = ""
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media" / "recordings", "base_url": "/media/recordings/"},
        },
    }
    (settings.MEDIA_SERVER_DIR / "rec").mkdir(parents=True)
    return settings.MEDIA_SERVER_DIR


@pytest.fixture
def show(db):
    event = LiveEventFactory(backend="local", channel_id=CHANNEL)
    product = ProductFactory(organization=event.organization)
    session = StreamSessionFactory(
        event=event,
        stream_id=STREAM_ID,
        started_at=SESSION_START,
        ended_at=SESSION_START + timedelta(seconds=6),
    )
    return event, product, session


def recorded(local_mode, flv_source, at: datetime = RECORDED_AT) -> Path:
    """The FLV as on_record_done leaves it: rec/<channel id>-<unix time>.flv."""
    path = local_mode / "rec" / f"{CHANNEL}-{int(at.timestamp())}.flv"
    shutil.copyfile(flv_source, path)
    return path


def ffprobe_duration(path: Path) -> float:
    output = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = json.loads(output)
    assert {s["codec_name"] for s in info["streams"]} == {"h264", "aac"}
    return float(info["format"]["duration"])


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_local_recording_becomes_a_ready_replay_with_its_cue(local_mode, flv_source, show):
    event, product, session = show
    highlight(event, product, SESSION_START + timedelta(seconds=3.2))
    flv = recorded(local_mode, flv_source)

    recording = ingest_local_recording(flv=flv, stream_id=STREAM_ID)

    assert recording.status == Recording.Status.READY, recording.failure_reason
    assert (recording.backend, recording.source_bucket) == ("local", LOCAL_SOURCE)
    assert recording.event == event and list(recording.sessions.all()) == [session]
    assert recording.stream_ids == [STREAM_ID]
    assert recording.started_at == SESSION_START
    assert abs(recording.duration_ms - SECONDS * 1000) <= 300
    assert recording.ended_at == SESSION_START + timedelta(milliseconds=recording.duration_ms)
    [rendition] = recording.renditions
    assert rendition | {"bandwidth": None, "duration_ms": None} == {
        "name": "360p30",
        "resolution": "640x360",
        "width": 640,
        "height": 360,
        "bandwidth": None,
        "codecs": "avc1.64001E,mp4a.40.2",
        "frame_rate": 30.0,
        "duration_ms": None,
        "playlist": f"{recording.cdn_prefix}/media/hls/360p30/playlist.m3u8",
    }
    assert rendition["bandwidth"] > 0
    replays = storages["recordings"]
    assert recording.master_url == f"/media/recordings/{recording.master_path}"
    assert recording.thumbnails == [f"{recording.cdn_prefix}/media/thumbnails/360p30/thumb0.jpg"]
    assert replays.open(recording.thumbnails[0]).read(3) == b"\xff\xd8\xff"  # a JPEG
    assert abs(ffprobe_duration(Path(replays.path(recording.master_path))) - SECONDS) < 0.5
    [cue] = recording.cues.all()
    assert cue.product == product and abs(cue.start_ms - 3_200) <= 1_000 and cue.end_ms is None


def stamped(event, product, session, ms: int) -> Highlight:
    """A highlight of the session stamped ``ms`` into it (by the wall clock: made then too)."""
    at = session.started_at + timedelta(milliseconds=ms)
    made = Highlight.objects.create(event=event, product=product, session=session, offset_ms=ms)
    Highlight.objects.filter(pk=made.pk).update(created_at=at)
    made.refresh_from_db()
    return made


def test_a_recording_shorter_than_its_wall_clock_keeps_its_late_highlight_clamped(
    local_mode, flv_source, show, caplog, client
):
    """The encoder sent 6 s of video in a 10 s session (slower than real time); a highlight
    stamped 9 s in by the wall clock falls after the recording's end: kept, at the end, said."""
    from django.urls import reverse

    from accounts.tests.factories import member
    from recordings.payloads import media_time
    from recordings.selectors import list_event_recordings

    event, product, session = show
    session.ended_at = SESSION_START + timedelta(seconds=10)
    session.save()
    late_product = ProductFactory(organization=event.organization, name="Trail Beanie")
    stamped(event, product, session, 2_000)
    late = stamped(event, late_product, session, 9_000)

    with caplog.at_level(logging.WARNING, logger="recordings.services.product_cues"):
        recording = ingest_local_recording(flv=recorded(local_mode, flv_source), stream_id=STREAM_ID)

    assert recording.status == Recording.Status.READY and abs(recording.duration_ms - SECONDS * 1000) <= 300
    on_time, clamped = recording.cues.order_by("start_ms")
    assert (
        on_time.product == product
        and on_time.clamped_from_ms is None
        and abs(on_time.start_ms - 2_000) <= 1_000
    )
    assert (clamped.product, clamped.highlight) == (late_product, late)
    assert clamped.start_ms == recording.duration_ms - LATE_CUE_MS and clamped.end_ms is None
    assert on_time.end_ms == clamped.start_ms and abs(clamped.clamped_from_ms - 9_000) <= 1_000
    [warning] = [r for r in caplog.records if "after the end of its recording" in r.getMessage()]
    assert (warning.levelno, warning.recording_id, warning.highlight_id) == (
        logging.WARNING,
        recording.pk,
        late.pk,
    )
    # The studio says so: on the recording's timeline page and in the event's recordings.
    client.force_login(member(event.organization))
    page = client.get(reverse("videos:detail", args=[recording.pk])).content.decode()
    assert "Highlights after the end of the recording" in page
    shown = media_time(clamped.start_ms)
    assert f"<strong>Trail Beanie</strong>: featured at 0:09 of the stream, shown from {shown}" in page
    assert list_event_recordings(event).get().late_cues == 1
    # Ingesting again keeps the one set of cues (the clamped one upserted, not doubled).
    again = ingest_local_recording(flv=recorded(local_mode, flv_source), stream_id=STREAM_ID, force=True)
    assert (
        again.cues.count() == 2 and again.cues.filter(clamped_from_ms__isnull=False).get().highlight == late
    )


def test_the_conversion_writes_the_layout_ivs_writes(local_mode, flv_source, show):
    recording = ingest_local_recording(flv=recorded(local_mode, flv_source), stream_id=STREAM_ID)

    folder = local_recordings_root() / recording.source_prefix
    location = parse_prefix(recording.source_prefix)
    assert (location.account, location.channel_id) == ("local", CHANNEL)
    assert recording.source_prefix.startswith(f"ivs/v1/local/{CHANNEL}/2024/6/23/20/12/")
    assert {"events/recording-started.json", "events/recording-ended.json", "media/hls/master.m3u8",
            "media/hls/360p30/playlist.m3u8", "media/hls/360p30/0.ts",
            "media/thumbnails/360p30/thumb0.jpg"} <= set(files_under(folder))  # fmt: skip
    manifest = parse_manifest((folder / "events/recording-ended.json").read_bytes(), where="ended")
    assert manifest.channel_arn.endswith(f":channel/{CHANNEL}") and not manifest.failed
    assert manifest.started_at == SESSION_START
    [variant] = parse_master((folder / "media/hls/master.m3u8").read_text())
    assert (variant.uri, variant.resolution) == ("360p30/playlist.m3u8", "640x360")
    playlist = parse_media((folder / "media/hls/360p30/playlist.m3u8").read_text())
    assert playlist.ended and len(playlist.segments) >= 2
    assert [s.program_date_time for s in playlist.segments] == [
        SESSION_START + timedelta(milliseconds=s.position_ms) for s in playlist.segments
    ]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no scratch left


def test_running_twice_gives_one_recording_and_one_cue_set(local_mode, flv_source, show):
    event, product, _ = show
    highlight(event, product, SESSION_START + timedelta(seconds=2))
    flv = recorded(local_mode, flv_source)

    first = ingest_local_recording(flv=flv, stream_id=STREAM_ID)
    again = ingest_local_recording(flv=flv, stream_id=STREAM_ID)
    forced = ingest_local_recording(flv=flv, stream_id=STREAM_ID, force=True)

    assert first.pk == again.pk == forced.pk and forced.status == Recording.Status.READY
    assert Recording.objects.count() == 1 and ProductCue.objects.count() == 1
    assert forced.objects_copied == first.objects_copied


def test_a_garbage_flv_fails_the_recording_with_the_reason_and_writes_nothing(local_mode, flv_source, show):
    flv = local_mode / "rec" / f"{CHANNEL}-{int(RECORDED_AT.timestamp())}.flv"
    flv.write_bytes(b"FLV\x01\x05" + bytes(range(256)) * 20)

    with pytest.raises(ConversionFailed, match=f"ffprobe could not read {flv.name}"):
        ingest_local_recording(flv=flv, stream_id=STREAM_ID)

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED and recording.backend == "local"
    assert f"ffprobe could not read {flv.name}" in recording.failure_reason
    assert files_under(local_recordings_root()) == []
    assert files_under(Path(storages["recordings"].location)) == []

    shutil.copyfile(flv_source, flv)  # the file is fixed: the same recording becomes ready
    assert ingest_local_recording(flv=flv, stream_id=STREAM_ID).status == Recording.Status.READY
    assert Recording.objects.count() == 1


def test_a_truncated_flv_gives_the_replay_of_what_was_recorded(local_mode, flv_source, show):
    flv = recorded(local_mode, flv_source)
    flv.write_bytes(flv.read_bytes()[: flv.stat().st_size // 2])

    recording = ingest_local_recording(flv=flv, stream_id=STREAM_ID)

    assert recording.status == Recording.Status.READY
    assert 1_000 < recording.duration_ms < SECONDS * 1000 - 1_000


def test_without_ffmpeg_the_recording_fails_with_the_reason(local_mode, flv_source, show, monkeypatch):
    monkeypatch.setattr(ffmpeg, "FFPROBE", "ffprobe-not-installed-here")

    with pytest.raises(ConversionFailed, match="is not installed"):
        ingest_local_recording(flv=recorded(local_mode, flv_source), stream_id=STREAM_ID)

    assert "ffprobe-not-installed-here is not installed" in Recording.objects.get().failure_reason
    assert files_under(local_recordings_root()) == []


def test_a_file_not_named_by_the_media_server_is_refused(local_mode, flv_source, show):
    other = local_mode / "rec" / "holiday-video.flv"
    shutil.copyfile(flv_source, other)

    with pytest.raises(ConversionFailed, match="not a recording of the local media server"):
        ingest_local_recording(flv=other)
    assert not Recording.objects.exists()


def test_without_a_stream_id_the_session_is_found_by_its_start(local_mode, flv_source, show):
    _, _, session = show

    recording = ingest_local_recording(flv=recorded(local_mode, flv_source))

    assert recording.started_at == SESSION_START and list(recording.sessions.all()) == [session]


def test_the_command_ingests_a_local_file(local_mode, flv_source, show):
    flv = recorded(local_mode, flv_source)
    out = StringIO()

    call_command("ingest_recording", "--local-file", str(flv), stdout=out, stderr=StringIO())

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY
    assert f"Recording {recording.pk} of “{show[0]}” is ready" in out.getvalue()
    out = StringIO()
    call_command("ingest_recording", "--bucket", "local", "--prefix", recording.source_prefix, stdout=out)
    assert "already ingested" in out.getvalue()


def test_the_command_fails_clearly_on_a_garbage_file(local_mode, show):
    flv = local_mode / "rec" / f"{CHANNEL}-{int(RECORDED_AT.timestamp())}.flv"
    flv.write_bytes(b"not a video")

    with pytest.raises(CommandError, match="ffprobe could not read"):
        call_command("ingest_recording", "--local-file", str(flv), stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "ingest_recording",
            "--local-file",
            str(flv.with_name(f"{CHANNEL}-1700000000.flv")),
            stdout=StringIO(),
        )


# Wiring: nginx's on_record_done queues the conversion and ingestion (eager Celery in tests).

KEY = "sk_the-secret-stream-key-0123456789"


def test_on_record_done_converts_and_ingests_the_recording(
    local_mode, flv_source, show, client, settings, django_capture_on_commit_callbacks
):
    from urllib.parse import urlencode

    from django.urls import reverse

    from liveshop import crypto
    from liveshop.video import local as local_video

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    event, product, _ = show
    event.stream_key_encrypted, event.stream_key_digest = crypto.encrypt(KEY), crypto.digest(KEY)
    event.save()
    local_video.remember_publisher("7", local_video.Publisher(CHANNEL, STREAM_ID, crypto.digest(KEY)))
    highlight(event, product, SESSION_START + timedelta(seconds=4))
    nginx_file = local_mode / "rec" / f"{KEY}-{int(RECORDED_AT.timestamp())}.flv"
    shutil.copyfile(flv_source, nginx_file)
    query = urlencode({"rtmp_port": 1935})
    body = {"app": "live", "name": KEY, "clientid": "7", "call": "record_done", "path": str(nginx_file)}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{reverse('events:media-on-record-done')}?{query}",
            data=urlencode(body),
            content_type="application/x-www-form-urlencoded",
            headers={local_video.CALLBACK_HEADER: local_video.callback_secret()},
        )

    assert response.status_code == 200
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY and recording.backend == "local"
    assert recording.stream_ids == [STREAM_ID]
    [cue] = recording.cues.all()
    assert abs(cue.start_ms - 4_000) <= 1_000
    assert not [p for p in local_mode.rglob("*") if KEY in str(p)]


# End to end through the real media server: publish, stop, and the replay is ready.


# ``media_server``: the run's shared one (the root conftest), calling back the live server.


@pytest.mark.django_db(transaction=True)
def test_a_show_streamed_to_the_media_server_becomes_a_ready_replay(media_server, settings, tmp_path):
    from django.utils import timezone

    from accounts.tests.factories import OrganizationFactory, member
    from events import services as event_services
    from liveshop import crypto
    from liveshop.video import get_video_backend

    media_server.use_in(settings, recordings=tmp_path / "recordings")
    host = member(OrganizationFactory())
    organization = host.memberships.get().organization
    product = ProductFactory(organization=organization)
    event = event_services.create_event(
        organization=organization,
        title="Replay show",
        scheduled_start=timezone.now(),
        by=host,
        products=[product],
    )
    ffmpeg = media.publish(media_server.ingest(crypto.decrypt(event.stream_key_encrypted)), seconds=8,
                           extra=("-pix_fmt", "yuv420p"))  # fmt: skip
    try:
        session = media.wait_for(
            lambda: event.sessions.filter(started_at__isnull=False).first(),
            what=f"the event to go live\n{media_server.output()}",
        )
        media.wait_for(
            lambda: timezone.now() - session.started_at > timedelta(seconds=3), what="3 s of stream"
        )
        featured = event_services.feature_product(event=event, product=product, by=host)
        assert ffmpeg.wait(timeout=60) == 0, ffmpeg.stderr.read()
    finally:
        media.stop(ffmpeg)
        get_video_backend.cache_clear()

    recording = media.wait_for(
        lambda: Recording.objects.filter(event=event, status__in=["ready", "failed"]).first(),
        timeout=90,
        what=f"the recording to be ingested\n{media_server.output()}",
    )
    assert recording.status == Recording.Status.READY, recording.failure_reason
    assert recording.backend == "local" and recording.stream_ids == [session.stream_id]
    assert 6_000 <= recording.duration_ms <= 9_500
    assert recording.renditions[0]["resolution"] == "640x360" and recording.thumbnails
    master = Path(storages["recordings"].path(recording.master_path))
    assert abs(ffprobe_duration(master) - recording.duration_ms / 1000) < 0.5
    [cue] = recording.cues.all()
    expected = (featured.created_at - recording.started_at).total_seconds() * 1000
    assert cue.product == product and abs(cue.start_ms - expected) <= 1_000


@pytest.mark.django_db(transaction=True)
def test_a_slow_encoders_click_is_stamped_with_its_media_time_and_lands_in_the_replay(
    media_server, settings, tmp_path
):
    """An encoder at half real time: 6 s of video take 12 s. A click 8 s after the stream began is
    stamped with the media time nginx-rtmp reports (~4 s), which is where the replay shows it; the
    wall clock's 8 s would be after the replay's end."""
    from django.utils import timezone

    from accounts.tests.factories import OrganizationFactory, member
    from events import services as event_services
    from liveshop import crypto
    from liveshop.video import get_video_backend

    media_server.use_in(settings, recordings=tmp_path / "recordings")
    host = member(OrganizationFactory())
    organization = host.memberships.get().organization
    product = ProductFactory(organization=organization)
    event = event_services.create_event(
        organization=organization,
        title="Slow show",
        scheduled_start=timezone.now(),
        by=host,
        products=[product],
    )
    slow = ["-readrate", "0.5"] + [a for a in media.FFMPEG_TEST_SOURCE if a != "-re"]
    ffmpeg = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *slow, "-pix_fmt", "yuv420p", "-t", "6",
         "-f", "flv", media_server.ingest(crypto.decrypt(event.stream_key_encrypted))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        session = media.wait_for(
            lambda: event.sessions.filter(started_at__isnull=False).first(),
            what=f"the event to go live\n{media_server.output()}",
        )
        media.wait_for(
            lambda: timezone.now() - session.started_at > timedelta(seconds=8), what="8 s of stream"
        )
        event.refresh_from_db()
        featured = event_services.feature_product(event=event, product=product, by=host)
        wall_ms = (featured.created_at - session.started_at).total_seconds() * 1000
        assert ffmpeg.wait(timeout=60) == 0, ffmpeg.stderr.read()
    finally:
        media.stop(ffmpeg)
        get_video_backend.cache_clear()

    assert 2_000 <= featured.offset_ms <= wall_ms - 2_500, (featured.offset_ms, wall_ms)  # media, not wall
    recording = media.wait_for(
        lambda: Recording.objects.filter(event=event, status__in=["ready", "failed"]).first(),
        timeout=90,
        what=f"the recording to be ingested\n{media_server.output()}",
    )
    assert recording.status == Recording.Status.READY, recording.failure_reason
    assert 5_000 <= recording.duration_ms <= 7_500 and wall_ms > recording.duration_ms
    [cue] = recording.cues.all()
    assert cue.product == product and cue.clamped_from_ms is None
    assert abs(cue.start_ms - featured.offset_ms) <= 1_000
