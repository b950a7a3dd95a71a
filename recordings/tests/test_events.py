import pytest
from django.utils.module_loading import import_string

from events import extensions
from events.exceptions import MalformedStreamEvent
from liveshop.video.eventbridge import recording_state_change
from recordings.exceptions import MalformedRecordingEvent
from recordings.models import ProductCue, Recording
from recordings.services import handle_recording_event, parse_recording_event
from recordings.tests.conftest import CHANNEL_ARN, SOURCE
from recordings.tests.recording_tree import write_recording

pytestmark = pytest.mark.django_db


def recording_event(spec, status="Recording End", **detail):
    """An "IVS Recording State Change" event for ``spec``, as EventBridge delivers it."""
    fields = {
        "recording_s3_bucket_name": SOURCE,
        "recording_s3_key_prefix": spec.prefix,
        "recording_duration_ms": spec.duration_ms if status == "Recording End" else 0,
        "recording_session_id": spec.session_id,
        "recording_status_reason": "",
    }
    if status == "Recording End":
        fields["recording_session_stream_ids"] = spec.stream_ids
    fields.update(detail)
    return recording_state_change(CHANNEL_ARN, status, spec.stream_ids[-1], **fields)


def deliver(payload, capture) -> str:
    """The webhook's call, with its on-commit callbacks (the eager Celery task) run."""
    with capture(execute=True):
        return handle_recording_event(payload)


def test_recording_end_queues_the_ingestion_task(
    s3, spec, recording_tree, show, highlights, django_capture_on_commit_callbacks
):
    assert deliver(recording_event(spec), django_capture_on_commit_callbacks) == "queued"

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY
    assert recording.session_id == spec.session_id
    assert recording.stream_ids == spec.stream_ids
    assert recording.cues.count() == 3


def test_the_same_end_ten_times_is_one_recording_and_one_set_of_cues(
    s3, spec, recording_tree, show, highlights, s3_client_factory, django_capture_on_commit_callbacks
):
    outcomes = [deliver(recording_event(spec), django_capture_on_commit_callbacks) for _ in range(10)]

    assert outcomes == ["queued"] + ["unchanged"] * 9
    assert Recording.objects.count() == 1
    assert ProductCue.objects.count() == 3
    assert set(s3_client_factory["copies"].values()) == {1}


def test_start_and_end_in_either_order_make_one_recording(
    s3, spec, recording_tree, show, highlights, django_capture_on_commit_callbacks
):
    end, start = recording_event(spec), recording_event(spec, "Recording Start")

    assert deliver(end, django_capture_on_commit_callbacks) == "queued"
    assert deliver(start, django_capture_on_commit_callbacks) == "unchanged"
    assert deliver(end, django_capture_on_commit_callbacks) == "unchanged"

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY
    assert ProductCue.objects.count() == 3


def test_recording_start_notes_a_pending_recording(
    s3, spec, recording_tree, show, django_capture_on_commit_callbacks
):
    assert (
        deliver(recording_event(spec, "Recording Start"), django_capture_on_commit_callbacks) == "recording"
    )
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.PENDING
    assert recording.stream_ids == [spec.stream_ids[-1]]

    assert deliver(recording_event(spec), django_capture_on_commit_callbacks) == "queued"
    assert Recording.objects.get().status == Recording.Status.READY


def test_recording_end_failure_marks_the_recording_failed(
    s3, put_source, spec, show, django_capture_on_commit_callbacks
):
    write_recording(put_source, spec, ended="failed", message="InternalServerException")
    payload = recording_event(
        spec, "Recording End Failure", recording_status_reason="InternalServerException"
    )

    assert deliver(payload, django_capture_on_commit_callbacks) == "queued"

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED
    assert "InternalServerException" in recording.failure_reason


def test_recording_start_failure_is_a_failed_recording_keyed_by_session(
    s3, spec, show, django_capture_on_commit_callbacks
):
    payload = recording_event(
        spec,
        "Recording Start Failure",
        recording_s3_key_prefix="",
        recording_status_reason="ValidationException",
    )

    assert deliver(payload, django_capture_on_commit_callbacks) == "failed"
    assert deliver(payload, django_capture_on_commit_callbacks) == "unchanged"

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED
    assert recording.session_id == spec.session_id and recording.source_prefix == ""
    assert recording.failure_reason == "IVS could not start the recording (ValidationException)"


def test_a_failed_ingestion_is_recorded_on_the_recording(s3, spec, show, django_capture_on_commit_callbacks):
    """Recording End for a prefix with nothing in it: the task records the reason, the webhook
    still answers (the event itself was fine)."""
    assert deliver(recording_event(spec), django_capture_on_commit_callbacks) == "queued"

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED
    assert recording.failure_reason.startswith("No recording under s3://liveshop-ivs-recordings/ivs/v1/")


def test_an_end_while_another_worker_copies_queues_nothing(
    s3, spec, show, django_capture_on_commit_callbacks
):
    event, _ = show
    Recording.objects.create(
        event=event,
        organization=event.organization,
        source_bucket=SOURCE,
        source_prefix=spec.prefix,
        status=Recording.Status.COPYING,
    )

    with django_capture_on_commit_callbacks() as callbacks:
        assert handle_recording_event(recording_event(spec)) == "unchanged"
    assert callbacks == []


def test_an_unknown_channel_is_reported_and_nothing_written(s3, spec, db, django_capture_on_commit_callbacks):
    assert deliver(recording_event(spec), django_capture_on_commit_callbacks) == "unknown channel"
    assert not Recording.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p.update({"detail-type": "IVS Stream State Change"}),
            "Not an 'IVS Recording State Change'",
        ),
        (
            lambda p: p["detail"].update(recording_status="Recording Paused"),
            "Unknown detail.recording_status",
        ),
        (lambda p: p.update(resources=[]), "Missing 'resources'"),
        (lambda p: p["detail"].pop("recording_s3_bucket_name"), "Missing detail.recording_s3_bucket_name"),
        (lambda p: p["detail"].update(recording_s3_key_prefix="uploads/x"), "not an IVS recording prefix"),
        (lambda p: p["detail"].update(recording_session_stream_ids="st-1"), "must be a list of ids"),
        (
            lambda p: p.update(resources=["arn:aws:ivs:us-west-2:123456789012:channel/OtherChannel"]),
            "is not of channel",
        ),
    ],
)
def test_malformed_events_are_refused_like_malformed_stream_events(spec, change, message):
    payload = recording_event(spec)
    change(payload)

    with pytest.raises(MalformedRecordingEvent, match=message) as caught:
        parse_recording_event(payload)
    assert isinstance(caught.value, MalformedStreamEvent)  # the webhook answers 400


def test_recordings_fills_every_extension_slot_of_events_with_a_function_that_exists():
    """events reaches recordings only through events.extensions (RecordingsConfig.ready)."""
    slots = [value for value in vars(extensions).values() if isinstance(value, extensions.Slot)]

    assert len(slots) >= 6
    for slot in slots:
        assert slot.implementation is not None, slot.name
        target = slot.implementation
        assert callable(import_string(target) if isinstance(target, str) else target), slot.name


def test_a_saved_local_recording_is_queued_for_conversion_and_ingestion(monkeypatch):
    from recordings.tasks import ingest_local_recording_task

    queued = []
    monkeypatch.setattr(ingest_local_recording_task, "delay", lambda *args: queued.append(args))

    extensions.local_recording_saved(path="/srv/rec/ch-1700000000.flv", stream_id="st-1")

    assert queued == [("/srv/rec/ch-1700000000.flv", "st-1")]
