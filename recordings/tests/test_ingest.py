import json
import re

import pytest
from botocore.exceptions import ClientError

from events.tests.factories import StreamSessionFactory
from recordings import exceptions
from recordings.models import ProductCue, Recording
from recordings.services import ingest_recording
from recordings.tests.conftest import CDN, CHANNEL_ARN, SOURCE, at, highlight
from recordings.tests.recording_tree import RecordingSpec, write_recording

pytestmark = pytest.mark.django_db


def replay_prefix(event) -> str:
    """Where the event's recording was copied: a random key under RECORDINGS_CDN_PREFIX."""
    prefix = Recording.objects.get(event=event).cdn_prefix
    assert re.fullmatch(r"replays/[0-9a-f]{32}", prefix)
    return prefix


def listed(s3, bucket, prefix) -> dict[str, dict]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o for page in pages for o in page.get("Contents", ())}


def cue_rows(recording):
    return [(c.product_id, c.start_ms, c.end_ms) for c in recording.cues.order_by("start_ms")]


def test_ingest_recording_copies_the_prefix_and_stores_the_replay(s3, spec, recording_tree, show, highlights):
    event, (a, b) = show

    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    media = {k: v for k, v in recording_tree.items() if not k.startswith("events/")}
    copied = listed(s3, CDN, replay_prefix(event) + "/")
    assert set(copied) == {f"{replay_prefix(event)}/{k}" for k in media}
    assert recording.status == Recording.Status.READY
    assert recording.event == event
    assert (recording.source_bucket, recording.source_prefix) == (SOURCE, spec.prefix)
    assert recording.duration_ms == 360_000
    assert (recording.started_at, recording.ended_at) == (spec.started_at, spec.ended_at)
    assert [r["name"] for r in recording.renditions] == ["720p30", "480p30", "360p30", "160p30"]
    assert recording.renditions[0] | {"codecs": None} == {
        "name": "720p30",
        "resolution": "1280x720",
        "width": 1280,
        "height": 720,
        "bandwidth": 2_500_000,
        "codecs": None,
        "frame_rate": 30.0,
        "duration_ms": 360_000,
        "playlist": f"{replay_prefix(event)}/media/hls/720p30/playlist.m3u8",
    }
    assert recording.master_path == f"{replay_prefix(event)}/media/hls/master.m3u8"
    assert recording.master_url == f"/media/{replay_prefix(event)}/media/hls/master.m3u8"
    assert recording.thumbnails == [f"{replay_prefix(event)}/media/thumbnails/thumb{i}.jpg" for i in range(6)]
    assert recording.objects_copied == len(media)
    assert recording.bytes_copied == sum(len(body) for body in media.values())
    assert list(recording.sessions.values_list("stream_id", flat=True)) == ["st-1A2b3c4D5e6F78ghij9Klmn"]
    assert cue_rows(recording) == [(a.pk, 30_000, 95_500), (b.pk, 95_500, 150_000), (a.pk, 200_000, None)]
    assert [c.highlight for c in recording.cues.order_by("start_ms")] == [
        highlights[1],
        highlights[2],
        highlights[4],
    ]


def test_copies_carry_content_type_and_cache_control(s3, spec, recording_tree, show):
    event, _ = show
    ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    def head(path):
        response = s3.head_object(Bucket=CDN, Key=f"{replay_prefix(event)}/{path}")
        return response["ContentType"], response["CacheControl"]

    immutable = "public, max-age=31536000, immutable"
    assert head("media/hls/720p30/0.ts") == ("video/mp2t", immutable)
    assert head("media/hls/720p30/playlist.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=300")
    assert head("media/hls/master.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=300")
    assert head("media/thumbnails/thumb3.jpg") == ("image/jpeg", immutable)
    assert head("media/latest_thumbnail/thumb.jpg") == ("image/jpeg", "public, max-age=300")
    body = s3.get_object(Bucket=CDN, Key=f"{replay_prefix(event)}/media/hls/360p30/7.ts")["Body"].read()
    assert body == s3.get_object(Bucket=SOURCE, Key=f"{spec.prefix}/media/hls/360p30/7.ts")["Body"].read()


def test_master_url_is_served_by_the_recordings_storage(s3, spec, recording_tree, show, settings):
    """With the production S3 storage (location "recordings", CloudFront domain), the objects land
    where storages["recordings"].url() points."""
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": CDN,
                "location": "recordings",
                "custom_domain": "d111111abcdef8.cloudfront.net",
                "querystring_auth": False,
            },
        },
    }
    event, _ = show

    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    key = f"recordings/{replay_prefix(event)}/media/hls/master.m3u8"
    assert recording.master_url == f"https://d111111abcdef8.cloudfront.net/{key}"
    assert s3.head_object(Bucket=CDN, Key=key)["ContentType"] == "application/vnd.apple.mpegurl"


