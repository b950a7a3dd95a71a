"""IVSBackend against botocore's Stubber (exact requests, real response shapes, error mapping) and,
for channel create/delete, moto. No network: shapes from shared/reference/ivs.md."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
from datetime import UTC, datetime

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from liveshop.video import ivs
from liveshop.video.base import (
    LATENCY_NORMAL,
    MAX_METADATA_BYTES,
    BackendUnavailable,
    Channel,
    ChannelNotFound,
    ChannelNotLive,
    InvalidMetadata,
    PayloadTooLarge,
    RevokesViewerSessions,
    StreamState,
    Throttled,
    VideoBackend,
    VideoBackendError,
)
from liveshop.video.ivs import IVSBackend

REGION = "us-west-2"
CHANNEL_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/AsXego4U6tnj"
KEY_ARN = "arn:aws:ivs:us-west-2:123456789012:stream-key/g1H2I3j4k5L6"
NEW_KEY_ARN = "arn:aws:ivs:us-west-2:123456789012:stream-key/Zz9Yy8Xx7Ww6"
RECORDING_ARN = "arn:aws:ivs:us-west-2:123456789012:recording-configuration/ABcdef34ghIJ"
INGEST_ENDPOINT = "a1b2c3d4e5f6.global-contribute.live-video.net"
PLAYBACK_URL = (
    "https://a1b2c3d4e5f6.us-west-2.playback.live-video.net/api/video/v1/"
    "us-west-2.123456789012.channel.AsXego4U6tnj.m3u8"
)
STREAM_KEY = "sk_us-west-2_abcd1234efgh5678ijkl"
NEW_STREAM_KEY = "sk_us-west-2_mnop9012qrst3456uvwx"
STREAM_ID = "st-1A2b3c4D5e6F78ghij9Klmn"


def channel_shape(**overrides) -> dict:
    channel = {
        "arn": CHANNEL_ARN,
        "name": "brand-42-event-7",
        "latencyMode": "LOW",
        "type": "STANDARD",
        "recordingConfigurationArn": RECORDING_ARN,
        "ingestEndpoint": INGEST_ENDPOINT,
        "playbackUrl": PLAYBACK_URL,
        "authorized": False,
        "insecureIngest": False,
        "preset": "",
        "srt": {"endpoint": "a1b2c3d4e5f6.srt.live-video.net", "passphrase": "srt-secret"},
        "playbackRestrictionPolicyArn": "",
        "multitrackInputConfiguration": {"enabled": False},
        "containerFormat": "TS",
        "tags": {},
    }
    return {**channel, **overrides}


def stream_key_shape(arn: str = KEY_ARN, value: str = STREAM_KEY) -> dict:
    return {"arn": arn, "value": value, "channelArn": CHANNEL_ARN, "tags": {}}


# One session for every test's client: it caches the loaded service model (a new session per
# client costs most of a second).
SESSION = boto3.session.Session()


def stub_client():
    return SESSION.client(
        "ivs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def client():
    return stub_client()


@pytest.fixture
def stubber(client):
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def backend(client, stubber, settings):
    settings.IVS_RECORDING_CONFIGURATION_ARN = RECORDING_ARN
    settings.IVS_CHANNEL_TYPE = "STANDARD"
    return IVSBackend(client=client)


@pytest.fixture
def requests_made(client):
    """The IVS operations the client started (counted before parameter validation and stubs)."""
    made = []
    client.meta.events.register("before-parameter-build.ivs", lambda model, **kwargs: made.append(model.name))
    return made


def test_ivs_backend_implements_the_protocol():
    assert isinstance(IVSBackend(client=stub_client()), VideoBackend)
    assert IVSBackend.name == "ivs"


# create_channel --------------------------------------------------------------------------------


def test_create_channel_sends_the_configured_channel_and_returns_its_urls_and_key(backend, stubber):
    stubber.add_response(
        "create_channel",
        {"channel": channel_shape(), "streamKey": stream_key_shape()},
        {
            "name": "brand-42-event-7",
            "type": "STANDARD",
            "latencyMode": "LOW",
            "authorized": False,
            "insecureIngest": False,
            "recordingConfigurationArn": RECORDING_ARN,
        },
    )

    channel = backend.create_channel("brand-42-event-7")

    assert channel == Channel(
        id=CHANNEL_ARN,
        ingest_url=f"rtmps://{INGEST_ENDPOINT}:443/app/",
        playback_url=PLAYBACK_URL,
        stream_key=STREAM_KEY,
    )
    assert STREAM_KEY not in repr(channel)


def test_create_channel_maps_latency_privacy_and_no_recording(backend, stubber, settings):
    settings.IVS_CHANNEL_TYPE = "BASIC"
    stubber.add_response(
        "create_channel",
        {"channel": channel_shape(latencyMode="NORMAL", authorized=True), "streamKey": stream_key_shape()},
        {"name": "x", "type": "BASIC", "latencyMode": "NORMAL", "authorized": True, "insecureIngest": False},
    )

    backend.create_channel("x", latency=LATENCY_NORMAL, record=False, private=True)


def test_create_channel_sanitizes_the_name_to_what_ivs_accepts(backend, stubber):
    name = "Northwind: Spring drop / live! " + "x" * 200
    expected = "Northwind-Spring-drop-live-" + "x" * (128 - len("Northwind-Spring-drop-live-"))
    stubber.add_response(
        "create_channel",
        {"channel": channel_shape(), "streamKey": stream_key_shape()},
        {
            "name": expected,
            "type": "STANDARD",
            "latencyMode": "LOW",
            "authorized": False,
            "insecureIngest": False,
            "recordingConfigurationArn": RECORDING_ARN,
        },
    )

    backend.create_channel(name)

    assert len(expected) == 128


def test_create_channel_with_recording_but_no_configuration_says_to_run_ivs_setup(
    backend, settings, requests_made
):
    settings.IVS_RECORDING_CONFIGURATION_ARN = ""

    with pytest.raises(VideoBackendError, match=r"manage\.py ivs_setup"):
        backend.create_channel("event", record=True)
    assert requests_made == []


@pytest.mark.parametrize(
    ("setting", "value", "kwargs", "match"),
    [
        ("IVS_CHANNEL_TYPE", "PREMIUM", {}, "IVS_CHANNEL_TYPE"),
        ("IVS_CHANNEL_TYPE", "STANDARD", {"latency": "ultra"}, "Latency"),
        ("IVS_RECORDING_CONFIGURATION_ARN", "not-an-arn", {}, "recording-configuration ARN"),
    ],
)
def test_create_channel_checks_enums_and_arns_itself_because_the_sdk_does_not(
    backend, settings, requests_made, setting, value, kwargs, match
):
    setattr(settings, setting, value)

    with pytest.raises(VideoBackendError, match=match):
        backend.create_channel("event", **kwargs)
    assert requests_made == []


def test_create_channel_over_quota_is_backend_unavailable(backend, stubber):
    stubber.add_client_error(
        "create_channel",
        service_error_code="ServiceQuotaExceededException",
        service_message="Channel quota exceeded",
        http_status_code=402,
    )

    with pytest.raises(BackendUnavailable, match="quota"):
        backend.create_channel("event")


def test_create_channel_on_an_unverified_account_is_backend_unavailable(backend, stubber):
    stubber.add_client_error("create_channel", service_error_code="PendingVerification", http_status_code=403)

    with pytest.raises(BackendUnavailable, match="pending verification"):
        backend.create_channel("event")


# delete_channel --------------------------------------------------------------------------------


def test_delete_channel_deletes_by_arn(backend, stubber):
    stubber.add_response("delete_channel", {}, {"arn": CHANNEL_ARN})

    backend.delete_channel(CHANNEL_ARN)


def test_delete_channel_of_an_unknown_channel_is_quiet(backend, stubber, caplog):
    stubber.add_client_error(
        "delete_channel", service_error_code="ResourceNotFoundException", http_status_code=404
    )

    with caplog.at_level(logging.WARNING, logger="liveshop.video.ivs"):
        backend.delete_channel(CHANNEL_ARN)
    assert caplog.records == []


def test_delete_channel_refuses_a_live_channel_without_stopping_it(backend, stubber):
    stubber.add_client_error(
        "delete_channel",
        service_error_code="ConflictException",
        service_message="Channel is live",
        http_status_code=409,
    )

    with pytest.raises(VideoBackendError, match="stop the stream") as excinfo:
        backend.delete_channel(CHANNEL_ARN)
    assert type(excinfo.value) is VideoBackendError  # no StopStream was queued, none was made


def test_a_channel_id_from_another_backend_is_refused_before_any_request(backend, requests_made):
    with pytest.raises(VideoBackendError, match="not an IVS channel ARN"):
        backend.delete_channel("local-channel-7")
    assert requests_made == []


# stream keys -----------------------------------------------------------------------------------


def test_get_stream_key_lists_the_key_then_reads_its_value(backend, stubber):
    stubber.add_response(
        "list_stream_keys",
        {"streamKeys": [{"arn": KEY_ARN, "channelArn": CHANNEL_ARN, "tags": {}}]},
        {"channelArn": CHANNEL_ARN},
    )
    stubber.add_response("get_stream_key", {"streamKey": stream_key_shape()}, {"arn": KEY_ARN})

    assert backend.get_stream_key(CHANNEL_ARN) == STREAM_KEY


def test_get_stream_key_of_a_channel_without_key_says_to_rotate(backend, stubber):
    stubber.add_response("list_stream_keys", {"streamKeys": []}, {"channelArn": CHANNEL_ARN})

    with pytest.raises(VideoBackendError, match="rotate"):
        backend.get_stream_key(CHANNEL_ARN)


def test_get_stream_key_of_an_unknown_channel_is_channel_not_found(backend, stubber):
    stubber.add_client_error(
        "list_stream_keys", service_error_code="ResourceNotFoundException", http_status_code=404
    )

    with pytest.raises(ChannelNotFound):
        backend.get_stream_key(CHANNEL_ARN)


def test_rotate_stream_key_revokes_the_key_before_stopping_the_stream(backend, stubber):
    stubber.add_response(
        "list_stream_keys",
        {"streamKeys": [{"arn": KEY_ARN, "channelArn": CHANNEL_ARN, "tags": {}}]},
        {"channelArn": CHANNEL_ARN},
    )
    stubber.add_response("delete_stream_key", {}, {"arn": KEY_ARN})
    stubber.add_response("stop_stream", {}, {"channelArn": CHANNEL_ARN})
    stubber.add_response(
        "create_stream_key",
        {"streamKey": stream_key_shape(NEW_KEY_ARN, NEW_STREAM_KEY)},
        {"channelArn": CHANNEL_ARN},
    )

    assert backend.rotate_stream_key(CHANNEL_ARN) == NEW_STREAM_KEY


def test_rotate_stream_key_of_an_offline_channel_ignores_channel_not_broadcasting(backend, stubber):
    stubber.add_response(
        "list_stream_keys",
        {"streamKeys": [{"arn": KEY_ARN, "channelArn": CHANNEL_ARN, "tags": {}}]},
        {"channelArn": CHANNEL_ARN},
    )
    stubber.add_response("delete_stream_key", {}, {"arn": KEY_ARN})
    stubber.add_client_error("stop_stream", service_error_code="ChannelNotBroadcasting", http_status_code=404)
    stubber.add_response(
        "create_stream_key",
        {"streamKey": stream_key_shape(NEW_KEY_ARN, NEW_STREAM_KEY)},
        {"channelArn": CHANNEL_ARN},
    )

    assert backend.rotate_stream_key(CHANNEL_ARN) == NEW_STREAM_KEY


def test_rotate_stream_key_after_an_interrupted_rotation_just_creates_a_key(backend, stubber):
    stubber.add_response("list_stream_keys", {"streamKeys": []}, {"channelArn": CHANNEL_ARN})
    stubber.add_client_error("stop_stream", service_error_code="ChannelNotBroadcasting", http_status_code=404)
    stubber.add_response(
        "create_stream_key",
        {"streamKey": stream_key_shape(NEW_KEY_ARN, NEW_STREAM_KEY)},
        {"channelArn": CHANNEL_ARN},
    )

    assert backend.rotate_stream_key(CHANNEL_ARN) == NEW_STREAM_KEY


# get_stream ------------------------------------------------------------------------------------


def test_get_stream_of_a_live_channel(backend, stubber):
    started = datetime(2024, 6, 12, 10, 23, 43, tzinfo=UTC)
    stubber.add_response(
        "get_stream",
        {
            "stream": {
                "channelArn": CHANNEL_ARN,
                "streamId": STREAM_ID,
                "playbackUrl": PLAYBACK_URL,
                "startTime": started,
                "state": "LIVE",
                "health": "HEALTHY",
                "viewerCount": 42,
            }
        },
        {"channelArn": CHANNEL_ARN},
    )

    assert backend.get_stream(CHANNEL_ARN) == StreamState(
        live=True, stream_id=STREAM_ID, started_at=started, viewer_count=42, health="healthy"
    )


def test_get_stream_reports_an_unknown_viewer_count_as_none(backend, stubber):
    stubber.add_response(
        "get_stream",
        {
            "stream": {
                "channelArn": CHANNEL_ARN,
                "streamId": STREAM_ID,
                "state": "LIVE",
                "health": "STARVING",
                "viewerCount": -1,
            }
        },
        {"channelArn": CHANNEL_ARN},
    )

    state = backend.get_stream(CHANNEL_ARN)

    assert (state.viewer_count, state.health) == (None, "starving")


def test_get_stream_of_an_offline_channel_is_none(backend, stubber, caplog):
    stubber.add_client_error("get_stream", service_error_code="ChannelNotBroadcasting", http_status_code=404)

    with caplog.at_level(logging.WARNING, logger="liveshop.video.ivs"):
        assert backend.get_stream(CHANNEL_ARN) is None
    assert caplog.records == []  # a normal answer, not a warning


def test_get_stream_answering_offline_is_none(backend, stubber):
    stubber.add_response(
        "get_stream",
        {"stream": {"channelArn": CHANNEL_ARN, "streamId": STREAM_ID, "state": "OFFLINE"}},
        {"channelArn": CHANNEL_ARN},
    )

    assert backend.get_stream(CHANNEL_ARN) is None


def test_get_stream_when_access_is_denied_is_backend_unavailable(backend, stubber):
    stubber.add_client_error(
        "get_stream",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ivs:GetStream",
        http_status_code=403,
    )

    with pytest.raises(BackendUnavailable, match="IAM permissions"):
        backend.get_stream(CHANNEL_ARN)


# put_metadata ----------------------------------------------------------------------------------


def test_put_metadata_sends_the_payload(backend, stubber):
    payload = '{"v":1,"type":"feature","productId":12,"highlightId":7}'
    stubber.add_response("put_metadata", {}, {"channelArn": CHANNEL_ARN, "metadata": payload})

    backend.put_metadata(CHANNEL_ARN, payload)


def test_put_metadata_accepts_exactly_1000_utf8_bytes(backend, stubber):
    payload = "é" * 500
    assert len(payload.encode()) == MAX_METADATA_BYTES
    stubber.add_response("put_metadata", {}, {"channelArn": CHANNEL_ARN, "metadata": payload})

    backend.put_metadata(CHANNEL_ARN, payload)


def test_put_metadata_of_1001_utf8_bytes_raises_before_any_request(backend, stubber, requests_made):
    payload = "é" * 500 + "x"  # 501 characters: a character count would let it through
    assert len(payload.encode()) == MAX_METADATA_BYTES + 1

    with pytest.raises(PayloadTooLarge):
        backend.put_metadata(CHANNEL_ARN, payload)
    assert requests_made == []
    assert not stubber._queue  # nothing queued, nothing consumed


def test_put_metadata_with_a_lone_surrogate_raises_a_gateway_error_before_any_request(
    backend, stubber, requests_made
):
    with pytest.raises(InvalidMetadata, match="UTF-8") as caught:
        backend.put_metadata(CHANNEL_ARN, '{"v":1,"name":"\udcff"}')
    assert isinstance(caught.value, VideoBackendError)
    assert requests_made == []
    assert not stubber._queue


def test_put_metadata_of_an_empty_payload_raises_before_any_request(backend, requests_made):
    with pytest.raises(VideoBackendError, match="empty"):
        backend.put_metadata(CHANNEL_ARN, "")
    assert requests_made == []


def test_put_metadata_when_throttled_raises_throttled(backend, stubber):
    stubber.add_client_error(
        "put_metadata",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        http_status_code=429,
    )

    with pytest.raises(Throttled):
        backend.put_metadata(CHANNEL_ARN, '{"v":1}')


def test_put_metadata_on_an_offline_channel_raises_channel_not_live(backend, stubber):
    stubber.add_client_error(
        "put_metadata", service_error_code="ChannelNotBroadcasting", http_status_code=404
    )

    with pytest.raises(ChannelNotLive):
        backend.put_metadata(CHANNEL_ARN, '{"v":1}')


def test_put_metadata_on_an_unknown_channel_raises_channel_not_found(backend, stubber):
    stubber.add_client_error(
        "put_metadata", service_error_code="ResourceNotFoundException", http_status_code=404
    )

    with pytest.raises(ChannelNotFound):
        backend.put_metadata(CHANNEL_ARN, '{"v":1}')


def test_put_metadata_error_messages_never_echo_the_payload(backend, stubber):
    payload = '{"v":1,"secret":"s3cr3t-cue"}'
    stubber.add_client_error(
        "put_metadata",
        service_error_code="ValidationException",
        service_message=f"Value {payload} at 'metadata' failed to satisfy constraint",
        http_status_code=400,
    )

    with pytest.raises(VideoBackendError) as excinfo:
        backend.put_metadata(CHANNEL_ARN, payload)
    assert "s3cr3t-cue" not in str(excinfo.value)
    assert "[redacted]" in str(excinfo.value)
    assert (
        excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    )  # no SDK error in tracebacks


# stop_stream -----------------------------------------------------------------------------------


def test_stop_stream_stops_the_channel(backend, stubber):
    stubber.add_response("stop_stream", {}, {"channelArn": CHANNEL_ARN})

    backend.stop_stream(CHANNEL_ARN)


def test_stop_stream_of_an_offline_channel_is_quiet(backend, stubber):
    stubber.add_client_error("stop_stream", service_error_code="ChannelNotBroadcasting", http_status_code=404)

    backend.stop_stream(CHANNEL_ARN)


def test_stop_stream_when_the_stream_is_unavailable_is_backend_unavailable(backend, stubber):
    stubber.add_client_error("stop_stream", service_error_code="StreamUnavailable", http_status_code=503)

    with pytest.raises(BackendUnavailable):
        backend.stop_stream(CHANNEL_ARN)


# SDK errors that are not service answers -------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_endpoint_is_backend_unavailable(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.IVS_ENDPOINT_URL = f"http://127.0.0.1:{_closed_port()}"

    with pytest.raises(BackendUnavailable, match="could not be reached"):
        IVSBackend().get_stream(CHANNEL_ARN)


def test_missing_credentials_are_backend_unavailable(settings, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    settings.IVS_ENDPOINT_URL = f"http://127.0.0.1:{_closed_port()}"

    with pytest.raises(BackendUnavailable, match="credentials"):
        IVSBackend().put_metadata(CHANNEL_ARN, '{"v":1}')


def test_the_backend_builds_its_client_from_the_settings_on_first_use(settings):
    settings.IVS_REGION = "eu-central-1"
    settings.IVS_ENDPOINT_URL = "http://127.0.0.1:4566"
    backend = IVSBackend()

    assert backend._client is None
    assert backend.client.meta.region_name == "eu-central-1"
    assert backend.client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert backend.client is backend.client


class _WireBody:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs):
        yield self.body


class Wire:
    """Answers every request with ``answer`` = (HTTP status, x-amzn-ErrorType or None, body)."""

    def __init__(self, client) -> None:
        self.backend = IVSBackend(client=client)
        self.answer: tuple[int, str | None, bytes] = (204, None, b"")
        self.sent: list[str] = []
        client.meta.events.register("before-send.ivs", self.send)

    def send(self, request, **kwargs):
        self.sent.append(request.url)
        status, error_type, body = self.answer
        headers = {"content-type": "application/json", "x-amzn-RequestId": "req-1"}
        if error_type:
            headers["x-amzn-ErrorType"] = f"{error_type}:http://internal.amazon.com/coral/com.amazonaws.ivs/"
        response = AWSResponse(request.url, status, headers, _WireBody(body))
        response._content = body
        return response


@pytest.fixture
def wire(settings, monkeypatch):
    """A real client from ivs_client() (its retry settings apply) whose HTTP answers are made up
    here, without network, and parsed by botocore as it parses IVS's."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.IVS_REGION = REGION
    settings.IVS_ENDPOINT_URL = ""
    return Wire(ivs.ivs_client())


