"""Amazon IVS behind the video gateway: the only module that builds a boto3 "ivs" client.

Every SDK error leaves this module as a gateway error (``call``), logged with ``extra=`` and
without secrets: stream keys, playback tokens and metadata payloads never reach a log record or an
exception message. Limits the SDK does not check (enums, the 1 KB metadata cap, ARN shapes) are
checked here before any request is made. Field names and limits: shared/reference/ivs.md.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any

import boto3
import jwt
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    StubResponseError,
)
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from liveshop.video.base import (
    LATENCY_LOW,
    LATENCY_NORMAL,
    BackendUnavailable,
    Channel,
    ChannelNotFound,
    ChannelNotLive,
    StreamState,
    Throttled,
    VideoBackendError,
    check_metadata,
)

logger = logging.getLogger(__name__)

CHANNEL_TYPES = ("BASIC", "STANDARD", "ADVANCED_SD", "ADVANCED_HD")
LATENCY_MODES = {LATENCY_LOW: "LOW", LATENCY_NORMAL: "NORMAL"}
CHANNEL_NAME_MAX_LENGTH = 128
CHANNEL_ARN = re.compile(r"arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/[a-zA-Z0-9-]+")
RECORDING_CONFIGURATION_ARN = re.compile(
    r"arn:aws:ivs:[a-z0-9-]+:[0-9]+:recording-configuration/[a-zA-Z0-9-]+"
)
ARN_MAX_LENGTH = 128
# A token with an aws:viewer-id claim is refused when it expires more than 10 minutes ahead.
VIEWER_ID_MAX_TTL = 600
VIEWER_ID_MAX_LENGTH = 40

NOT_BROADCASTING = "ChannelNotBroadcasting"
NOT_FOUND = "ResourceNotFoundException"
CONFLICT = "ConflictException"

# A throttled PutMetadata is retried by a Celery task (a cue seconds late is a wrong cue), so the
# SDK retries once (a dropped connection, a 5 TPS control-plane blip) instead of its default four.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=5,
    read_timeout=10,
    user_agent_extra="liveshop",
)

# IVS error code -> (gateway error, a message safe to show a host). Other codes: VideoBackendError.
ERRORS: dict[str, tuple[type[VideoBackendError], str]] = {
    "ThrottlingException": (Throttled, "IVS is throttling calls (PutMetadata: 5 per second per channel)"),
    NOT_BROADCASTING: (ChannelNotLive, "The channel is not live"),
    NOT_FOUND: (ChannelNotFound, "IVS has no such channel or resource"),
    "AccessDeniedException": (
        BackendUnavailable,
        "IVS denied access: check the IAM permissions of the AWS credentials in use",
    ),
    "PendingVerification": (
        BackendUnavailable,
        "The AWS account is pending verification; until then IVS refuses to create, update or delete",
    ),
    "ServiceQuotaExceededException": (
        BackendUnavailable,
        "An IVS service quota is used up (see the AWS Service Quotas console)",
    ),
    "InternalServerException": (BackendUnavailable, "IVS had an internal error; try again"),
    "StreamUnavailable": (BackendUnavailable, "IVS cannot act on the stream right now; try again"),
    CONFLICT: (VideoBackendError, "IVS refused the change because of the resource's current state"),
    "ValidationException": (VideoBackendError, "IVS rejected the request as invalid"),
}
# Request members the service model flags as sensitive: never echoed into messages or logs.
SENSITIVE_PARAMS = ("metadata",)


def ivs_client():
    """A new boto3 IVS client for IVS_REGION (and IVS_ENDPOINT_URL when set). The only place
    Liveshop builds one; its own session, because boto3's default session is not thread-safe."""
    return boto3.session.Session().client(
        "ivs",
        region_name=settings.IVS_REGION,
        endpoint_url=settings.IVS_ENDPOINT_URL or None,
        config=CLIENT_CONFIG,
    )


def call(
    client,
    operation: str,
    *,
    quiet: Collection[str] = (),
    messages: Mapping[str, str] | None = None,
    **params: Any,
) -> dict:
    """Run one IVS operation (the boto3 method name); every SDK error comes out as a gateway error.

    Error codes in ``quiet`` are normal answers for the caller (ChannelNotBroadcasting from
    GetStream) and are logged at DEBUG instead of WARNING; ``messages`` overrides the message
    for some codes."""
    try:
        return getattr(client, operation)(**params)
    except ClientError as exc:
        error = _client_error(exc, params, messages or {})
        _log_failure(operation, params, exc, quiet)
        # No chained SDK exception: a traceback would print AWS's raw message, which may quote
        # a parameter (the metadata payload); the gateway error carries a redacted copy.
        raise error from None
    except StubResponseError:
        raise  # botocore.stub's report of a test's mismatched request: let the test fail loudly
    except BotoCoreError as exc:
        _log_failure(operation, params, exc, quiet)
        raise _botocore_error(operation, exc) from None  # ParamValidationError quotes values