def test_ingesting_again_changes_nothing_and_copies_nothing(
    s3, spec, recording_tree, show, highlights, s3_client_factory
):
    first = ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    cues = cue_rows(first)
    calls = sum(s3_client_factory["copies"].values())

    for _ in range(9):
        again = ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    assert again.pk == first.pk
    assert Recording.objects.count() == 1
    assert cue_rows(again) == cues and ProductCue.objects.count() == 3
    assert sum(s3_client_factory["copies"].values()) == calls
    assert len(s3_client_factory["clients"]) == 1  # a ready recording: no S3 client, no request


def test_forced_reingest_copies_nothing_new_and_keeps_one_set_of_cues(
    s3, spec, recording_tree, show, highlights, s3_client_factory
):
    first = ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    cue_ids = set(first.cues.values_list("id", flat=True))
    copies = dict(s3_client_factory["copies"])
    event, (a, b) = show
    highlight(event, b, at(300))  # a highlight added since: the forced run adds its cue

    again = ingest_recording(bucket=SOURCE, prefix=spec.prefix, force=True)

    assert s3_client_factory["copies"] == copies
    assert cue_rows(again) == [
        (a.pk, 30_000, 95_500),
        (b.pk, 95_500, 150_000),
        (a.pk, 200_000, 300_000),
        (b.pk, 300_000, None),
    ]
    assert cue_ids <= set(again.cues.values_list("id", flat=True))  # upserted, not recreated


def test_an_interrupted_copy_resumes_with_what_is_missing(
    s3, spec, recording_tree, show, highlights, s3_client_factory
):
    s3_client_factory["fail_after"] = 100

    with pytest.raises(exceptions.StorageUnavailable, match="InternalError"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED
    assert "InternalError" in recording.failure_reason
    assert not recording.cues.exists() and recording.master_path == ""
    done = dict(s3_client_factory["copies"])

    s3_client_factory["fail_after"] = None
    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    media = [k for k in recording_tree if not k.startswith("events/")]
    assert recording.status == Recording.Status.READY
    assert len(done) == 100
    assert set(s3_client_factory["copies"]) == {f"{replay_prefix(recording.event)}/{k}" for k in media}
    assert set(s3_client_factory["copies"].values()) == {1}  # every object copied exactly once overall
    assert recording.cues.count() == 3


def test_playlists_are_copied_after_the_segments(s3, spec, recording_tree, show, s3_client_factory, settings):
    settings.RECORDINGS_COPY_CONCURRENCY = 1
    playlists = [key for key in recording_tree if key.endswith(".m3u8")]
    s3_client_factory["fail_after"] = (
        len(recording_tree) - 2 - len(playlists)
    )  # all but events/ and playlists

    with pytest.raises(exceptions.StorageUnavailable):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    assert len(s3_client_factory["copies"]) == s3_client_factory["fail_after"]
    assert not any(key.endswith(".m3u8") for key in s3_client_factory["copies"])


def test_reconnects_merged_into_one_prefix_are_one_recording(s3, put_source, show):
    """Two streams (0-120 s, then 150-330 s after a reconnect): the 30 s gap takes no replay
    time, so a highlight after it maps 30 s earlier than its wall-clock offset."""
    event, (a, b) = show
    spec = RecordingSpec(
        channel_arn=CHANNEL_ARN,
        started_at=at(0),
        streams=[(0, 120), (150, 180)],
        stream_ids=["st-first", "st-second"],
    )
    write_recording(put_source, spec)
    first, second = (
        StreamSessionFactory(event=event, stream_id=stream_id, started_at=at(start))
        for stream_id, start in (("st-first", 0), ("st-second", 150))
    )
    highlight(event, a, at(60))
    highlight(event, b, at(140))  # in the gap: shown from the second stream's start
    highlight(event, a, at(200))

    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix, stream_ids=spec.stream_ids)

    assert Recording.objects.count() == 1
    assert recording.duration_ms == 300_000
    assert recording.stream_ids == ["st-first", "st-second"]
    assert cue_rows(recording) == [(a.pk, 60_000, 120_000), (b.pk, 120_000, 170_000), (a.pk, 170_000, None)]
    # Where each stream starts in the video (the chat replay's clock): by the program date-times.
    assert recording.session_positions == {str(first.pk): 0, str(second.pk): 120_000}


def test_without_program_date_times_cues_count_from_the_recording_start(s3, put_source, spec, show):
    event, (a, _) = show
    objects = write_recording(put_source, spec)
    for name in ("720p30", "480p30", "360p30", "160p30"):
        key = f"media/hls/{name}/playlist.m3u8"
        text = objects[key].decode()
        stripped = "\n".join(line for line in text.splitlines() if "PROGRAM-DATE-TIME" not in line)
        s3.put_object(Bucket=SOURCE, Key=f"{spec.prefix}/{key}", Body=stripped.encode())
    highlight(event, a, at(42.25))

    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    assert cue_rows(recording) == [(a.pk, 42_250, None)]