def test_ivs_error_messages_arrive_outside_botocores_error_dict_and_are_kept(wire):
    # IVS (rest-json) sends {"exceptionMessage": ...}; botocore leaves Error.Message empty.
    wire.answer = (404, "ChannelNotBroadcasting", b'{"exceptionMessage": "Channel is not broadcasting"}')

    with pytest.raises(ChannelNotLive, match="Channel is not broadcasting"):
        wire.backend.put_metadata(CHANNEL_ARN, '{"v":1}')
    assert len(wire.sent) == 1


def test_a_throttled_call_is_retried_once_by_the_sdk_then_raises_throttled(wire):
    wire.answer = (429, "ThrottlingException", b'{"exceptionMessage": "Rate exceeded"}')

    with pytest.raises(Throttled, match="Rate exceeded"):
        wire.backend.put_metadata(CHANNEL_ARN, '{"v":1}')
    assert wire.sent == ["https://ivs.us-west-2.amazonaws.com/PutMetadata"] * 2


def test_a_successful_wire_answer_is_parsed(wire):
    wire.answer = (204, None, b"")

    wire.backend.put_metadata(CHANNEL_ARN, '{"v":1}')


def test_an_unknown_error_code_is_still_a_gateway_error(backend, stubber):
    stubber.add_client_error("stop_stream", service_error_code="SomethingNew", http_status_code=418)

    with pytest.raises(VideoBackendError):
        backend.stop_stream(CHANNEL_ARN)


