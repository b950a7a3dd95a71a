"""Writes for chat. ``post_message`` is the one way a message is posted (the viewer socket, the
admin, later an API and the IVS Chat review handler); the moderation services check their
``by`` with accounts.permissions (MODERATE_CHAT) and log every step (ModerationAction).

Every rule of a message is checked before anything is stored, cheapest first: the text, who may
post (signed in, allowed to watch, the show not over), the brand's word list, a time-out or
ban (in the database: every tab and process sees it at once), then slow mode and the per-person
rate (Redis, shared by every process). Viewers hear of each message, and of each hidden one,
after commit, through the chat's own topic (chat.realtime)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone, translation
from django.utils.text import get_text_list
from django.utils.translation import gettext, ngettext

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from chat import payloads, realtime, rooms, selectors
from chat.exceptions import MessageRefused, ModerationRefused
from chat.models import (
    BODY_MAX,
    BrandChatPolicy,
    ChatMessage,
    ChatRestriction,
    ChatRoom,
    ModerationAction,
    moderation_detail,
)
from events import media_clock
from events.models import LiveEvent, StreamSession
from liveshop import ratelimit
from liveshop.text import clean_text

RATE_LIMIT = 5  # messages per person (every event, tab and process together) ...
RATE_WINDOW = 10  # ... in any this many seconds
TIMEOUT_MINUTES = (5, 60)  # the lengths moderators choose from
SLOW_MODE_MAX = 600


def clean_body(body) -> str:
    """The message as it is stored and shown, or MessageRefused (empty, too long)."""
    text = clean_text(body) if isinstance(body, str) else ""
    if not text:
        raise MessageRefused(gettext("Write a message first."), reason="empty")
    if len(text) > BODY_MAX:
        raise MessageRefused(
            gettext("Messages are at most %(max)s characters; this one has %(count)s.")
            % {"max": BODY_MAX, "count": len(text)},
            reason="too_long",
        )
    return text


def post_message(*, event: LiveEvent, user, body, reply_to=None, backend_message_id: str = "") -> ChatMessage:
    """Post ``body`` by ``user`` in ``event``'s chat: checks every rule (MessageRefused names
    the first one broken, and nothing is stored), stores the cleaned text with the author's name
    and badge and the live stream offset, and sends it to the event's viewers after commit. Only
    the write is a transaction: the checks (two of them Redis round trips) hold none open.
    ``reply_to``: the id of a visible message of the same chat this one answers (quoted);
    ``backend_message_id``: the chat service's id of it (IVS Chat's review), for hiding it there."""
    text = clean_body(body)
    _check_may_post(event, user)
    quoted = _replied_to(event, reply_to)
    role = selectors.author_role(user, event.organization_id)
    held = _check_words(event, text) and not role  # the brand's own people are never held
    _check_restriction(event, user)
    _check_pace(event, user, staff=bool(role))
    position = stream_position(event)  # before the write's transaction: it may ask the media server
    return _store(
        event, user, text, role, position, held=held, reply_to=quoted, backend_id=backend_message_id
    )


def _replied_to(event: LiveEvent, reply_to) -> ChatMessage | None:
    if reply_to is None:
        return None
    quoted = None
    if isinstance(reply_to, int) and not isinstance(reply_to, bool):
        quoted = ChatMessage.objects.filter(pk=reply_to, event=event, hidden_at=None, held=False).first()
    if quoted is None:
        raise MessageRefused(
            gettext("The message you reply to is not in this chat any more."), reason="not_found"
        )
    return quoted


def _check_may_post(event: LiveEvent, user) -> None:
    if not getattr(user, "is_authenticated", False):
        raise MessageRefused(gettext("Sign in to chat."), reason="sign_in")
    if not permissions.may_watch(user, event):
        raise MessageRefused(gettext("This chat is not open to you."), reason="not_allowed")
    if event.is_closed:
        raise MessageRefused(gettext("This show is over: its chat is closed."), reason="closed")


def _check_words(event: LiveEvent, text: str) -> bool:
    """Whether the message has a word of the brand's list and is to be held for review; refused
    (MessageRefused) instead where the brand's setting says so."""
    folded = text.casefold()
    words, action = selectors.word_policy(event.organization_id)
    for word in words:
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
            if action == BrandChatPolicy.WordAction.HOLD:
                return True
            raise MessageRefused(
                gettext("Your message contains a word this chat does not allow."), reason="blocked_word"
            )
    return False


