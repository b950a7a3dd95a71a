"""Delivery of event changes to viewers. Services call ``broadcast_to_event_on_commit``; how a
message reaches each socket is this module's business alone."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def event_group_name(event_id: int) -> str:
    return f"event-{event_id}"


def broadcast_to_event(event_id: int, message_type: str, payload: dict) -> None:
    """Publish ``payload`` to the event's viewers now (``message_type`` is dotted, e.g.
    ``stream.state``)."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(event_group_name(event_id), {"type": message_type, "payload": payload})


def studio_group_name(event_id: int) -> str:
    return f"studio-{event_id}"


def broadcast_to_studio(event_id: int, message_type: str, payload: dict) -> None:
    """Publish to the event's host consoles (cue states, viewer counts)."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(studio_group_name(event_id), {"type": message_type, "payload": payload})


def broadcast_to_event_on_commit(event_id: int, message_type: str, payload: dict) -> None:
    """Publish once the current transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: broadcast_to_event(event_id, message_type, payload))
