"""The JSON chat sends to viewers' pages (pure builders: no queries). Public fields only: the
author's display name and badge, never their e-mail, username or user id."""

from __future__ import annotations

from chat.models import ChatMessage

QUOTE_MAX = 80  # characters of the message replied to, shown above a reply


def message_payload(message: ChatMessage) -> dict:
    """A message as pages show it; a reply quotes the start of the message it answers (needs
    ``reply_to`` loaded: select_related), or says it was removed."""
    payload = {
        "id": message.pk,
        "body": message.body,
        "author": {"name": message.author_name, "role": message.author_role or None},
        "sentAt": message.created_at.isoformat(),
        "offsetMs": message.offset_ms,
    }
    if message.reply_to_id is not None:
        quoted = message.reply_to
        removed = quoted is None or quoted.hidden_at is not None or quoted.held
        payload["replyTo"] = {
            "id": message.reply_to_id,
            "name": "" if removed else quoted.author_name,
            "body": "" if removed else quoted.body[:QUOTE_MAX],
            "removed": removed,
        }
    return payload


def hidden_payload(message: ChatMessage) -> dict:
    return {"id": message.pk}


def error_payload(reason: str, message: str, retry_after: float | None = None) -> dict:
    payload = {"reason": reason, "message": message}
    if retry_after is not None:
        payload["retryAfter"] = round(retry_after, 1)
    return payload


def poll_payload(poll, counts: list[int]) -> dict:
    """A poll as pages show it: the question, its answers and their counts, when it closes."""
    return {
        "pollId": poll.pk,
        "eventId": poll.event_id,
        "question": poll.question,
        "options": list(poll.options),
        "durationS": poll.duration_seconds,
        "openedAt": poll.opened_at.isoformat(),
        "closesAt": poll.closes_at.isoformat(),
        "offsetMs": poll.offset_ms,
        "counts": counts,
        "total": sum(counts),
        "closed": poll.closed_at is not None,
    }


def poll_results_payload(poll, counts: list[int]) -> dict:
    return {
        "pollId": poll.pk,
        "counts": counts,
        "total": sum(counts),
        "closesAt": poll.closes_at.isoformat(),
        "closed": poll.closed_at is not None,
    }