# logging ---------------------------------------------------------------------------------------


def test_errors_are_logged_with_context_but_never_keys_or_payloads(backend, stubber, caplog):
    payload = '{"v":1,"productId":"cue-payload-contents"}'
    stubber.add_response("create_channel", {"channel": channel_shape(), "streamKey": stream_key_shape()})
    stubber.add_response(
        "list_stream_keys",
        {"streamKeys": [{"arn": KEY_ARN, "channelArn": CHANNEL_ARN, "tags": {}}]},
        {"channelArn": CHANNEL_ARN},
    )
    stubber.add_response("get_stream_key", {"streamKey": stream_key_shape()}, {"arn": KEY_ARN})
    stubber.add_client_error(
        "put_metadata",
        service_error_code="ThrottlingException",
        service_message=f"Rate exceeded for {payload}",
        http_status_code=429,
    )

    with caplog.at_level(logging.DEBUG, logger="liveshop.video.ivs"):
        channel = backend.create_channel("brand-42-event-7")
        backend.get_stream_key(channel.id)
        with pytest.raises(Throttled):
            backend.put_metadata(channel.id, payload)

    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert (warning.ivs_operation, warning.ivs_error_code) == ("put_metadata", "ThrottlingException")
    assert warning.ivs_resource_arn == CHANNEL_ARN
    logged = caplog.text + "".join(repr(vars(record)) for record in caplog.records)
    for secret in (STREAM_KEY, "cue-payload-contents"):
        assert secret not in logged


