"""Reconnects in local recordings, merged as IVS merges them (shared/reference/ivs.md, 4.4): a
stream that starts within the recording reconnect window of the previous one's end is recorded
into the same recording session, so its FLV and the one before become one replay."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.storage import storages

from catalog.tests.factories import ProductFactory
from events.models import StreamSession
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from recordings.models import Recording
from recordings.playlists import MediaPlaylist, Segment, parse_media
from recordings.services.ingest import local_recordings_root
from recordings.services.local import (
    ingest_local_recording,
    joined_playlist,
    recording_parts,
    recording_sessions,
)
from recordings.tests.conftest import highlight
from recordings.tests.test_local_recordings import (  # noqa: F401 (fixtures)
    CHANNEL,
    SECONDS,
    flv_source,
    local_mode,
    recorded,
)

T0 = datetime(2024, 6, 23, 20, 12, 3, 400_000, tzinfo=UTC)


def session(start_s: float, end_s: float | None, pk: int) -> StreamSession:
    end = T0 + timedelta(seconds=end_s) if end_s is not None else None
    return StreamSession(
        pk=pk, stream_id=f"st-{pk}", started_at=T0 + timedelta(seconds=start_s), ended_at=end
    )


def ids(groups) -> list[list[int]]:
    return [[s.pk for s in group] for group in groups]


def test_a_stream_back_within_the_window_joins_the_recording_before(settings):
    settings.MEDIA_SERVER_RECORDING_RECONNECT_WINDOW = 60
    sessions = [session(0, 10, 1), session(70, 80, 2), session(141, 150, 3)]  # gaps 60 s, 61 s

    assert ids(recording_sessions(sessions)) == [[1, 2], [3]]


def test_without_a_window_every_stream_is_its_own_recording(settings):
    settings.MEDIA_SERVER_RECORDING_RECONNECT_WINDOW = 0

    assert ids(recording_sessions([session(0, 10, 1), session(11, 20, 2)])) == [[1], [2]]


def test_a_stream_that_starts_while_the_one_before_is_open_joins_it(settings):
    settings.MEDIA_SERVER_RECORDING_RECONNECT_WINDOW = 60

    assert ids(recording_sessions([session(5, None, 2), session(0, None, 1)])) == [[1, 2]]


def test_a_recording_session_holds_twenty_streams_at_most(settings):
    settings.MEDIA_SERVER_RECORDING_RECONNECT_WINDOW = 60
    sessions = [session(10 * n, 10 * n + 9, n + 1) for n in range(21)]

    assert [len(group) for group in recording_sessions(sessions)] == [20, 1]


def test_the_joined_playlist_places_each_part_at_its_own_time():
    def playlist(*durations_ms: int) -> MediaPlaylist:
        positions = [sum(durations_ms[:i]) for i in range(len(durations_ms))]
        pairs = enumerate(zip(positions, durations_ms, strict=True))
        segments = [Segment(f"{i}.ts", p, d, None, False) for i, (p, d) in pairs]
        return MediaPlaylist(tuple(segments), 4, True)

    text = joined_playlist([(playlist(4000, 2500), T0), (playlist(4000), T0 + timedelta(seconds=40))])

    joined = parse_media(text)
    assert joined.ended and joined.target_duration == 4 and "#EXT-X-PLAYLIST-TYPE:VOD" in text
    assert [(s.position_ms, s.discontinuity) for s in joined.segments] == [
        (0, False),
        (4000, False),
        (6500, True),
    ]
    assert [s.program_date_time - T0 for s in joined.segments] == [
        timedelta(0), timedelta(seconds=4), timedelta(seconds=40)
    ]  # fmt: skip


@pytest.fixture
def reconnected(db, settings):
    """A show whose encoder dropped after its first SECONDS and came back 20 s later."""
    settings.MEDIA_SERVER_RECORDING_RECONNECT_WINDOW = 60
    event = LiveEventFactory(backend="local", channel_id=CHANNEL)
    product, other = ProductFactory.create_batch(2, organization=event.organization)
    first = StreamSessionFactory(
        event=event, stream_id="st-First", started_at=T0, ended_at=T0 + timedelta(seconds=SECONDS)
    )
    again = T0 + timedelta(seconds=SECONDS + 20)
    second = StreamSessionFactory(
        event=event, stream_id="st-Second", started_at=again, ended_at=again + timedelta(seconds=SECONDS)
    )
    highlight(event, product, T0 + timedelta(seconds=2))
    highlight(event, other, again + timedelta(seconds=3))
    return event, first, second, (product, other)


def part_file(local_mode, flv_source, stream: StreamSession) -> Path:  # noqa: F811
    return recorded(local_mode, flv_source, at=stream.started_at.replace(microsecond=0))


def test_both_parts_of_a_reconnect_become_one_replay_that_grows(local_mode, flv_source, reconnected):  # noqa: F811
    _, first, second, (product, other) = reconnected
    one = ingest_local_recording(flv=part_file(local_mode, flv_source, first), stream_id=first.stream_id)
    assert one.status == Recording.Status.READY and one.stream_ids == ["st-First"]
    part_1_ms = one.duration_ms

    both = ingest_local_recording(flv=part_file(local_mode, flv_source, second), stream_id=second.stream_id)

    assert both.pk == one.pk and Recording.objects.count() == 1
    assert both.status == Recording.Status.READY, both.failure_reason
    assert both.stream_ids == ["st-First", "st-Second"] and both.session_id == "rs-First"
    assert set(both.sessions.all()) == {first, second}
    assert abs(both.duration_ms - 2 * SECONDS * 1000) <= 600
    assert both.started_at == T0 and both.ended_at == second.started_at + timedelta(milliseconds=part_1_ms)
    playlist = parse_media(Path(storages["recordings"].path(both.renditions[0]["playlist"])).read_text())
    [boundary] = [s for s in playlist.segments if s.discontinuity]
    assert boundary.position_ms == part_1_ms and boundary.program_date_time == second.started_at.replace(
        microsecond=second.started_at.microsecond // 1000 * 1000
    )
    assert playlist.segments[0].uri == "0.ts"  # part 1's segments keep their names
    # Where each stream starts in the video, kept for the chat replay (chat.replay.ReplayClock).
    assert both.session_positions == {str(first.pk): 0, str(second.pk): part_1_ms}
    cues = {cue.product_id: cue for cue in both.cues.all()}
    assert abs(cues[product.pk].start_ms - 2_000) <= 100
    assert abs(cues[other.pk].start_ms - (part_1_ms + 3_000)) <= 100
    assert len(both.thumbnails) == 2
    assert decoded_frames(Path(storages["recordings"].path(both.master_path))) == 2 * SECONDS * 30


def decoded_frames(playlist: Path) -> int:
    """How many video frames ffmpeg decodes playing ``playlist`` through (both parts)."""
    output = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(playlist)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(output.strip().splitlines()[0])


def test_a_stream_back_after_the_window_is_a_recording_of_its_own(
    settings,
    local_mode,  # noqa: F811
    flv_source,  # noqa: F811
    reconnected,
):
    settings.MEDIA_SERVER_RECORDING_RECONNECT_WINDOW = 10
    _, first, second, _ = reconnected
    for stream in (first, second):
        ingest_local_recording(flv=part_file(local_mode, flv_source, stream), stream_id=stream.stream_id)

    assert sorted(r.stream_ids for r in Recording.objects.all()) == [["st-First"], ["st-Second"]]
    assert len(list(local_recordings_root().glob(f"ivs/v1/local/{CHANNEL}/*/*/*/*/*/*"))) == 2


def test_a_part_still_being_recorded_waits(local_mode, flv_source, reconnected):  # noqa: F811
    event, first, second, _ = reconnected
    second.ended_at = None
    second.save()
    flv = part_file(local_mode, flv_source, first)
    part_file(local_mode, flv_source, second)

    from recordings.services.local import parse_local_recording

    parts = recording_parts(event, parse_local_recording(flv), stream_id=first.stream_id)

    assert [part.stream_id for part in parts] == ["st-First"]


@pytest.fixture(scope="module")
def smaller_flv(flv_source, tmp_path_factory) -> Path:  # noqa: F811
    """The test pattern at half the size: an encoder that came back with other settings."""
    path = tmp_path_factory.mktemp("smaller") / "smaller.flv"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(flv_source),
         "-vf", "scale=320:180", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30",
         "-c:a", "copy", "-f", "flv", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_a_stream_back_with_another_picture_size_is_a_recording_of_its_own(
    local_mode,  # noqa: F811
    flv_source,  # noqa: F811
    smaller_flv,
    reconnected,
):
    _, first, second, _ = reconnected
    ingest_local_recording(flv=part_file(local_mode, flv_source, first), stream_id=first.stream_id)
    changed = part_file(local_mode, smaller_flv, second)

    recording = ingest_local_recording(flv=changed, stream_id=second.stream_id)

    assert recording.stream_ids == ["st-Second"] and recording.renditions[0]["resolution"] == "320x180"
    assert sorted(r.stream_ids for r in Recording.objects.all()) == [["st-First"], ["st-Second"]]
