"""Amazon IVS Chat behind the chat gateway: the only module that builds a boto3 "ivschat" client.

Every SDK error leaves as a gateway error (RoomNotFound, Throttled, ChatBackendError), logged
with ``extra=`` and without secrets: tokens and attribute values never reach a log record or an
exception message. Limits the SDK does not check are checked before the call (chat.gateway.base).
Names and limits: shared/reference/wave2-apis.md, section 1."""

from __future__ import annotations

import logging
import re
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, StubResponseError
from django.conf import settings

from chat.gateway.base import (
    EVENT_NAME_MAX,
    REASON_MAX,
    ChatBackendError,
    ChatToken,
    InvalidRequest,
    Room,
    RoomNotFound,
    Throttled,
    check_attributes,
    check_text,
    check_token_request,
)
from chat.models import BODY_MAX

logger = logging.getLogger(__name__)

ROOM_ARN = re.compile(r"arn:aws:ivschat:[a-z0-9-]+:[0-9]+:room/[a-zA-Z0-9-]+")
ROOM_NAME_MAX = 128
MESSAGES_PER_SECOND = 100  # the room's whole rate (the model's maximum); ours is per person
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=5,
    read_timeout=10,
    user_agent_extra="liveshop",
)
ERRORS: dict[str, tuple[type[ChatBackendError], str]] = {
    "ResourceNotFoundException": (RoomNotFound, "IVS Chat has no such room"),
    "ThrottlingException": (Throttled, "IVS Chat is throttling calls"),
    "ServiceQuotaExceededException": (ChatBackendError, "An IVS Chat quota is used up"),
    "AccessDeniedException": (ChatBackendError, "IVS Chat denied access: check the IAM permissions"),
    "PendingVerification": (ChatBackendError, "The AWS account is pending verification"),
    "ValidationException": (ChatBackendError, "IVS Chat rejected the request as invalid"),
    "ConflictException": (ChatBackendError, "IVS Chat refused the change in the room's current state"),
}


def ivschat_client():
    """A new boto3 IVS Chat client for IVS_REGION (own session: the default one is not thread-safe)."""
    return boto3.session.Session().client(
        "ivschat",
        region_name=settings.IVS_REGION,
        endpoint_url=settings.IVS_ENDPOINT_URL or None,
        config=CLIENT_CONFIG,
    )


class IVSChatBackend:
    name = "ivs"

    def __init__(self, client=None):
        self.client = client or ivschat_client()

    def _call(self, operation: str, **params: Any) -> dict:
        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            error_class, hint = ERRORS.get(code, (ChatBackendError, "The IVS Chat request failed"))
            self._log(operation, params, code, exc.response)
            raise error_class(f"{hint} ({exc.operation_name} {code}).") from None
        except StubResponseError:
            raise
        except BotoCoreError as exc:
            self._log(operation, params, type(exc).__name__, {})
            raise ChatBackendError(f"IVS Chat could not be reached ({type(exc).__name__}).") from None

    @staticmethod
    def _log(operation: str, params: dict, code: str, response: dict) -> None:
        # Never the token, the attributes' values or a message's reason: ids and codes only.
        logger.warning(
            "IVS Chat %s failed: %s",
            operation,
            code,
            extra={
                "ivschat_operation": operation,
                "ivschat_error_code": code,
                "ivschat_room": params.get("roomIdentifier") or params.get("identifier") or "",
                "aws_request_id": response.get("ResponseMetadata", {}).get("RequestId", ""),
            },
        )

    @staticmethod
    def _room(room_id: str) -> str:
        if not ROOM_ARN.fullmatch(room_id):
            raise InvalidRequest("An IVS Chat room is named by its ARN.")
        return room_id

    def create_room(self, name: str) -> Room:
        check_text(name, ROOM_NAME_MAX, "A room name")
        params: dict[str, Any] = {
            "name": name,
            "maximumMessageLength": BODY_MAX,
            "maximumMessageRatePerSecond": MESSAGES_PER_SECOND,
            "tags": {"liveshop": "chat"},
        }
        if settings.IVS_CHAT_REVIEW_HANDLER_ARN:
            params["messageReviewHandler"] = {
                "uri": settings.IVS_CHAT_REVIEW_HANDLER_ARN,
                "fallbackResult": "DENY",
            }
        if settings.IVS_CHAT_LOGGING_CONFIGURATION_ARN:
            params["loggingConfigurationIdentifiers"] = [settings.IVS_CHAT_LOGGING_CONFIGURATION_ARN]
        return Room(id=self._call("create_room", **params)["arn"])

    def delete_room(self, room_id: str) -> None:
        try:
            self._call("delete_room", identifier=self._room(room_id))
        except RoomNotFound:
            return  # idempotent

    def create_token(self, room_id, user_id, *, capabilities, attributes, minutes) -> ChatToken:
        check_token_request(user_id, capabilities, minutes)
        check_attributes(attributes)
        answer = self._call(
            "create_chat_token",
            roomIdentifier=self._room(room_id),
            userId=user_id,
            capabilities=sorted(capabilities),
            sessionDurationInMinutes=minutes,
            attributes=attributes,
        )
        return ChatToken(
            token=answer["token"],
            token_expires_at=_iso(answer["tokenExpirationTime"]),
            session_expires_at=_iso(answer["sessionExpirationTime"]),
        )

    def send_event(self, room_id: str, name: str, attributes: dict[str, str]) -> None:
        check_text(name, EVENT_NAME_MAX, "An event name")
        check_attributes(attributes)
        self._call("send_event", roomIdentifier=self._room(room_id), eventName=name, attributes=attributes)

    def delete_message(self, room_id: str, message_id: str, reason: str) -> None:
        check_text(reason, REASON_MAX, "A reason")
        self._call("delete_message", roomIdentifier=self._room(room_id), id=message_id, reason=reason)

    def disconnect_user(self, room_id: str, user_id: str, reason: str) -> None:
        check_text(reason, REASON_MAX, "A reason")
        self._call("disconnect_user", roomIdentifier=self._room(room_id), userId=user_id, reason=reason)


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