def _check_restriction(event: LiveEvent, user) -> None:
    restriction = selectors.active_restriction(event.organization_id, user)
    if restriction is None:
        return
    if restriction.kind == ChatRestriction.Kind.BAN:
        raise MessageRefused(gettext("You are banned from this brand's chats."), reason="banned")
    left = (restriction.until - timezone.now()).total_seconds()
    minutes = max(1, round(left / 60))
    raise MessageRefused(
        ngettext(
            "You are timed out: you can chat again in %(minutes)s minute.",
            "You are timed out: you can chat again in %(minutes)s minutes.",
            minutes,
        )
        % {"minutes": minutes},
        reason="timed_out",
        retry_after=left,
    )


def _check_pace(event: LiveEvent, user, *, staff: bool) -> None:
    """Slow mode (the event's, staff exempt), then the person's rate across every process."""
    now = time.time()
    slow = selectors.slow_mode_seconds(event.pk)
    if slow and not staff:
        wait = ratelimit.get_rate_limiter("chat-slow", 1, slow, 1).acquire(f"{event.pk}:{user.pk}", now)
        if wait:
            raise MessageRefused(
                gettext("Slow mode is on: one message every %(slow)s s. Wait %(wait)s s.")
                % {"slow": slow, "wait": f"{wait:.0f}"},
                reason="slow_mode",
                retry_after=wait,
            )
    wait = ratelimit.get_rate_limiter("chat-rate", RATE_LIMIT, RATE_WINDOW, RATE_LIMIT).acquire(
        str(user.pk), now
    )
    if wait:
        raise MessageRefused(
            gettext("You are sending messages too fast. Wait %(wait)s s.") % {"wait": f"{wait:.0f}"},
            reason="rate_limited",
            retry_after=wait,
        )


@transaction.atomic
def _store(
    event: LiveEvent,
    user,
    text: str,
    role: str,
    position: tuple[int | None, int | None],
    *,
    held: bool = False,
    reply_to: ChatMessage | None = None,
    backend_id: str = "",
) -> ChatMessage:
    session_id, offset_ms = position
    message = ChatMessage(
        event=event,
        author=user,
        author_name=selectors.display_name(user, role),
        author_role=role,
        body=text,
        session_id=session_id,
        offset_ms=offset_ms,
        held=held,
        reply_to=reply_to,
        backend_message_id=backend_id,
    )
    message.full_clean()
    message.save()
    if not held:  # a held message reaches viewers when a moderator approves it
        realtime.broadcast_on_commit(event.pk, "chat.message", payloads.message_payload(message))
    return message


def stream_position(event: LiveEvent, *, now=None) -> tuple[int | None, int | None]:
    """The open stream session and the offset into it at ``now`` (default: now; both None unless
    live), on the stream's media clock as highlights are (events.media_clock.position_ms: the
    media server is asked at most every few seconds per event, not once per message or reaction
    second)."""
    if not event.is_live:
        return None, None
    session = (
        StreamSession.objects.filter(event=event, ended_at=None, started_at__isnull=False)
        .order_by("-started_at")
        .values_list("pk", "started_at")
        .first()
    )
    if session is None:
        return None, None
    return session[0], media_clock.position_ms(event=event, session=session, now=now or timezone.now())


# Moderation


@transaction.atomic
def hide_message(*, message: ChatMessage, by) -> ChatMessage:
    """Hide ``message`` from every viewer (kept for the log); idempotent. Logged; after commit
    every page removes it, and the chat service's clients too (DeleteMessage, CHAT_BACKEND=ivs)."""
    permissions.require(by, Action.MODERATE_CHAT, message)
    message = ChatMessage.objects.select_for_update().select_related("event").get(pk=message.pk)
    if message.hidden_at is None:
        message.hidden_at, message.hidden_by = timezone.now(), by
        message.save(update_fields=["hidden_at", "hidden_by"])
        _log(message.event, by, ModerationAction.Kind.HIDE, target=message.author, message=message)
        realtime.broadcast_on_commit(message.event_id, "chat.hidden", payloads.hidden_payload(message))
        rooms.delete_message_on_commit(message)
        if ChatRoom.objects.filter(event_id=message.event_id, pinned=message).update(pinned=None):
            realtime.broadcast_on_commit(message.event_id, "chat.pinned", {"message": None})
    return message


