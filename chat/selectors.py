"""Reads for chat: recent messages (a socket's state on join), who is restricted, display names,
the owners' CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from accounts import permissions
from chat import payloads
from chat.models import BrandChatPolicy, ChatMessage, ChatRestriction, ChatRoom, Poll

RECENT_MESSAGES = 50
POLL_SHOWN_AFTER = 60  # seconds a closed poll's results stay on joining viewers' pages


def recent_messages(event_id: int, limit: int = RECENT_MESSAGES) -> list[dict]:
    """The newest ``limit`` visible messages of the event as payloads, oldest first."""
    rows = (
        ChatMessage.objects.filter(event_id=event_id, hidden_at=None, held=False)
        .select_related("reply_to")
        .order_by("-id")[:limit]
    )
    return [payloads.message_payload(message) for message in reversed(rows)]


def pinned_message(event_id: int) -> dict | None:
    """The chat's pinned message as pages show it, or None."""
    room = ChatRoom.objects.filter(event_id=event_id).select_related("pinned__reply_to").first()
    return payloads.message_payload(room.pinned) if room and room.pinned else None


def current_poll(event_id: int) -> dict | None:
    """The event's newest poll as pages show it (with its counts), or None."""
    from chat.polls import counts, is_open

    poll = Poll.objects.filter(event_id=event_id).order_by("-opened_at", "-id").first()
    if poll is None:
        return None
    payload = payloads.poll_payload(poll, counts(poll.pk))
    payload["closed"] = not is_open(poll)
    return payload


def poll_hide_at(poll: dict) -> float:
    """When (epoch seconds) a poll payload stops being shown to joining viewers."""
    from datetime import datetime

    from chat.polls import VOTE_GRACE_SECONDS

    closes = datetime.fromisoformat(poll["closesAt"]).timestamp()
    return closes + VOTE_GRACE_SECONDS + POLL_SHOWN_AFTER


def active_restriction(organization_id: int, user) -> ChatRestriction | None:
    """The user's ban in the brand's chats, else their time-out that ends last, if any now."""
    rows = list(
        ChatRestriction.objects.filter(organization_id=organization_id, user=user, lifted_at=None).filter(
            Q(until=None) | Q(until__gt=timezone.now())
        )
    )
    bans = [row for row in rows if row.kind == ChatRestriction.Kind.BAN]
    return bans[0] if bans else max(rows, key=lambda row: row.until, default=None)


def open_chat_ids(organization_id: int) -> list[int]:
    """The brand's events whose chat is open (not ended or cancelled): where a ban is heard."""
    from events.models import LiveEvent

    events = LiveEvent.objects.filter(organization_id=organization_id)
    return list(events.exclude(status__in=LiveEvent.CLOSED_STATUSES).values_list("pk", flat=True))


def slow_mode_seconds(event_id: int) -> int:
    return ChatRoom.objects.filter(event_id=event_id).values_list("slow_mode_seconds", flat=True).first() or 0


def blocked_words(organization_id: int) -> list[str]:
    return word_policy(organization_id)[0]


def word_policy(organization_id: int) -> tuple[list[str], str]:
    """The brand's word list and what a message with one of them gets (refused or held)."""
    policy = BrandChatPolicy.objects.filter(organization_id=organization_id).first()
    if policy is None:
        return [], BrandChatPolicy.WordAction.REJECT
    return policy.word_list, policy.word_action


def held_messages(organization_id: int):
    """The brand's messages held for review, oldest first, with their event."""
    return (
        ChatMessage.objects.filter(event__organization_id=organization_id, held=True)
        .select_related("event")
        .order_by("id")
    )


def active_restrictions(organization_id: int):
    """The brand's bans and time-outs in force now, newest first, with their person."""
    return (
        ChatRestriction.objects.filter(organization_id=organization_id, lifted_at=None)
        .filter(Q(until=None) | Q(until__gt=timezone.now()))
        .select_related("user")
    )


def author_role(user, organization_id: int) -> str:
    """The badge a user's messages carry in the brand's chats: their role there, else none."""
    return permissions.roles_of(user).get(organization_id, "")


def display_name(user, role: str = "") -> str:
    """What chat shows for ``user``: the display name chosen at sign-up; the brand's people
    without one show their username; a viewer without one (invited by e-mail, whose username
    comes from the address) shows "Viewer <id>", never anything from the e-mail."""
    name = (user.first_name or "").strip()
    if name:
        return name
    return user.get_username() if role else f"Viewer {user.pk}"


EXPORT_HEADER = ("sent at", "stream offset (s)", "author", "role", "message", "hidden at", "hidden by")


def export_rows(event) -> Iterator[tuple]:
    """Every message of ``event``, oldest first, as EXPORT_HEADER's columns (read in chunks)."""
    rows = (
        ChatMessage.objects.filter(event=event)
        .order_by("id")
        .values_list(
            "created_at",
            "offset_ms",
            "author_name",
            "author_role",
            "body",
            "hidden_at",
            "hidden_by__username",
        )
    )
    for sent_at, offset_ms, author, role, body, hidden_at, hidden_by in rows.iterator(chunk_size=2000):
        offset = None if offset_ms is None else Decimal(offset_ms) / 1000
        yield (sent_at, offset, author, role, body, hidden_at, hidden_by)