def test_a_recording_ivs_failed_is_marked_failed_with_the_reason(s3, put_source, spec, show):
    write_recording(put_source, spec, ended="failed", message="InternalServerException")

    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    assert recording.status == Recording.Status.FAILED
    assert "RECORDING_ENDED_WITH_FAILURE" in recording.failure_reason
    assert "InternalServerException" in recording.failure_reason
    assert not listed(s3, CDN, "")
    assert not recording.cues.exists()


@pytest.mark.parametrize(
    ("prefix", "error", "message"),
    [
        ("not/a/prefix", exceptions.InvalidRecordingPrefix, "not an IVS recording prefix"),
        (
            "ivs/v1/123456789012/AsXego4U6tnj/2024/6/23/20/12/nothingHere",
            exceptions.RecordingNotFound,
            "No recording under s3://liveshop-ivs-recordings/ivs/v1/123456789012/AsXego4U6tnj/2024/6/23/20/12/nothingHere/",
        ),
        (
            "ivs/v1/123456789012/UnknownChan1/2024/6/23/20/12/j8Z9O91ndcVs",
            exceptions.UnknownChannel,
            "no live event uses the IVS channel UnknownChan1",
        ),
    ],
)
def test_bad_prefixes_raise_clear_errors_and_write_nothing(s3, show, prefix, error, message):
    with pytest.raises(error, match=message.replace("/", "/")):
        ingest_recording(bucket=SOURCE, prefix=prefix)

    assert not Recording.objects.exists()


def test_a_recording_not_ended_yet_is_not_ingested(s3, put_source, spec, show):
    write_recording(put_source, spec, ended=None)

    with pytest.raises(exceptions.RecordingNotEnded, match="started but not ended"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    assert not Recording.objects.exists()


def test_a_recording_still_going_is_not_marked_failed(s3, put_source, spec, show):
    write_recording(put_source, spec, ended=None)
    Recording.objects.create(
        event=show[0], organization=show[0].organization, source_bucket=SOURCE, source_prefix=spec.prefix
    )  # Recording Start

    with pytest.raises(exceptions.RecordingNotEnded):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    assert Recording.objects.get().status == Recording.Status.PENDING


def test_malformed_metadata_is_a_clear_error_and_writes_nothing(s3, spec, recording_tree, show):
    s3.put_object(Bucket=SOURCE, Key=f"{spec.prefix}/events/recording-ended.json", Body=b'{"version": "v1",')

    with pytest.raises(exceptions.MalformedRecording, match=r"recording-ended.json is not valid JSON"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    assert not Recording.objects.exists()
    assert not listed(s3, CDN, "")


def test_metadata_missing_a_field_names_it(s3, spec, recording_tree, show):
    document = json.loads(recording_tree["events/recording-ended.json"])
    del document["media"]["hls"]["renditions"]
    s3.put_object(Bucket=SOURCE, Key=f"{spec.prefix}/events/recording-ended.json", Body=json.dumps(document))

    with pytest.raises(exceptions.MalformedRecording, match=r"media\.hls\.renditions is missing"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)


def test_a_missing_playlist_fails_the_recording_with_the_reason(s3, spec, recording_tree, show):
    s3.delete_object(Bucket=SOURCE, Key=f"{spec.prefix}/media/hls/480p30/playlist.m3u8")

    with pytest.raises(exceptions.RecordingIncomplete, match=r"480p30/playlist.m3u8 is missing"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED
    assert "480p30/playlist.m3u8 is missing" in recording.failure_reason
    assert (recording.duration_ms, recording.renditions, recording.master_path) == (None, [], "")
    assert not listed(s3, CDN, "")


def test_a_missing_segment_fails_the_recording(s3, spec, recording_tree, show):
    s3.delete_object(Bucket=SOURCE, Key=f"{spec.prefix}/media/hls/160p30/17.ts")

    with pytest.raises(
        exceptions.RecordingIncomplete,
        match=r"1 segment\(s\) of .*160p30/playlist.m3u8 are missing, e.g. 17.ts",
    ):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)


def test_a_malformed_playlist_is_a_clear_error(s3, spec, recording_tree, show):
    s3.put_object(Bucket=SOURCE, Key=f"{spec.prefix}/media/hls/master.m3u8", Body=b"<html>nope</html>")

    with pytest.raises(exceptions.MalformedRecording, match=r"master.m3u8: not an HLS multivariant playlist"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    assert Recording.objects.get().status == Recording.Status.FAILED


def test_metadata_of_another_channel_is_refused(s3, spec, recording_tree, show):
    document = json.loads(recording_tree["events/recording-ended.json"])
    document["channel_arn"] = "arn:aws:ivs:us-west-2:123456789012:channel/SomeoneElse1"
    s3.put_object(Bucket=SOURCE, Key=f"{spec.prefix}/events/recording-ended.json", Body=json.dumps(document))

    with pytest.raises(exceptions.MalformedRecording, match=r"belongs to .*SomeoneElse1"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)


def test_access_denied_on_the_source_is_a_clear_error(
    s3, spec, recording_tree, show, s3_client_factory, monkeypatch
):
    from recordings.tests.conftest import CountingClient

    def denied(self, **params):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")

    monkeypatch.setattr(CountingClient, "get_object", denied, raising=False)

    with pytest.raises(
        exceptions.StorageAccessDenied, match=r"AccessDenied.*check the IAM and bucket policies"
    ):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    assert not Recording.objects.exists()


def test_access_denied_while_copying_fails_the_recording(
    s3, spec, recording_tree, show, monkeypatch, s3_client_factory
):
    from recordings.tests.conftest import CountingClient

    def denied(self, **params):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "CopyObject")

    monkeypatch.setattr(CountingClient, "copy_object", denied)

    with pytest.raises(
        exceptions.StorageAccessDenied, match=r"Copying s3://liveshop-ivs-recordings/.* AccessDenied"
    ):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED and "AccessDenied" in recording.failure_reason
    assert not recording.cues.exists()


def test_no_destination_bucket_is_a_configuration_error(s3, spec, recording_tree, show, settings):
    settings.AWS_RECORDINGS_BUCKET_NAME = ""

    with pytest.raises(exceptions.RecordingsNotConfigured, match="AWS_RECORDINGS_BUCKET_NAME"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    assert Recording.objects.get().status == Recording.Status.FAILED


def test_a_failed_rerun_does_not_hide_a_ready_replay(s3, spec, recording_tree, show, s3_client_factory):
    ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    s3.delete_object(Bucket=SOURCE, Key=f"{spec.prefix}/media/hls/master.m3u8")  # source expired

    with pytest.raises(exceptions.RecordingIncomplete):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix, force=True)
    assert Recording.objects.get().status == Recording.Status.READY


def test_a_second_ingestion_at_the_same_time_is_refused(s3, spec, recording_tree, show):
    """While another process holds the recording's advisory lock, ingestion refuses at once."""
    import threading

    from django.db import connections

    from recordings.services.ingest import LOCK_NAMESPACE, get_or_create_recording
    from recordings.services.manifest import parse_prefix

    event, _ = show
    recording = get_or_create_recording(event, SOURCE, parse_prefix(spec.prefix), (), "")
    locked, release = threading.Event(), threading.Event()

    def hold():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, recording.pk])
            locked.set()
            release.wait(10)
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, recording.pk])
        connections["default"].close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        with pytest.raises(exceptions.IngestionInProgress, match="Another process is ingesting"):
            ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    finally:
        release.set()
        holder.join()
    assert Recording.objects.get().status == Recording.Status.PENDING
    assert ingest_recording(bucket=SOURCE, prefix=spec.prefix).status == Recording.Status.READY


