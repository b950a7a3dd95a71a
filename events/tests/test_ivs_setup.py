"""manage.py ivs_setup against botocore's Stubber: exact requests, no AWS."""

import io

import boto3
import pytest
from botocore.stub import Stubber
from django.core.management import call_command
from django.core.management.base import CommandError

from liveshop.video import ivs

REGION = "us-west-2"
BUCKET = "liveshop-ivs-recordings"
CONFIG_ARN = "arn:aws:ivs:us-west-2:123456789012:recording-configuration/ABcdef34ghIJ"
OTHER_ARN = "arn:aws:ivs:us-west-2:123456789012:recording-configuration/ZZzzzz99zzZZ"
KEY_PAIR_ARN = "arn:aws:ivs:us-west-2:123456789012:playback-key/f99cde61-c2b0-4df3-8941-ca7d38acca1a"
SESSION = boto3.session.Session()


def recording_configuration(arn=CONFIG_ARN, name="liveshop", bucket=BUCKET, state="ACTIVE") -> dict:
    return {
        "arn": arn,
        "name": name,
        "destinationConfiguration": {"s3": {"bucketName": bucket}},
        "state": state,
        "tags": {"app": "liveshop"},
    }


def full_configuration(**kwargs) -> dict:
    return {
        **recording_configuration(**kwargs),
        "recordingReconnectWindowSeconds": 60,
        "thumbnailConfiguration": {
            "recordingMode": "INTERVAL",
            "targetIntervalSeconds": 10,
            "resolution": "HD",
            "storage": ["SEQUENTIAL", "LATEST"],
        },
        "renditionConfiguration": {"renditionSelection": "ALL", "renditions": []},
    }


