import math
from datetime import UTC, datetime, timedelta

import pytest

from recordings.playlists import (
    PlaylistError,
    Timeline,
    bit_rates,
    parse_master,
    parse_media,
)

T0 = datetime(2024, 6, 23, 20, 12, 3, tzinfo=UTC)

MASTER = """#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,FRAME-RATE=30.000,CODECS="avc1.4D401F,mp4a.40.2",VIDEO="720p30"
720p30/playlist.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=230000,CODECS="mp4a.40.2"
audio_only/playlist.m3u8
"""

# Two streams merged by IVS: 0-20 s, then (after a 40 s gap and a discontinuity) 60-70 s.
MEDIA = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:10
#EXT-X-PROGRAM-DATE-TIME:2024-06-23T20:12:03.000Z
#EXTINF:10.000,
0.ts
#EXTINF:10.000,
1.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2024-06-23T20:13:03.000Z
#EXTINF:6.500,
2.ts
#EXT-X-PROGRAM-DATE-TIME:2024-06-23T20:13:09.500Z
#EXTINF:3.500,
3.ts
#EXT-X-ENDLIST
"""


def test_parse_master_lists_the_variants_in_order():
    video, audio = parse_master(MASTER)

    assert (video.uri, video.bandwidth, video.resolution, video.frame_rate) == (
        "720p30/playlist.m3u8",
        2_500_000,
        "1280x720",
        30.0,
    )
    assert video.codecs == "avc1.4D401F,mp4a.40.2"
    assert (audio.uri, audio.resolution, audio.frame_rate) == ("audio_only/playlist.m3u8", "", None)


def test_bit_rates_are_rfc_8216s_peak_and_average_segment_bit_rates():
    # 4 s segments of 2, 3 and 2 Mbit/s, then a 0.4 s one that is mostly a keyframe (10 Mbit/s).
    segments = [(1_000_000, 4000), (1_500_000, 4000), (1_000_000, 4000), (500_000, 400)]

    peak, average = bit_rates(segments, target_duration=4)

    assert average == math.ceil(4_000_000 * 8 / 12.4)  # every bit over the playlist's duration
    # The peak: the best run lasting 2-6 s; the short segment counts only with the one before it.
    assert peak == 3_000_000
    assert bit_rates([(500_000, 400)], target_duration=1) == (10_000_000, 10_000_000)  # no run: the average
    with pytest.raises(PlaylistError):
        bit_rates([], target_duration=4)


def test_parse_media_places_segments_and_carries_program_date_times():
    playlist = parse_media(MEDIA)

    assert [s.uri for s in playlist.segments] == ["0.ts", "1.ts", "2.ts", "3.ts"]
    assert [s.position_ms for s in playlist.segments] == [0, 10_000, 20_000, 26_500]
    assert playlist.segments[1].program_date_time == T0 + timedelta(seconds=10)  # carried on
    assert playlist.segments[2].discontinuity and not playlist.segments[3].discontinuity
    assert (playlist.duration_ms, playlist.target_duration, playlist.ended) == (30_000, 10, True)


@pytest.mark.parametrize(
    ("seconds", "position"),
    [
        (-5, 0),  # before the recording
        (0, 0),
        (12.25, 12_250),
        (25, 20_000),  # in the gap between the streams: the second stream's start
        (60, 20_000),
        (61.5, 21_500),
        (68, 28_000),
        (500, 30_000),  # after the end
    ],
)
def test_timeline_maps_wall_clock_to_replay_positions_across_gaps(seconds, position):
    timeline = Timeline(parse_media(MEDIA), started_at=T0, duration_ms=30_000)

    assert timeline.position_ms(T0 + timedelta(seconds=seconds)) == position


def test_timeline_without_program_date_times_counts_from_the_start():
    text = "\n".join(line for line in MEDIA.splitlines() if "PROGRAM-DATE-TIME" not in line)
    timeline = Timeline(parse_media(text), started_at=T0, duration_ms=30_000)

    assert timeline.position_ms(T0 + timedelta(seconds=25)) == 25_000
    assert timeline.position_ms(T0 + timedelta(seconds=99)) == 30_000


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_master, "", "no #EXTM3U header"),
        (parse_master, "#EXTM3U\n#EXT-X-VERSION:3\n", "lists no variant"),
        (parse_master, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=x\na.m3u8\n", "bad attribute"),
        (parse_media, "<html>", "no #EXTM3U header"),
        (parse_media, "#EXTM3U\n#EXT-X-ENDLIST\n", "has no segments"),
        (parse_media, "#EXTM3U\n0.ts\n", "has no #EXTINF"),
        (parse_media, "#EXTM3U\n#EXTINF:ten,\n0.ts\n", "bad #EXTINF"),
        (parse_media, "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:1,\n0.ts\n", "PROGRAM-DATE-TIME"),
    ],
)
def test_malformed_playlists_say_what_is_wrong(parse, text, message):
    with pytest.raises(PlaylistError, match=message):
        parse(text)
