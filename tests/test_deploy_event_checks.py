"""The ingest task's environment in deploy/cloudformation.yaml lets `manage.py ingest_recording`
check the event it is given (issue #12, finding 10): the recordings bucket is passed, and the
event EventBridge rebuilds for it (a real IVS event, transformed as the template says) passes
the same checks as the webhook with the settings the template gives."""

import json

import pytest

from recordings.services import parse_recording_event
from tests.test_deploy import RECORDING_END, join, props, resources, template, transform  # noqa: F401

ACCOUNT = "123456789012"


def test_the_ingest_task_gets_the_recordings_bucket(resources):  # noqa: F811
    (container,) = props(resources, "IngestTaskDefinition")["ContainerDefinitions"]
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}

    assert environment["IVS_RECORDINGS_BUCKET_NAME"] == {"Ref": "RecordingsBucket"}
    # The account comes from the recording configuration's ARN (no IVS_ACCOUNT_ID needed).
    assert environment["IVS_RECORDING_CONFIGURATION_ARN"] == {"Fn::GetAtt": ["RecordingConfiguration", "Arn"]}


@pytest.mark.django_db
def test_the_transformed_event_passes_the_ingest_tasks_checks(resources, settings):  # noqa: F811
    settings.IVS_ACCOUNT_ID = ""
    settings.IVS_RECORDING_CONFIGURATION_ARN = f"arn:aws:ivs:us-west-2:{ACCOUNT}:recording-configuration/Ab12"
    settings.IVS_RECORDINGS_BUCKET_NAME = RECORDING_END["detail"]["recording_s3_bucket_name"]
    transformer = props(resources, "RecordingStateRule")["Targets"][0]["InputTransformer"]
    overrides = json.loads(
        transform(join(transformer["InputTemplate"]), transformer["InputPathsMap"], RECORDING_END)
    )

    event = parse_recording_event(json.loads(overrides["containerOverrides"][0]["environment"][0]["value"]))

    assert (event.bucket, event.prefix) == (
        RECORDING_END["detail"]["recording_s3_bucket_name"],
        RECORDING_END["detail"]["recording_s3_key_prefix"],
    )