# playback tokens -------------------------------------------------------------------------------


@pytest.fixture
def playback_key(settings):
    key = ec.generate_private_key(ec.SECP384R1())
    settings.IVS_PLAYBACK_PRIVATE_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings.IVS_PLAYBACK_TOKEN_TTL = 3600
    settings.IVS_PLAYBACK_ALLOWED_ORIGIN = ""
    return key


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def decode_and_verify(token: str, public_key: ec.EllipticCurvePublicKey) -> tuple[dict, dict]:
    """Verify an ES384 JWT as IVS does; raises InvalidSignature when it does not verify."""
    header, payload, signature = token.split(".")
    raw = _b64decode(signature)
    assert len(raw) == 96
    der = encode_dss_signature(int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big"))
    public_key.verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA384()))
    return json.loads(_b64decode(header)), json.loads(_b64decode(payload))


def test_playback_url_of_a_public_channel_is_unchanged(backend, requests_made):
    url = backend.playback_url_for(channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=False)

    assert url == PLAYBACK_URL
    assert requests_made == []


def test_playback_url_of_a_private_channel_carries_a_verifiable_es384_token(
    backend, playback_key, requests_made
):
    before = int(time.time())

    url = backend.playback_url_for(channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=True)

    base, token = url.split("?token=")
    header, claims = decode_and_verify(token, playback_key.public_key())
    assert base == PLAYBACK_URL
    assert header == {"alg": "ES384", "typ": "JWT"}
    assert claims["aws:channel-arn"] == CHANNEL_ARN
    assert isinstance(claims["exp"], int)
    assert before + 3600 <= claims["exp"] <= int(time.time()) + 3600  # seconds, not milliseconds
    assert "aws:viewer-id" not in claims
    assert requests_made == []


