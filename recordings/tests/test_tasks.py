import pytest
from celery.exceptions import Retry

from recordings import exceptions, services
from recordings.tasks import ingest_recording_task


def test_transient_s3_errors_are_retried_with_backoff(monkeypatch):
    def unavailable(**kwargs):
        raise exceptions.StorageUnavailable("Listing s3://b/p: SlowDown")

    retries = []

    def retry(**kwargs):
        retries.append(kwargs)
        return Retry()

    monkeypatch.setattr(services, "ingest_recording", unavailable)
    monkeypatch.setattr(ingest_recording_task, "retry", retry)

    with pytest.raises(Retry):
        ingest_recording_task.apply(args=("b", "p"), throw=True)
    assert retries[0]["countdown"] == 30
    assert isinstance(retries[0]["exc"], exceptions.StorageUnavailable)


def test_permanent_errors_are_not_retried(monkeypatch):
    def missing(**kwargs):
        raise exceptions.RecordingNotFound("No recording under s3://b/p/")

    monkeypatch.setattr(services, "ingest_recording", missing)

    assert ingest_recording_task.apply(args=("b", "p")).get() == "failed"


def test_a_recording_another_worker_ingests_is_left_to_it(monkeypatch):
    def busy(**kwargs):
        raise exceptions.IngestionInProgress("Another process is ingesting s3://b/p now")

    monkeypatch.setattr(services, "ingest_recording", busy)

    assert ingest_recording_task.apply(args=("b", "p")).get() == "busy"
