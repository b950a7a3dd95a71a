"""Chat over the event's viewer socket, delivered the way the product card is (events.realtime).

Messages are published on the chat's own topic (``chat-<event id>``), not the event's: every
message on the event's topic drops the event's shared snapshot and viewer page, and 50 chat
messages a second would leave joining viewers nothing shared. In each process one
``RecentMessages`` sink (the only member of the chat topic there) keeps the event's newest
messages, the state a joining socket gets right after its snapshot with no database or Redis
work, and hands each frame on to the event's local sockets through the hub (one encoded frame,
written to every socket, as for the card). A process's recent messages are read from the
database once, when its first viewer of the event joins, and again after the hub lost frames
(its Redis feed, or a publisher that could not reach Redis).

Frames: ``chat_history`` {messages} after each snapshot (none while there are no messages),
``chat_message`` {id, body, author {name, role}, sentAt, offsetMs}, ``chat_hidden`` {id}; to the
one socket that sent a frame, ``chat_sent`` {id}, ``chat_moderated`` {action, id} and
``chat_error`` {reason, message, retryAfter?}; once a second while viewers tap, ``chat_reactions``
{counts, totals} (chat.reactions); ``chat_pinned`` {message | null} (joiners get it after the
history); polls (chat.polls): ``poll_opened`` {pollId, question, options, counts, closesAt, ...},
``poll_results`` {pollId, counts, total} at most once a second, ``poll_closed``, and
``poll_state`` {poll} for a joining socket. Broadcast frames close together come as one ``chat_batch``
{frames: [...]} (RecentMessages._forward). The page sends ``reaction`` {emoji},
``chat_post`` {body, replyTo?}; the brand's people ``chat_hide`` / ``chat_timeout`` {minutes} /
``chat_ban`` / ``chat_pin``,
each naming a message {id} (the author is found from it: pages never see user ids), and
``chat_slow_mode`` {seconds}, which every page hears as ``chat_settings`` {slowModeSeconds}, and
``chat_unpin``. Votes are HTTP (chat.poll_views): once per person and poll, with 4xx answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, ngettext

from events.realtime import RESYNC, encode, event_group_name, publish
from liveshop.i18n import language_of_scope

logger = logging.getLogger(__name__)

MAX_FRAME = 8 * 1024  # characters: a 500-character message, JSON-escaped, fits with room to spare
FRAMES_PER_WINDOW = 10  # frames a socket may send per FRAME_WINDOW seconds; more is answered
FRAME_WINDOW = 10.0  # "too fast" without any database or Redis work (a flood costs nothing)
BATCH_WINDOW = 0.1  # seconds: a busy chat reaches each socket at most 10 times a second
SWEEP_INTERVAL = 30.0  # seconds between checks for events this process no longer has viewers of


def batches(texts: list[str]) -> list[str]:
    """``texts`` (encoded frames) as few frames as possible, in order: runs of chat frames as one
    ``chat_batch``; a RESYNC stays alone (the hub acts on it, it is not sent)."""
    out: list[str] = []
    run: list[str] = []
    for text in [*texts, None]:
        if text is not None and text != RESYNC:
            run.append(text)
            continue
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append('{"type":"chat_batch","frames":[' + ",".join(run) + "]}")
        run = []
        if text is not None:
            out.append(text)
    return out


def chat_topic(event_id: int) -> str:
    return f"chat-{event_id}"


def broadcast_on_commit(event_id: int, message_type: str, payload: dict) -> None:
    """Publish a chat frame to every process once the current transaction commits."""
    transaction.on_commit(lambda: publish(chat_topic(event_id), encode(message_type, payload)))


def person_tag(user_id: int) -> str:
    """An opaque name for one person's sockets (pages never see user ids): their page sends it
    (``chat_hello``), a ban or time-out names it (``chat_restricted``). Knowing another person's
    tag only lets a socket be silenced with them."""
    return salted_hmac("chat.realtime.person_tag", str(user_id)).hexdigest()[:32]


def restrict_on_commit(event_ids: list[int], user_id: int, payload: dict | None) -> None:
    """After commit, tell every process's sockets of ``user_id`` in these chats that they may not
    post (``payload``: {reason, message, until}; None: they may again). Internal: the frame never
    reaches a page; the person's own sockets get ``chat_removed`` / ``chat_restored``."""
    frame = {"tag": person_tag(user_id), **(payload or {})}
    kind = "chat.restricted" if payload else "chat.restored"
    for event_id in event_ids:
        broadcast_on_commit(event_id, kind, frame)