def test_a_token_signed_by_another_key_does_not_verify(backend, playback_key):
    from cryptography.exceptions import InvalidSignature

    url = backend.playback_url_for(channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=True)

    with pytest.raises(InvalidSignature):
        decode_and_verify(url.split("?token=")[1], ec.generate_private_key(ec.SECP384R1()).public_key())


def test_a_viewer_id_token_expires_within_ten_minutes_and_names_the_origin(backend, playback_key, settings):
    settings.IVS_PLAYBACK_ALLOWED_ORIGIN = "https://shop.example.com"

    url = backend.playback_url_for(
        channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=True, viewer_id="v-42"
    )

    _, claims = decode_and_verify(url.split("?token=")[1], playback_key.public_key())
    assert claims["aws:viewer-id"] == "v-42"
    assert claims["aws:access-control-allow-origin"] == "https://shop.example.com"
    assert claims["exp"] <= int(time.time()) + 600


def test_a_pem_with_escaped_newlines_from_the_environment_is_accepted(backend, playback_key, settings):
    settings.IVS_PLAYBACK_PRIVATE_KEY = settings.IVS_PLAYBACK_PRIVATE_KEY.replace("\n", "\\n")

    url = backend.playback_url_for(channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=True)

    decode_and_verify(url.split("?token=")[1], playback_key.public_key())