@pytest.fixture
def stubber(monkeypatch, settings):
    settings.IVS_REGION = REGION
    settings.IVS_RECORDINGS_BUCKET_NAME = BUCKET
    settings.IVS_RECORDING_CONFIGURATION_NAME = "liveshop"
    settings.IVS_RECORDING_CONFIGURATION_ARN = CONFIG_ARN
    settings.IVS_CHANNEL_TYPE = "STANDARD"
    settings.IVS_PLAYBACK_PRIVATE_KEY = ""
    settings.IVS_PLAYBACK_KEY_PAIR_ARN = ""
    client = SESSION.client(
        "ivs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    monkeypatch.setattr(ivs, "ivs_client", lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def ivs_setup(*args: str) -> str:
    out = io.StringIO()
    # skip_checks=False: run as manage.py does, system checks included.
    call_command("ivs_setup", *args, stdout=out, stderr=io.StringIO(), skip_checks=False)
    return out.getvalue()


def test_ivs_setup_creates_the_recording_configuration_when_missing(stubber):
    stubber.add_response(
        "list_recording_configurations",
        {
            "recordingConfigurations": [
                recording_configuration(OTHER_ARN, name="someone-else", bucket="other")
            ]
        },
        {},
    )
    stubber.add_response(
        "create_recording_configuration",
        {"recordingConfiguration": full_configuration(state="CREATING")},
        {
            "name": "liveshop",
            "destinationConfiguration": {"s3": {"bucketName": BUCKET}},
            "recordingReconnectWindowSeconds": 60,
            "thumbnailConfiguration": {
                "recordingMode": "INTERVAL",
                "targetIntervalSeconds": 10,
                "resolution": "HD",
                "storage": ["SEQUENTIAL", "LATEST"],
            },
            "renditionConfiguration": {"renditionSelection": "ALL"},
            "tags": {"app": "liveshop"},
        },
    )

    out = ivs_setup()

    assert "Created recording configuration 'liveshop'" in out
    assert "CREATING" in out
    assert f"IVS_RECORDING_CONFIGURATION_ARN={CONFIG_ARN}" in out.splitlines()
    assert f"IVS_REGION={REGION}" in out.splitlines()


def test_ivs_setup_finds_an_existing_configuration_by_name_across_pages_without_creating(stubber):
    stubber.add_response(
        "list_recording_configurations",
        {
            "recordingConfigurations": [recording_configuration(OTHER_ARN, name="other", bucket="other")],
            "nextToken": "page-2",
        },
        {},
    )
    stubber.add_response(
        "list_recording_configurations",
        {"recordingConfigurations": [recording_configuration(name="brand-x")]},
        {"nextToken": "page-2"},
    )

    out = ivs_setup("--name", "brand-x", "--bucket", BUCKET)

    assert "Found recording configuration 'brand-x'" in out
    assert f"IVS_RECORDING_CONFIGURATION_ARN={CONFIG_ARN}" in out.splitlines()
    # No create_recording_configuration was queued: a create would fail the Stubber.


def test_ivs_setup_prefers_the_active_one_of_several_configurations_with_the_name(stubber):
    stubber.add_response(
        "list_recording_configurations",
        {
            "recordingConfigurations": [
                recording_configuration(OTHER_ARN, state="CREATE_FAILED"),
                recording_configuration(CONFIG_ARN, state="ACTIVE"),
            ]
        },
        {},
    )

    out = ivs_setup()

    assert f"IVS_RECORDING_CONFIGURATION_ARN={CONFIG_ARN}" in out.splitlines()


def test_ivs_setup_refuses_a_name_already_used_for_another_bucket(stubber):
    stubber.add_response(
        "list_recording_configurations",
        {"recordingConfigurations": [recording_configuration(bucket="old-bucket")]},
        {},
    )

    with pytest.raises(CommandError, match="old-bucket"):
        ivs_setup()


@pytest.mark.parametrize("bucket", ["ab", "Liveshop_Recordings", "x" * 64, "bucket/with/slash"])
def test_ivs_setup_rejects_a_bucket_name_ivs_would_refuse_before_any_request(stubber, bucket):
    with pytest.raises(CommandError, match="not a bucket name IVS accepts"):
        ivs_setup("--bucket", bucket)


def test_ivs_setup_without_a_bucket_says_how_to_give_one(stubber, settings):
    settings.IVS_RECORDINGS_BUCKET_NAME = ""

    with pytest.raises(CommandError, match="--bucket"):
        ivs_setup()


def test_ivs_setup_maps_an_aws_error_to_a_clear_command_error(stubber):
    stubber.add_client_error(
        "list_recording_configurations",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform ivs:ListRecordingConfigurations",
        http_status_code=403,
    )

    with pytest.raises(CommandError, match="IAM permissions"):
        ivs_setup()


def test_ivs_setup_check_passes_with_an_active_configuration(stubber):
    stubber.add_response("list_channels", {"channels": []}, {"maxResults": 1})
    stubber.add_response(
        "get_recording_configuration", {"recordingConfiguration": full_configuration()}, {"arn": CONFIG_ARN}
    )

    out = ivs_setup("--check")

    assert f"OK: IVS answers in {REGION}" in out
    assert f"OK: recording configuration 'liveshop' is ACTIVE, recording to {BUCKET}." in out


def test_ivs_setup_check_fails_on_a_configuration_that_failed_to_create(stubber):
    stubber.add_response("list_channels", {"channels": []}, {"maxResults": 1})
    stubber.add_response(
        "get_recording_configuration",
        {"recordingConfiguration": full_configuration(state="CREATE_FAILED")},
        {"arn": CONFIG_ARN},
    )

    with pytest.raises(CommandError, match=f"CREATE_FAILED: check that bucket {BUCKET} exists in {REGION}"):
        ivs_setup("--check")


def test_ivs_setup_check_fails_while_the_configuration_is_still_creating(stubber):
    stubber.add_response("list_channels", {"channels": []}, {"maxResults": 1})
    stubber.add_response(
        "get_recording_configuration",
        {"recordingConfiguration": full_configuration(state="CREATING")},
        {"arn": CONFIG_ARN},
    )

    with pytest.raises(CommandError, match="still CREATING"):
        ivs_setup("--check")


def test_ivs_setup_check_fails_when_access_is_denied(stubber):
    stubber.add_client_error(
        "list_channels",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ivs:ListChannels",
        http_status_code=403,
    )

    with pytest.raises(CommandError, match="IVS denied access") as excinfo:
        ivs_setup("--check")
    assert "ivs:ListChannels" in str(excinfo.value)


def test_ivs_setup_check_fails_without_a_configured_arn(stubber, settings):
    settings.IVS_RECORDING_CONFIGURATION_ARN = ""
    stubber.add_response("list_channels", {"channels": []}, {"maxResults": 1})

    with pytest.raises(CommandError, match=r"run `manage\.py ivs_setup`"):
        ivs_setup("--check")


def test_ivs_setup_check_fails_when_the_arn_names_nothing(stubber):
    stubber.add_response("list_channels", {"channels": []}, {"maxResults": 1})
    stubber.add_client_error(
        "get_recording_configuration", service_error_code="ResourceNotFoundException", http_status_code=404
    )

    with pytest.raises(CommandError, match="names no recording configuration in us-west-2"):
        ivs_setup("--check")


def test_ivs_setup_check_fails_on_an_unknown_channel_type_before_any_request(stubber, settings):
    settings.IVS_CHANNEL_TYPE = "PREMIUM"

    with pytest.raises(CommandError, match="IVS_CHANNEL_TYPE"):
        ivs_setup("--check")


def test_ivs_setup_check_verifies_the_playback_key_settings(stubber, settings):
    settings.IVS_PLAYBACK_PRIVATE_KEY = "not a key"
    settings.IVS_PLAYBACK_KEY_PAIR_ARN = KEY_PAIR_ARN
    stubber.add_response("list_channels", {"channels": []}, {"maxResults": 1})
    stubber.add_response(
        "get_recording_configuration", {"recordingConfiguration": full_configuration()}, {"arn": CONFIG_ARN}
    )

    with pytest.raises(CommandError, match="not an unencrypted PEM private key"):
        ivs_setup("--check")


def test_ivs_setup_check_reports_an_imported_playback_key_pair(stubber, settings):
    settings.IVS_PLAYBACK_KEY_PAIR_ARN = KEY_PAIR_ARN
    stubber.add_response("list_channels", {"channels": []}, {"maxResults": 1})
    stubber.add_response(
        "get_recording_configuration", {"recordingConfiguration": full_configuration()}, {"arn": CONFIG_ARN}
    )
    stubber.add_response(
        "get_playback_key_pair",
        {"keyPair": {"arn": KEY_PAIR_ARN, "name": "liveshop", "fingerprint": "b7:14:f7", "tags": {}}},
        {"arn": KEY_PAIR_ARN},
    )

    assert "OK: playback key pair 'liveshop' is imported." in ivs_setup("--check")