def broadcast_now(event_id: int, message_type: str, payload: dict) -> None:
    """Publish a chat frame to every process now (outside any transaction: poll results)."""
    publish(chat_topic(event_id), encode(message_type, payload))


class RecentMessages:
    """One event's newest messages in this process: a hub sink on the chat topic that forwards
    every frame to the event's local sockets, in order."""

    counts_as_viewer = False
    moved_by_drain = False  # not a socket: a draining process has no page to send elsewhere here
    write_frame = None  # frames come through deliver(), never the uvicorn fast path
    LIMIT = 50

    def __init__(self, hub, event_id: int):
        self.hub = hub
        self.event_id = event_id
        self.messages: dict[int, dict] = {}
        self._frame: str | None = None  # the encoded chat_history, until the messages change
        self._loading: asyncio.Task | None = None  # the read from the database, shared
        self._early: list[str] = []  # frames heard while the read runs, applied after it
        self._feed_lost = False
        self.pinned: str | None = None  # the encoded chat_pinned frame while a message is pinned
        self.poll: dict | None = None  # the newest poll, while it is open or just closed
        self._poll_frame: str | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._forwarder = asyncio.get_running_loop().create_task(self._forward())

    async def history(self) -> str:
        """The chat_history frame (read from the database first if this process has none)."""
        if self._loading is None:
            self._loading = asyncio.get_running_loop().create_task(self._load())
        await asyncio.shield(self._loading)
        if self._frame is None:
            ordered = [self.messages[key] for key in sorted(self.messages)]
            self._frame = encode("chat.history", {"messages": ordered})
        return self._frame

    def poll_state(self) -> list[str]:
        """The ``poll_state`` frame for a joining socket: the newest poll while it is open or
        closed less than POLL_SHOWN_AFTER seconds ago, else nothing."""
        poll = self.poll
        if poll is None or time.time() > poll["_hideAt"]:
            return []
        if self._poll_frame is None:
            public = {key: value for key, value in poll.items() if not key.startswith("_")}
            self._poll_frame = encode("poll.state", {"poll": public})
        return [self._poll_frame]

    async def _load(self) -> None:
        from chat.selectors import current_poll, pinned_message, recent_messages

        self._early = []
        this = asyncio.current_task()
        try:
            rows = await database_sync_to_async(recent_messages)(self.event_id, self.LIMIT)
            poll = await database_sync_to_async(current_poll)(self.event_id)
            pinned = await database_sync_to_async(pinned_message)(self.event_id)
        except BaseException:
            if self._loading is this:
                self._loading = None  # the next viewer tries again
            raise
        if self._loading is not this:
            return  # a resync started a newer read meanwhile: its answer wins
        self.messages = {row["id"]: row for row in rows}
        self._set_poll(poll)
        self.pinned = encode("chat.pinned", {"message": pinned}) if pinned else None
        early, self._early = self._early, []
        for text in early:
            self._apply(text)
        self._frame = None

    # The hub's side (events.realtime.hub.Sink)

    async def deliver(self, text: str) -> None:
        if text.startswith(('{"type":"chat_restricted"', '{"type":"chat_restored"')):
            await self._restrict(json.loads(text))
            return
        if text.startswith('{"type":"feed_status"'):  # the hub lost Redis: frames may be missed
            self._feed_lost = True
            self._loading = None
            return
        if not text.startswith(('{"type":"chat_', '{"type":"poll_')):
            return  # heartbeats: the event's sockets have their own
        if self._loading is not None and not self._loading.done():
            self._early.append(text)
        else:
            self._apply(text)
        self._outbox.put_nowait(text)

    async def resync(self, shared: dict | None = None) -> None:
        """Read the messages again. After a lost feed the hub resyncs every socket by itself; a
        publisher's RESYNC of the chat topic alone is passed on to the event's sockets."""
        self._loading = None
        await self.history()
        if self._feed_lost:
            self._feed_lost = False
        else:
            self._outbox.put_nowait(RESYNC)

    async def drop(self) -> None:
        forget(self)

    def _apply(self, text: str) -> None:
        frame = json.loads(text)
        kind = frame.pop("type")
        if kind == "chat_message":
            self.messages[frame["id"]] = frame
            while len(self.messages) > self.LIMIT:
                del self.messages[min(self.messages)]
        elif kind == "chat_hidden":
            self.messages.pop(frame["id"], None)
        elif kind == "chat_pinned":
            self.pinned = text if frame.get("message") else None
            return
        elif kind == "poll_opened":
            self._set_poll(frame)
            return
        elif kind in ("poll_results", "poll_closed"):
            if self.poll is not None and self.poll["pollId"] == frame.get("pollId"):
                self._set_poll({**self.poll, **frame})
            return
        else:
            return
        self._frame = None

    async def _restrict(self, frame: dict) -> None:
        """Mark (or unmark) the named person's sockets of this event here and tell those pages:
        their next post is refused on the socket, with no database work and no race with the
        ban's commit (chat.services checks PostgreSQL at each post too)."""
        tag = frame.pop("tag", None)
        kind = frame.pop("type")
        restriction = frame if kind == "chat_restricted" else None
        for sink in list(self.hub.topics.get(event_group_name(self.event_id), ())):
            if tag and getattr(sink, "chat_tag", None) == tag:
                sink.chat_restriction = restriction
                with contextlib.suppress(Exception):
                    await sink.deliver(_restriction_frame(restriction, getattr(sink, "scope", None)))

    def _set_poll(self, poll: dict | None) -> None:
        from chat.selectors import poll_hide_at

        self.poll = None if poll is None else {**poll, "_hideAt": poll_hide_at(poll)}
        self._poll_frame = None

    async def _forward(self) -> None:
        """Hand frames on to the event's sockets in the order they came; a delivery to thousands
        of sockets never holds up the hub's feed. A frame goes at once when none went in the last
        BATCH_WINDOW; frames arriving faster wait for the window's end and go together as one
        ``chat_batch`` {frames} (concatenated, not re-encoded): a socket is written at most
        1/BATCH_WINDOW times a second however busy the chat. A fan-out's cost is its writes (some
        15-30 µs of server CPU each, reference/fanout-baselines.md), not its bytes: 50 messages a
        second written one by one to 5,000 viewers would need several cores. The window counts
        from the end of the last delivery, not its start: however long a delivery takes (5,000
        sockets on a busy core), the loop then has BATCH_WINDOW for everything else (the card, the
        taps, pages), and a starved process writes the chat less often instead of nothing else."""
        topic = event_group_name(self.event_id)
        loop = asyncio.get_running_loop()
        last = -BATCH_WINDOW
        while True:
            text = await self._outbox.get()
            wait = last + BATCH_WINDOW - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            texts = [text]
            while not self._outbox.empty():
                texts.append(self._outbox.get_nowait())
            for chunk in batches(texts):
                try:
                    await self.hub.deliver(topic, chunk, background=True)  # the card goes first
                except Exception:
                    logger.warning("A chat frame was not handed on to the event's sockets", exc_info=True)
            last = loop.time()

    def close(self) -> None:
        self._forwarder.cancel()


