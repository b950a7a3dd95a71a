import io
import json
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper

from events.tests.factories import LiveEventFactory
from liveshop.objectstore import CopyProgress
from recordings.management.commands.ingest_recording import Command, ProgressBar
from recordings.models import Recording
from recordings.tests.conftest import CHANNEL_ARN, SOURCE, STARTED_AT
from recordings.tests.recording_tree import RecordingSpec, write_recording
from recordings.tests.test_events import recording_event

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("ingest_recording", *args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def assert_ready(out: str, err: str) -> Recording:
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY
    assert f"Recording {recording.pk} of “{recording.event}” is ready" in out
    assert f"{recording.objects_copied} objects" in out and "3 product cues" in out
    assert f"({recording.objects_copied} copied now, 0 already there)" in out
    assert f"copying {recording.objects_copied}/{recording.objects_copied} objects (100%)" in err
    return recording


def test_event_from_a_file(s3, spec, recording_tree, show, highlights, tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(recording_event(spec)))

    recording = assert_ready(*run(str(path)))
    assert recording.session_id == spec.session_id


def test_event_on_stdin(s3, spec, recording_tree, show, highlights, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(recording_event(spec))))

    assert_ready(*run("-"))


def test_event_in_the_default_environment_variable(s3, spec, recording_tree, show, highlights, monkeypatch):
    monkeypatch.setenv("LIVESHOP_EVENT", json.dumps(recording_event(spec)))

    assert_ready(*run())


def test_event_in_a_named_environment_variable(s3, spec, recording_tree, show, highlights, monkeypatch):
    monkeypatch.delenv("LIVESHOP_EVENT", raising=False)
    monkeypatch.setenv("ECS_RECORDING_EVENT", json.dumps(recording_event(spec)))

    assert_ready(*run("--event-env", "ECS_RECORDING_EVENT"))


def test_bucket_and_prefix(s3, spec, recording_tree, show, highlights):
    out, err = run("--bucket", SOURCE, "--prefix", spec.prefix)
    assert_ready(out, err)

    out, _ = run("--bucket", SOURCE, "--prefix", spec.prefix)
    assert "(already ingested)" in out


def test_pending_ingests_every_ended_recording_not_ready(s3, put_source, show, highlights, settings):
    settings.IVS_RECORDINGS_BUCKET_NAME = SOURCE  # the bucket IVS records into
    specs = [
        RecordingSpec(
            channel_arn=CHANNEL_ARN, started_at=STARTED_AT + timedelta(hours=h), recording_id=f"rec{h}"
        )
        for h in range(5)
    ]
    write_recording(put_source, specs[0])
    write_recording(put_source, specs[1])
    write_recording(put_source, specs[2], ended="failed")
    write_recording(put_source, specs[3], ended=None)  # still recording
    write_recording(put_source, specs[4])
    other_channel = RecordingSpec(
        channel_arn="arn:aws:ivs:us-west-2:123456789012:channel/NotOursAtAll", started_at=STARTED_AT
    )
    write_recording(put_source, other_channel)
    run("--bucket", SOURCE, "--prefix", specs[0].prefix)
    Recording.objects.create(  # pending
        event=show[0], organization=show[0].organization, source_bucket=SOURCE, source_prefix=specs[4].prefix
    )

    out, _ = run("--pending")

    assert f"s3://{SOURCE}: 2 recording(s) to ingest, 1 ready, 2 not ended (or failed at IVS)." in out
    ready = Recording.objects.filter(status=Recording.Status.READY)
    assert sorted(ready.values_list("source_prefix", flat=True)) == sorted(
        [specs[0].prefix, specs[1].prefix, specs[4].prefix]
    )
    assert Recording.objects.count() == 3
    assert "replays/" in out


def test_pending_exits_non_zero_when_one_fails(s3, put_source, show):
    spec = RecordingSpec(channel_arn=CHANNEL_ARN, started_at=STARTED_AT)
    write_recording(put_source, spec)
    s3.delete_object(Bucket=SOURCE, Key=f"{spec.prefix}/media/hls/master.m3u8")

    with pytest.raises(CommandError, match=r"1 of 1 recording\(s\) failed"):
        run("--pending", "--bucket", SOURCE)
    assert Recording.objects.get().status == Recording.Status.FAILED


