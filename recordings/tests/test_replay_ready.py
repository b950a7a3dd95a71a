"""An ended show's open pages learn that its replay is ready (the socket's replay_ready), from
the one place a show's recording becomes ready (ingestion's complete_recording)."""

import pytest

from recordings.services import ingest_recording
from recordings.services.replays import announce_replay_on_commit
from recordings.tests.conftest import SOURCE
from recordings.tests.test_replay_views import ready_recording

pytestmark = pytest.mark.django_db


def test_ingesting_a_shows_recording_tells_its_viewers(
    s3, spec, recording_tree, show, broadcasts, django_capture_on_commit_callbacks
):
    event, _ = show

    with django_capture_on_commit_callbacks(execute=True):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    ready = [m for m in broadcasts if m["type"] == "replay.ready"]
    assert ready == [
        {
            "event_id": event.pk,
            "type": "replay.ready",
            "payload": {
                "eventId": event.pk,
                "replayUrl": f"/e/{event.organization.slug}/{event.slug}/replay/",
            },
        }
    ]


def test_nothing_is_told_before_the_commit_or_for_an_uploaded_video(
    brand, broadcasts, django_capture_on_commit_callbacks
):
    video = ready_recording(organization=brand)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        announce_replay_on_commit(video)

    assert callbacks == [] and broadcasts == []