def _client_error(
    exc: ClientError, params: Mapping[str, Any], messages: Mapping[str, str]
) -> VideoBackendError:
    code = exc.response.get("Error", {}).get("Code", "")
    error_class, hint = ERRORS.get(code, (VideoBackendError, "The IVS request failed"))
    detail = _aws_message(exc, params)
    message = messages.get(code, hint)
    return error_class(f"{message} ({exc.operation_name} {code}{': ' + detail if detail else ''}).")


def _aws_message(exc: ClientError, params: Mapping[str, Any]) -> str:
    # rest-json errors carry "exceptionMessage", which botocore puts beside "Error", not in it.
    message = exc.response.get("Error", {}).get("Message") or exc.response.get("exceptionMessage") or ""
    for name in SENSITIVE_PARAMS:
        if params.get(name):
            message = message.replace(str(params[name]), "[redacted]")
    return message[:300]


def _botocore_error(operation: str, exc: BotoCoreError) -> VideoBackendError:
    if isinstance(exc, ParamValidationError):
        return VideoBackendError(f"Liveshop built an invalid IVS {operation} request.")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return BackendUnavailable(
            "No usable AWS credentials for IVS (environment, profile or instance role)."
        )
    return BackendUnavailable(f"IVS could not be reached: {exc}.")


def _log_failure(operation: str, params: Mapping[str, Any], exc: Exception, quiet: Collection[str]) -> None:
    response = getattr(exc, "response", {})
    code = response.get("Error", {}).get("Code", "") if response else type(exc).__name__
    extra = {
        "ivs_operation": operation,
        "ivs_error_code": code,
        "ivs_resource_arn": params.get("channelArn") or params.get("arn") or "",
        "aws_request_id": response.get("ResponseMetadata", {}).get("RequestId", "") if response else "",
        "aws_message": _aws_message(exc, params) if response else "",
    }
    level = logging.DEBUG if code in quiet else logging.WARNING
    logger.log(level, "IVS %s failed: %s", operation, code, extra=extra)


def channel_name(name: str) -> str:
    """``name`` as IVS accepts it: runs of other characters become "-", at most 128 characters."""
    return re.sub(r"[^a-zA-Z0-9_-]+", "-", name).strip("-")[:CHANNEL_NAME_MAX_LENGTH]


def channel_arn(channel_id: str) -> str:
    """The channel id checked as an IVS channel ARN (the SDK does not check patterns)."""
    if len(channel_id) > ARN_MAX_LENGTH or not CHANNEL_ARN.fullmatch(channel_id):
        raise VideoBackendError(
            f"{channel_id[:ARN_MAX_LENGTH]!r} is not an IVS channel ARN (made by another video backend?)."
        )
    return channel_id


def _channel_type() -> str:
    if settings.IVS_CHANNEL_TYPE not in CHANNEL_TYPES:
        raise VideoBackendError(f"IVS_CHANNEL_TYPE must be one of {', '.join(CHANNEL_TYPES)}.")
    return settings.IVS_CHANNEL_TYPE


def _latency_mode(latency: str) -> str:
    try:
        return LATENCY_MODES[latency]
    except KeyError:
        raise VideoBackendError(f"Latency must be one of {', '.join(LATENCY_MODES)}.") from None


def _recording_configuration_arn() -> str:
    arn = settings.IVS_RECORDING_CONFIGURATION_ARN
    if not arn:
        raise VideoBackendError(
            "Recording needs IVS_RECORDING_CONFIGURATION_ARN: run `manage.py ivs_setup` to create the "
            "recording configuration and print the setting."
        )
    if len(arn) > ARN_MAX_LENGTH or not RECORDING_CONFIGURATION_ARN.fullmatch(arn):
        raise VideoBackendError("IVS_RECORDING_CONFIGURATION_ARN is not a recording-configuration ARN.")
    return arn


