import json
from datetime import UTC, datetime

import pytest

from recordings.exceptions import InvalidRecordingPrefix, MalformedRecording
from recordings.services.manifest import channel_id_of, parse_manifest, parse_prefix
from recordings.tests.recording_tree import RecordingSpec, metadata

ARN = "arn:aws:ivs:us-west-2:123456789012:channel/AsXego4U6tnj"
SPEC = RecordingSpec(channel_arn=ARN, started_at=datetime(2020, 6, 12, 12, 53, 26, tzinfo=UTC))


def test_parse_prefix_reads_the_channel_and_recording_ids():
    location = parse_prefix("/ivs/v1/123456789012/AsXego4U6tnj/2020/6/23/20/12/j8Z9O91ndcVs/")

    assert location.prefix == "ivs/v1/123456789012/AsXego4U6tnj/2020/6/23/20/12/j8Z9O91ndcVs"
    assert (location.account, location.channel_id, location.recording_id) == (
        "123456789012",
        "AsXego4U6tnj",
        "j8Z9O91ndcVs",
    )
    assert location.key("events/recording-ended.json").endswith("j8Z9O91ndcVs/events/recording-ended.json")


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "ivs/v1/123456789012/AsXego4U6tnj",
        "ivs/v1/1/c/2020/6/23/20/12/r/extra",
        "other/v1/1/c/2020/6/23/20/12/r",
    ],
)
def test_parse_prefix_refuses_anything_else(prefix):
    with pytest.raises(InvalidRecordingPrefix, match="not an IVS recording prefix"):
        parse_prefix(prefix)


def test_channel_id_of_an_arn():
    assert channel_id_of(ARN) == "AsXego4U6tnj"
    assert channel_id_of("AsXego4U6tnj") is None


def test_parse_manifest_of_an_ended_recording():
    manifest = parse_manifest(json.dumps(metadata(SPEC, "RECORDING_ENDED")).encode(), where="ended.json")

    assert not manifest.failed
    assert manifest.started_at == datetime(2020, 6, 12, 12, 53, 26, tzinfo=UTC)
    assert manifest.ended_at == SPEC.ended_at
    assert manifest.duration_ms == SPEC.duration_ms
    assert manifest.master_key == "media/hls/master.m3u8"
    assert [r.path for r in manifest.renditions] == ["720p30", "480p30", "360p30", "160p30"]
    assert manifest.rendition_key(manifest.renditions[0]) == "media/hls/720p30/playlist.m3u8"
    assert (manifest.renditions[0].width, manifest.renditions[0].height) == (1280, 720)
    assert manifest.thumbnails_path == "media/thumbnails"
    assert manifest.latest_thumbnail == "media/latest_thumbnail/thumb.jpg"


def test_parse_manifest_of_a_failed_recording_needs_no_media():
    document = {
        "version": "v1",
        "channel_arn": ARN,
        "recording_started_at": "2020-06-12T12:53:26Z",
        "recording_status": "RECORDING_ENDED_WITH_FAILURE",
        "recording_status_message": "InternalServerException",
    }

    manifest = parse_manifest(json.dumps(document).encode(), where="failed.json")

    assert manifest.failed
    assert manifest.failure_reason == (
        "IVS ended the recording with a failure (RECORDING_ENDED_WITH_FAILURE): InternalServerException"
    )


def _broken(change) -> bytes:
    document = metadata(SPEC, "RECORDING_ENDED")
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (_broken(lambda d: d.pop("recording_started_at")), "recording_started_at is missing"),
        (_broken(lambda d: d.update(recording_started_at="June 12")), "not an RFC 3339 UTC time"),
        (_broken(lambda d: d.update(recording_started_at="2020-06-12T12:53:26")), "not an RFC 3339 UTC time"),
        (_broken(lambda d: d.update(recording_status="RECORDING_STARTED")), "not an ended recording"),
        (_broken(lambda d: d["media"]["hls"].update(duration_ms="long")), "duration_ms must be an integer"),
        (_broken(lambda d: d["media"]["hls"].update(renditions=[])), "must be a non-empty list"),
        (_broken(lambda d: d["media"]["hls"].update(path="../../other")), "is not a relative path"),
        (_broken(lambda d: d["media"]["hls"]["renditions"][1].pop("playlist")), r"renditions\[1\]: playlist"),
    ],
)
def test_parse_manifest_names_what_is_wrong(data, message):
    with pytest.raises(MalformedRecording, match=message):
        parse_manifest(data, where="recording-ended.json")