# Each hub's (one per event loop: tests run several) RecentMessages by event id, and its sweeper.
_rooms: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_sweepers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def recent_messages_of(event_id: int) -> RecentMessages:
    """This process's RecentMessages of the event, joined to the chat topic on first use."""
    from events.realtime.hub import get_hub

    hub = get_hub()
    rooms = _rooms.setdefault(hub, {})
    room = rooms.get(event_id)
    if room is None:
        room = rooms[event_id] = RecentMessages(hub, event_id)
        await hub.join(chat_topic(event_id), room)
        if hub not in _sweepers:
            _sweepers[hub] = asyncio.get_running_loop().create_task(_sweep(hub))
    return room


def forget(room: RecentMessages) -> None:
    rooms = _rooms.get(room.hub, {})
    if rooms.get(room.event_id) is room:
        del rooms[room.event_id]
    room.close()


async def _sweep(hub) -> None:
    """Leave the chat topics of events this process has no viewers of any more."""
    while True:
        await asyncio.sleep(SWEEP_INTERVAL)
        for event_id, room in list(_rooms.get(hub, {}).items()):
            if not hub.topics.get(event_group_name(event_id)):
                forget(room)
                with contextlib.suppress(Exception):
                    await hub.leave(chat_topic(event_id), room)


# The viewer socket's slots (events.extensions, filled in ChatConfig.ready)