def test_the_playback_token_is_signed_by_pyjwt_and_verifies_with_it(backend, playback_key, monkeypatch):
    import jwt

    signed = []
    real_encode = jwt.encode
    monkeypatch.setattr(
        jwt, "encode", lambda *a, **kw: signed.append(kw["algorithm"]) or real_encode(*a, **kw)
    )

    url = backend.playback_url_for(channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=True)

    token = url.split("?token=")[1]
    assert signed == ["ES384"]  # the library signs, not a hand-written JWS
    claims = jwt.decode(token, playback_key.public_key(), algorithms=["ES384"])
    assert claims["aws:channel-arn"] == CHANNEL_ARN


def test_a_viewer_token_carries_its_issue_time_as_the_session_version(backend, playback_key):
    before = int(time.time())

    url = backend.playback_url_for(
        channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=True, viewer_id="user-7"
    )

    _, claims = decode_and_verify(url.split("?token=")[1], playback_key.public_key())
    assert before <= claims["aws:viewer-session-version"] <= int(time.time())


def test_revoking_a_viewer_ends_the_sessions_of_tokens_issued_until_now(backend, stubber, monkeypatch):
    monkeypatch.setattr(ivs.time, "time", lambda: 1_800_000_000.7)
    stubber.add_response(
        "start_viewer_session_revocation",
        {},
        {
            "channelArn": CHANNEL_ARN,
            "viewerId": "user-7",
            "viewerSessionVersionsLessThanOrEqualTo": 1_800_000_000,
        },
    )

    backend.revoke_viewer_sessions(CHANNEL_ARN, "user-7")

    stubber.assert_no_pending_responses()
    assert isinstance(backend, RevokesViewerSessions)