@transaction.atomic
def pin_message(*, message: ChatMessage, by) -> ChatRoom:
    """Pin ``message`` at the top of its chat for every page (replacing any pinned one). Locks
    the chat's room row. Logged; after commit every page shows it (chat_pinned)."""
    permissions.require(by, Action.MODERATE_CHAT, message)
    message = ChatMessage.objects.select_related("event", "reply_to").get(pk=message.pk)
    if message.hidden_at is not None or message.held:
        raise ModerationRefused(gettext("Only a message viewers can see can be pinned."), reason="not_found")
    room, _ = ChatRoom.objects.select_for_update().get_or_create(event_id=message.event_id)
    room.pinned = message
    room.save(update_fields=["pinned"])
    _log(message.event, by, ModerationAction.Kind.PIN, target=message.author, message=message)
    realtime.broadcast_on_commit(
        message.event_id, "chat.pinned", {"message": payloads.message_payload(message)}
    )
    return room


@transaction.atomic
def unpin(*, event: LiveEvent, by) -> ChatRoom:
    """Take the pinned message down (none pinned: as it is). Logged; every page hears it."""
    permissions.require(by, Action.MODERATE_CHAT, event)
    room, _ = ChatRoom.objects.select_for_update().get_or_create(event=event)
    if room.pinned_id is not None:
        room.pinned = None
        room.save(update_fields=["pinned"])
        _log(event, by, ModerationAction.Kind.UNPIN)
        realtime.broadcast_on_commit(event.pk, "chat.pinned", {"message": None})
    return room


@transaction.atomic
def time_out(*, event: LiveEvent, user, minutes: int, by) -> ChatRestriction:
    """Keep ``user`` out of the brand's chats for ``minutes`` (one of TIMEOUT_MINUTES). Logged;
    after commit the person's open sockets refuse their posts at once (chat.realtime)."""
    permissions.require(by, Action.MODERATE_CHAT, event)
    if minutes not in TIMEOUT_MINUTES:
        raise ModerationRefused(
            gettext("A time-out lasts %(choices)s minutes.")
            % {"choices": get_text_list([str(m) for m in TIMEOUT_MINUTES], gettext("or"))}
        )
    until = timezone.now() + timedelta(minutes=minutes)
    restriction = _restrict(event, user, ChatRestriction.Kind.TIMEOUT, until, by)
    _log(event, by, ModerationAction.Kind.TIMEOUT, target=user, params={"minutes": minutes})
    rooms.disconnect_on_commit(restriction, event)
    realtime.restrict_on_commit(
        selectors.open_chat_ids(event.organization_id), user.pk, {"until": until.timestamp()}
    )
    return restriction


@transaction.atomic
def ban(*, event: LiveEvent, user, by) -> ChatRestriction:
    """Keep ``user`` out of the brand's chats until unbanned. Logged; after commit the person's
    open sockets refuse their posts at once and their pages say so (chat.realtime)."""
    permissions.require(by, Action.MODERATE_CHAT, event)
    restriction = _restrict(event, user, ChatRestriction.Kind.BAN, None, by)
    _log(event, by, ModerationAction.Kind.BAN, target=user)
    rooms.disconnect_on_commit(restriction, event)
    realtime.restrict_on_commit(selectors.open_chat_ids(event.organization_id), user.pk, {"until": None})
    return restriction


def _restrict(event: LiveEvent, user, kind: str, until, by) -> ChatRestriction:
    if selectors.author_role(user, event.organization_id) or permissions.is_superuser(user):
        raise ModerationRefused(gettext("The brand's own people cannot be timed out or banned here."))
    restriction = ChatRestriction(
        organization_id=event.organization_id, user=user, kind=kind, until=until, created_by=by
    )
    restriction.full_clean()
    restriction.save()
    return restriction