class IVSBackend:
    """The video gateway on Amazon IVS. ``client`` is for tests; otherwise one is built on first use."""

    name = "ivs"
    stores_stream_keys = True  # IVS keeps the key: read it with get_stream_key

    def __init__(self, client=None) -> None:
        self._client = client
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Build the boto3 client (and load its service model) ahead of the first call."""
        _ = self.client

    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = ivs_client()
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> dict:
        return call(self.client, operation, **kwargs)

    def create_channel(
        self, name: str, *, latency: str = LATENCY_LOW, record: bool = True, private: bool = False
    ) -> Channel:
        """CreateChannel, which also makes its one stream key. Not idempotent: every call makes a
        new channel. Recording uses IVS_RECORDING_CONFIGURATION_ARN (see ``manage.py ivs_setup``)."""
        params = {
            "name": channel_name(name),
            "type": _channel_type(),
            "latencyMode": _latency_mode(latency),
            "authorized": private,
            "insecureIngest": False,
        }
        if record:
            params["recordingConfigurationArn"] = _recording_configuration_arn()
        response = self._call("create_channel", **params)
        channel = response["channel"]
        logger.info("Created IVS channel", extra={"ivs_resource_arn": channel["arn"]})
        return Channel(
            id=channel["arn"],
            ingest_url=f"rtmps://{channel['ingestEndpoint']}:443/app/",
            playback_url=channel["playbackUrl"],
            stream_key=response["streamKey"]["value"],
        )

    def delete_channel(self, channel_id: str) -> None:
        """DeleteChannel (IVS deletes its stream key too). Idempotent: an unknown channel is fine.

        IVS refuses to delete a live channel (409 ConflictException); its documented sequence is
        StopStream, wait for the "Stream End" event, then DeleteChannel. A StopStream here would
        not make an immediate delete succeed, so this stops nothing: it raises VideoBackendError,
        and the caller stops the stream and deletes again once the stream has ended."""
        try:
            self._call(
                "delete_channel",
                quiet=(NOT_FOUND,),
                messages={CONFLICT: "The channel is live: stop the stream, then delete it once it has ended"},
                arn=channel_arn(channel_id),
            )
        except ChannelNotFound:
            return

    def get_stream_key(self, channel_id: str) -> str:
        """ListStreamKeys then GetStreamKey: the channel's one key (a secret). Reads only."""
        keys = self._call("list_stream_keys", channelArn=channel_arn(channel_id))["streamKeys"]
        if not keys:
            # Only after a rotation was cut off between DeleteStreamKey and CreateStreamKey.
            raise VideoBackendError("The channel has no stream key: rotate the key to make one.")
        return self._call("get_stream_key", arn=keys[0]["arn"])["streamKey"]["value"]

    def rotate_stream_key(self, channel_id: str) -> str:
        """DeleteStreamKey, StopStream (if live), CreateStreamKey; returns the new key.

        The key is revoked *before* the stream is stopped (ivs.md 1.4: encoders auto-reconnect,
        so stopping first leaves a window to come back on the old key). Safe to call again after
        a failure part-way: a channel left without a key just gets a new one."""
        arn = channel_arn(channel_id)
        for key in self._call("list_stream_keys", channelArn=arn)["streamKeys"]:
            with contextlib.suppress(ChannelNotFound):  # a concurrent rotation deleted it first
                self._call("delete_stream_key", quiet=(NOT_FOUND,), arn=key["arn"])
        self.stop_stream(channel_id)
        return self._call("create_stream_key", channelArn=arn)["streamKey"]["value"]

    def get_stream(self, channel_id: str) -> StreamState | None:
        """GetStream: the live stream, or None when IVS says the channel is not broadcasting."""
        try:
            response = self._call("get_stream", quiet=(NOT_BROADCASTING,), channelArn=channel_arn(channel_id))
        except ChannelNotLive:
            return None
        stream = response["stream"]
        if stream.get("state") == "OFFLINE":  # the model warns it may answer this instead of 404
            return None
        viewers = stream.get("viewerCount")
        return StreamState(
            live=True,
            stream_id=stream.get("streamId"),
            started_at=stream.get("startTime"),
            viewer_count=viewers if viewers is not None and viewers >= 0 else None,  # -1: timed out
            health=stream.get("health", "UNKNOWN").lower(),
        )

    def put_metadata(self, channel_id: str, payload: str) -> None:
        """PutMetadata: a timed cue in the live stream. The size is checked first (no request is
        made for an oversize payload); raises ChannelNotLive, Throttled (5 calls/s per channel)."""
        check_metadata(payload)
        self._call(
            "put_metadata", quiet=(NOT_BROADCASTING,), channelArn=channel_arn(channel_id), metadata=payload
        )

    def stop_stream(self, channel_id: str) -> None:
        """StopStream: drops the current publisher (who may reconnect: rotate the key to prevent
        that). Idempotent: an offline channel is not an error."""
        try:
            self._call("stop_stream", quiet=(NOT_BROADCASTING,), channelArn=channel_arn(channel_id))
        except ChannelNotLive:
            return

    def revoke_viewer_sessions(self, channel_id: str, viewer_id: str) -> None:
        """StartViewerSessionRevocation for every token issued to ``viewer_id`` until now: tokens
        carry their issue time as ``aws:viewer-session-version``, so later ones still play."""
        _check_viewer_id(viewer_id)
        self._call(
            "start_viewer_session_revocation",
            channelArn=channel_arn(channel_id),
            viewerId=viewer_id,
            viewerSessionVersionsLessThanOrEqualTo=int(time.time()),
        )

    def playback_url_for(
        self, *, channel_id: str, playback_url: str, private: bool, viewer_id: str | None = None
    ) -> str:
        """``playback_url`` itself for a public channel; for a private one, with ``?token=`` an
        ES384 playback token signed locally (no request). The URL is a secret: do not log it."""
        if not private:
            return playback_url
        token = playback_token(channel_arn(channel_id), viewer_id=viewer_id)
        return f"{playback_url}{'&' if '?' in playback_url else '?'}token={token}"