def test_revoking_a_viewer_maps_errors_and_checks_the_viewer_id(backend, stubber):
    stubber.add_client_error("start_viewer_session_revocation", "ThrottlingException", http_status_code=429)

    with pytest.raises(Throttled):
        backend.revoke_viewer_sessions(CHANNEL_ARN, "user-7")
    with pytest.raises(VideoBackendError, match="viewer id"):
        backend.revoke_viewer_sessions(CHANNEL_ARN, "x" * 41)


def test_private_playback_without_a_key_says_which_setting_is_missing(backend, settings):
    settings.IVS_PLAYBACK_PRIVATE_KEY = ""

    with pytest.raises(VideoBackendError, match="IVS_PLAYBACK_PRIVATE_KEY"):
        backend.playback_url_for(channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=True)


def test_private_playback_refuses_a_key_that_is_not_p384(backend, settings):
    settings.IVS_PLAYBACK_PRIVATE_KEY = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )

    with pytest.raises(VideoBackendError, match="P-384"):
        backend.playback_url_for(channel_id=CHANNEL_ARN, playback_url=PLAYBACK_URL, private=True)


# moto: channel create/delete with a real client ------------------------------------------------


@pytest.fixture
def moto_ivs(monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.session.Session().client("ivs", region_name=REGION)


def test_create_and_delete_a_channel_against_moto(moto_ivs):
    backend = IVSBackend(client=moto_ivs)

    channel = backend.create_channel("Brand 42 event 7", record=False, private=True)

    [summary] = moto_ivs.list_channels()["channels"]
    assert (summary["arn"], summary["name"], summary["authorized"]) == (channel.id, "Brand-42-event-7", True)
    assert channel.ingest_url.startswith("rtmps://") and channel.ingest_url.endswith(":443/app/")
    assert channel.stream_key.startswith("sk_")
    backend.delete_channel(channel.id)
    backend.delete_channel(channel.id)  # idempotent
    assert moto_ivs.list_channels()["channels"] == []


def test_moto_lacks_put_metadata_and_the_answer_is_still_a_gateway_error(moto_ivs):
    backend = IVSBackend(client=moto_ivs)
    channel = backend.create_channel("event", record=False)

    with pytest.raises(VideoBackendError):
        backend.put_metadata(channel.id, '{"v":1}')


def test_call_is_the_one_error_mapper_for_other_modules(client, stubber):
    stubber.add_client_error(
        "get_recording_configuration", service_error_code="ResourceNotFoundException", http_status_code=404
    )

    with pytest.raises(ChannelNotFound, match="GetRecordingConfiguration"):
        ivs.call(client, "get_recording_configuration", arn=RECORDING_ARN)


def test_warm_up_builds_the_ivs_client_before_the_first_call(settings):
    from liveshop.video import get_video_backend, warm_up

    settings.VIDEO_BACKEND = "ivs"
    settings.IVS_REGION = "us-west-2"
    get_video_backend.cache_clear()
    try:
        warm_up()
        backend = get_video_backend()
        assert backend._client is not None
        assert backend._client.meta.service_model.service_name == "ivs"
    finally:
        get_video_backend.cache_clear()