def test_a_failed_recording_exits_non_zero_with_the_reason(s3, put_source, spec, show, capsys):
    write_recording(put_source, spec, ended="failed", message="InternalServerException")

    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(
            ["manage.py", "ingest_recording", "--bucket", SOURCE, "--prefix", spec.prefix]
        )

    assert exited.value.code == 1
    assert "RECORDING_ENDED_WITH_FAILURE): InternalServerException" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--bucket", SOURCE, "--prefix", "ivs/v1/1/nochannel/2024/1/1/1/1/abc"), "no live event uses"),
        (("--bucket", SOURCE, "--prefix", "nope"), "not an IVS recording prefix"),
        (("--prefix", "ivs/v1/x"), "--prefix needs --bucket"),
        (("/does/not/exist.json",), "Cannot read the event file"),
        (("x.json", "--pending"), "Pass one of"),
    ],
)
def test_clear_errors(s3, db, args, message, monkeypatch):
    monkeypatch.delenv("LIVESHOP_EVENT", raising=False)
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_nothing_to_ingest_says_how_to_pass_an_event(db, monkeypatch):
    monkeypatch.delenv("LIVESHOP_EVENT", raising=False)
    with pytest.raises(CommandError, match=r"pass an event file \(or - for stdin\), set \$LIVESHOP_EVENT"):
        run()


def test_an_event_that_is_not_json(db, monkeypatch):
    monkeypatch.setenv("LIVESHOP_EVENT", "{not json")
    with pytest.raises(CommandError, match=r"The event in \$LIVESHOP_EVENT is not valid JSON"):
        run()


def test_a_start_failure_event_is_recorded_and_exits_non_zero(s3, spec, show, tmp_path):
    path = tmp_path / "event.json"
    event = recording_event(
        spec,
        "Recording Start Failure",
        recording_s3_key_prefix="",
        recording_status_reason="ValidationException",
    )
    path.write_text(json.dumps(event))

    with pytest.raises(CommandError, match=r"IVS could not start the recording \(ValidationException\)"):
        run(str(path))
    assert Recording.objects.get().status == Recording.Status.FAILED


def test_a_start_event_has_nothing_to_ingest(s3, spec, show, tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(recording_event(spec, "Recording Start")))

    with pytest.raises(CommandError, match="Nothing to ingest for a 'Recording Start' event"):
        run(str(path))


def test_other_channels_events_are_an_error(s3, spec, tmp_path):
    LiveEventFactory()
    path = tmp_path / "event.json"
    path.write_text(json.dumps(recording_event(spec)))

    with pytest.raises(CommandError, match="no live event uses the IVS channel AsXego4U6tnj"):
        run(str(path))


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_redraws_in_place_on_a_terminal():
    stream = FakeTerminal()
    bar = ProgressBar(OutputWrapper(stream), tty=True)

    bar(CopyProgress(done=0, total=3000, bytes_done=0, bytes_total=10**9, elapsed=0.0))
    bar.shown_at = 0  # as if a tenth of a second had passed
    bar(CopyProgress(done=1234, total=3000, bytes_done=24_600_000, bytes_total=10**9, elapsed=2.0))
    bar(CopyProgress(done=3000, total=3000, bytes_done=10**9, bytes_total=10**9, elapsed=10.0))
    bar.close()

    assert stream.getvalue() == (
        "\r\x1b[Kcopying 0/3000 objects (0%) 0.0 MB/s"
        "\r\x1b[Kcopying 1234/3000 objects (41%) 12.3 MB/s"
        "\r\x1b[Kcopying 3000/3000 objects (100%) 100.0 MB/s\n"
    )


def test_progress_bar_writes_steady_lines_elsewhere():
    stream = io.StringIO()
    bar = ProgressBar(OutputWrapper(stream), tty=False, interval=5)

    for done in range(0, 3001, 100):
        bar(CopyProgress(done=done, total=3000, bytes_done=done * 1000, bytes_total=3 * 10**6, elapsed=1.0))
    bar.close()

    assert stream.getvalue().splitlines() == [
        "copying 0/3000 objects (0%) 0.0 MB/s",
        "copying 3000/3000 objects (100%) 3.0 MB/s",
    ]