def test_an_ivs_recording_into_a_filesystem_storage_is_downloaded_once(
    s3, spec, recording_tree, show, highlights, settings, tmp_path, s3_client_factory
):
    """The "recordings" storage on disk (local mode with IVS): the same service downloads the
    objects (the destination side of liveshop.objectstore's DirectoryStore), and a forced rerun
    finds them there (size and MD5) and copies only what differs."""
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "replays", "base_url": "/media/recordings/"},
        },
    }
    event, (a, b) = show

    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    media = {k: v for k, v in recording_tree.items() if not k.startswith("events/")}
    folder = tmp_path / "replays" / replay_prefix(event)
    on_disk = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == media
    assert recording.status == Recording.Status.READY and recording.backend == "ivs"
    assert recording.master_url == f"/media/recordings/{replay_prefix(event)}/media/hls/master.m3u8"
    assert cue_rows(recording) == [(a.pk, 30_000, 95_500), (b.pk, 95_500, 150_000), (a.pk, 200_000, None)]
    assert not listed(s3, CDN, "")
    assert not s3_client_factory["copies"]  # no CopyObject: the bytes came down with GetObject

    written = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    (folder / "media/hls/720p30/3.ts").write_bytes(b"half a segm")  # a run killed mid-write

    again = ingest_recording(bucket=SOURCE, prefix=spec.prefix, force=True)

    assert again.status == Recording.Status.READY and again.objects_copied == len(media)
    rewritten = [p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime_ns != written[p]]
    assert [str(p.relative_to(folder)) for p in rewritten] == ["media/hls/720p30/3.ts"]
    assert (folder / "media/hls/720p30/3.ts").read_bytes() == media["media/hls/720p30/3.ts"]