@transaction.atomic
def lift_restrictions(*, organization: Organization, user, by) -> int:
    """End ``user``'s bans and time-outs in the brand's chats; returns how many. Logged."""
    permissions.require(by, Action.MODERATE_CHAT, organization)
    lifted = ChatRestriction.objects.filter(organization=organization, user=user, lifted_at=None).update(
        lifted_at=timezone.now(), lifted_by=by
    )
    kind = ModerationAction.Kind.UNBAN
    _log(None, by, kind, organization=organization, target=user, params={"lifted": lifted})
    if lifted:
        realtime.restrict_on_commit(selectors.open_chat_ids(organization.pk), user.pk, None)
    return lifted


@transaction.atomic
def set_blocked_words(
    *, organization: Organization, words: str, by, action: str | None = None
) -> BrandChatPolicy:
    """The brand's word list (one word or phrase a line) for all its chats and, when given, what
    a message with one gets (``action``: BrandChatPolicy.WordAction: refused or held). Logged."""
    permissions.require(by, Action.MODERATE_CHAT, organization)
    if action is not None and action not in BrandChatPolicy.WordAction.values:
        raise ModerationRefused(gettext("A message with a listed word is either refused or held for review."))
    policy, _ = BrandChatPolicy.objects.select_for_update().get_or_create(organization=organization)
    policy.blocked_words = "\n".join(clean_text(line) for line in words.splitlines() if clean_text(line))
    if action is not None:
        policy.word_action = action
    policy.full_clean()
    policy.save(update_fields=["blocked_words", "word_action"])
    count = len(policy.word_list)
    params = {"words": count, "action": policy.word_action}
    _log(None, by, ModerationAction.Kind.WORD_LIST, organization=organization, params=params)
    return policy


@transaction.atomic
def review_message(*, message: ChatMessage, approve: bool, by) -> ChatMessage:
    """Approve a held message (every viewer gets it, at its original moment for the replay) or
    reject it (hidden, kept for the log). Locks the message; a message already reviewed answers
    as it is. Logged."""
    permissions.require(by, Action.MODERATE_CHAT, message)
    message = ChatMessage.objects.select_for_update().select_related("event").get(pk=message.pk)
    if not message.held:
        return message
    now = timezone.now()
    message.held, message.reviewed_at, message.reviewed_by = False, now, by
    fields = ["held", "reviewed_at", "reviewed_by"]
    if approve:
        realtime.broadcast_on_commit(message.event_id, "chat.message", payloads.message_payload(message))
    else:
        message.hidden_at, message.hidden_by = now, by
        fields += ["hidden_at", "hidden_by"]
    message.save(update_fields=fields)
    kind = ModerationAction.Kind.APPROVE if approve else ModerationAction.Kind.REJECT
    _log(message.event, by, kind, target=message.author, message=message)
    return message


@transaction.atomic
def set_slow_mode(*, event: LiveEvent, seconds: int, by) -> ChatRoom:
    """One message per ``seconds`` per viewer in ``event``'s chat (0: off). Logged; every page
    hears the new setting after commit (chat_settings)."""
    permissions.require(by, Action.MODERATE_CHAT, event)
    if not 0 <= seconds <= SLOW_MODE_MAX:
        raise ModerationRefused(gettext("Slow mode is 0 (off) to %(max)s seconds.") % {"max": SLOW_MODE_MAX})
    room, _ = ChatRoom.objects.select_for_update().get_or_create(event=event)
    room.slow_mode_seconds = seconds
    room.full_clean()
    room.save(update_fields=["slow_mode_seconds"])
    _log(event, by, ModerationAction.Kind.SLOW_MODE, params={"seconds": seconds})
    realtime.broadcast_on_commit(event.pk, "chat.settings", {"slowModeSeconds": seconds})
    return room


def _log(
    event: LiveEvent | None, by, kind: str, *, organization=None, target=None, message=None, params=None
) -> None:
    """One row of the moderation log: ``params`` worded when shown (``detail`` keeps the English)."""
    params = params or {}
    with translation.override("en"):
        detail = moderation_detail(kind, params)
    ModerationAction.objects.create(
        organization_id=event.organization_id if event else organization.pk,
        event=event,
        actor=by,
        kind=kind,
        target=target,
        message=message,
        detail=detail,
        params=params,
    )