async def viewer_state(event_id: int) -> list[str]:
    """Sent after each snapshot to a socket allowed to watch: the chat's recent messages."""
    try:
        room = await recent_messages_of(event_id)
        history = await room.history()
        # No frame for a chat nobody has written in.
        pinned = [room.pinned] if room.pinned else []
        return ([history] if room.messages else []) + pinned + room.poll_state()
    except Exception:  # the socket still gets the event; the chat's history comes at its resync
        logger.warning("No chat history for event %s", event_id, exc_info=True)
        return []


async def viewer_frame(consumer, text: str) -> None:
    """A frame the page sent: chat's are answered (on this socket only), others ignored."""
    from chat import handlers, reactions

    if len(text) > MAX_FRAME:
        await reply(consumer, "chat.error", handlers.too_long())
        return
    try:
        frame = json.loads(text)
    except ValueError:
        return
    if not isinstance(frame, dict):
        return
    if frame.get("type") == "reaction":  # tapped freely: counted here, sent once a second
        reactions.tap(consumer, frame.get("emoji"))
        return
    if frame.get("type") == "chat_hello":  # a signed-in page names its person (person_tag)
        tag = frame.get("tag")
        consumer.chat_tag = tag if isinstance(tag, str) and len(tag) == 32 else None
        return
    if not _frame_allowed(consumer):
        await reply(consumer, "chat.error", handlers.too_fast())
        return
    if frame.get("type") == "chat_post" and _restricted(consumer):
        await reply(consumer, "chat.error", restriction_error(consumer.chat_restriction))
        return
    if frame.get("type") in handlers.HANDLERS:
        try:
            answer = await database_sync_to_async(handlers.handle)(consumer.user, consumer.event_id, frame)
        except Exception:  # the database or Redis is down: the socket stays, the page may retry
            logger.exception("A chat frame failed")
            answer = "chat.error", handlers.unavailable()
        user = consumer.scope.get("user")  # read from the session by now
        if getattr(user, "is_authenticated", False) and not getattr(consumer, "chat_tag", None):
            consumer.chat_tag = person_tag(user.pk)
        if answer is not None:
            await reply(consumer, *answer)


def _restricted(consumer) -> bool:
    """Whether a ban or time-out heard on this socket (RecentMessages._restrict) still holds."""
    restriction = getattr(consumer, "chat_restriction", None)
    if restriction is None:
        return False
    if restriction.get("until") is not None and restriction["until"] <= time.time():
        consumer.chat_restriction = None
        return False
    return True


def _restriction_frame(restriction: dict | None, scope) -> str:
    """chat_removed (or chat_restored) for one of the person's sockets, in its page's language
    (the person's few sockets only: each is worded on its own)."""
    if restriction is None:
        return encode("chat.restored", {})
    with translation.override(language_of_scope(scope or {})):
        return encode("chat.removed", restriction_error(restriction))


def restriction_error(restriction: dict) -> dict:
    """The chat_error payload for a socket whose person is banned or timed out."""
    from chat import payloads

    until = restriction.get("until")
    if until is None:
        return payloads.error_payload("banned", gettext("You were removed from chat by a moderator."))
    left = max(0.0, until - time.time())
    minutes = max(1, round(left / 60))
    message = ngettext(
        "You are timed out: you can chat again in %(minutes)s minute.",
        "You are timed out: you can chat again in %(minutes)s minutes.",
        minutes,
    ) % {"minutes": minutes}
    return payloads.error_payload("timed_out", message, left)


async def reply(consumer, message_type: str, payload: dict) -> None:
    await consumer.send(text_data=encode(message_type, payload))


def _frame_allowed(consumer) -> bool:
    """At most FRAMES_PER_WINDOW frames per socket per FRAME_WINDOW, counted on the socket."""
    now = time.monotonic()
    recent = [t for t in getattr(consumer, "_chat_frames", ()) if now - t < FRAME_WINDOW]
    if len(recent) >= FRAMES_PER_WINDOW:
        consumer._chat_frames = recent
        return False
    recent.append(now)
    consumer._chat_frames = recent
    return True