def playback_token(arn: str, *, viewer_id: str | None = None, now: float | None = None) -> str:
    """A JWT that lets one viewer play a private channel (ivs.md 5): signed with
    IVS_PLAYBACK_PRIVATE_KEY, valid IVS_PLAYBACK_TOKEN_TTL seconds (10 minutes with a viewer id,
    which enables StartViewerSessionRevocation). IVS checks ``exp`` only when playback starts."""
    key = _signing_key(settings.IVS_PLAYBACK_PRIVATE_KEY)
    ttl = settings.IVS_PLAYBACK_TOKEN_TTL
    if ttl <= 0:
        raise VideoBackendError("IVS_PLAYBACK_TOKEN_TTL must be a positive number of seconds.")
    claims: dict[str, Any] = {"aws:channel-arn": arn}
    if settings.IVS_PLAYBACK_ALLOWED_ORIGIN:
        claims["aws:access-control-allow-origin"] = settings.IVS_PLAYBACK_ALLOWED_ORIGIN
    issued = int(time.time() if now is None else now)
    if viewer_id is not None:
        _check_viewer_id(viewer_id)
        claims["aws:viewer-id"] = viewer_id
        # The issue time: revoke_viewer_sessions revokes versions up to "now", not later tokens.
        claims["aws:viewer-session-version"] = issued
        ttl = min(ttl, VIEWER_ID_MAX_TTL)
    claims["exp"] = issued + ttl
    return sign_es384(claims, key)


def _check_viewer_id(viewer_id: str) -> None:
    if not 1 <= len(viewer_id) <= VIEWER_ID_MAX_LENGTH:
        raise VideoBackendError(f"An IVS viewer id has 1 to {VIEWER_ID_MAX_LENGTH} characters.")


def sign_es384(claims: Mapping[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    """A compact JWS (JWT) of ``claims`` signed ES384 by PyJWT, whose signature is the raw 96-byte
    r || s that JWS and IVS expect (not DER)."""
    return jwt.encode(dict(claims), key, algorithm="ES384", headers={"typ": "JWT"})


@functools.lru_cache(maxsize=4)
def _signing_key(pem: str) -> ec.EllipticCurvePrivateKey:
    if not pem.strip():
        raise VideoBackendError(
            "Private playback needs IVS_PLAYBACK_PRIVATE_KEY: the P-384 private key (PEM) whose public "
            "half was imported into IVS as a playback key pair."
        )
    try:
        key = serialization.load_pem_private_key(pem.strip().replace("\\n", "\n").encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise VideoBackendError("IVS_PLAYBACK_PRIVATE_KEY is not an unencrypted PEM private key.") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise VideoBackendError(
            "IVS_PLAYBACK_PRIVATE_KEY must be an ECDSA P-384 (secp384r1) key: IVS verifies ES384."
        )
    return key
