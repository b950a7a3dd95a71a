"""Chat, reactions and polls in a recording's replay, at the moment of the video they happened at.

A message's or a poll's moment is where it was sent in the stream, as a highlight's: its stream
session's start plus its ``offset_ms`` (the encoder's media clock, events.media_clock), when it
was stamped in one of the recording's sessions; else the wall clock (``created_at``, a poll's
``opened_at``: sent before the stream started, rows from before the stamps). The two differ
when the encoder ran slower than real time: the picture falls behind the wall clock, and so do
the stamps. Reactions are counted per wall-clock second (ReactionSecond). ``ReplayClock`` places
a moment in the recording the way product cues are placed: each stream session merged into one
recording (a reconnect) starts where the recording's playlist says (``session_positions``,
kept at ingestion: after a slow encoder's stream, the next one starts at its media length, not
its wall-clock length), and a moment counts from its session's start; the gaps between the
sessions cost no replay time. Recordings ingested before the positions were kept place each
session after the wall-clock length of the ones before. Pages read the chat a window of
WINDOW_MS at a time (a show's chat can be tens of thousands of messages): a window's messages
are read by an offset range in each of the recording's sessions (index
chat_message_session_offset) plus the unstamped ones by their wall clock
(chat_message_event_created), one query whatever the show's length."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from chat import payloads
from chat.models import ChatMessage, Poll, ReactionSecond
from chat.reactions import EMOJI
from recordings.models import Recording

WINDOW_MS = 60_000
_MS = timedelta(milliseconds=1)


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _ms_up(delta: timedelta) -> int:
    """The fewest whole ms not shorter than ``delta`` (exact: no float)."""
    return -(-delta // _MS)


@dataclass(frozen=True)
class _Segment:
    start: datetime
    end: datetime
    position_ms: int


class ReplayClock:
    """Wall-clock moments to positions (ms) in a recording and back, and the moment a message or
    poll was sent at in the stream (``sent_at``)."""

    def __init__(self, recording: Recording):
        self.started_at = recording.started_at
        self.duration_ms = recording.duration_ms or (
            _ms(recording.ended_at - recording.started_at) if recording.ended_at else 0
        )
        end = recording.ended_at or self.started_at + timedelta(milliseconds=self.duration_ms)
        sessions = [s for s in recording.sessions.all() if s.started_at is not None]
        # Where each of the recording's stream sessions started: a stamp's offset counts from it.
        self.session_starts: dict[int, datetime] = {s.pk: s.started_at for s in sessions}
        # ... and where it starts in the video (ingestion kept it from the playlist).
        kept = recording.session_positions or {}
        spans = sorted(
            (max(s.started_at, self.started_at), min(s.ended_at or end, end), kept.get(str(s.pk)))
            for s in sessions
        )
        spans = [(a, b, p) for a, b, p in spans if b > a] or [(self.started_at, end, None)]
        self._segments: list[_Segment] = []
        position = max(0, _ms(spans[0][0] - self.started_at))
        for start, stop, known in spans:
            if self._segments and start < self._segments[-1].end:  # overlapping sessions
                start = self._segments[-1].end
                if stop <= start:
                    continue
            if isinstance(known, int) and (not self._segments or known >= self._segments[-1].position_ms):
                position = known
            self._segments.append(_Segment(start, stop, position))
            position += _ms(stop - start)
        self._starts = [segment.start for segment in self._segments]

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self._segments[0].start - timedelta(
            milliseconds=self._segments[0].position_ms
        ), self._segments[-1].end

    def position_ms(self, at: datetime) -> int:
        i = bisect.bisect_right(self._starts, at) - 1
        if i < 0:
            return self._clamp(_ms(at - self.started_at))
        segment = self._segments[i]
        into = _ms(at - segment.start)
        following = self._segments[i + 1].position_ms if i + 1 < len(self._segments) else None
        if at < segment.end:
            # A session's media may be shorter than its wall-clock span (a slow encoder): the
            # moments past it (unstamped rows) stay within the session.
            position = segment.position_ms + into
            return self._clamp(position if following is None else min(position, following))
        if following is not None:  # between two streams: the next one's start
            return self._clamp(following)
        return self._clamp(segment.position_ms + _ms(segment.end - segment.start))

    def moment(self, position_ms: int) -> datetime:
        """The wall-clock moment at ``position_ms`` (the inverse of position_ms)."""
        positions = [segment.position_ms for segment in self._segments]
        i = max(0, bisect.bisect_right(positions, position_ms) - 1)
        segment = self._segments[i]
        return segment.start + timedelta(milliseconds=position_ms - segment.position_ms)

    def sent_at(self, row: ChatMessage | Poll | ReactionSecond, wall: datetime) -> datetime:
        """Where ``row`` was sent in the stream: its session's start plus its offset when stamped
        in one of the recording's sessions, else ``wall`` (its wall-clock time)."""
        started = self.session_starts.get(row.session_id)
        if started is None or row.offset_ms is None:
            return wall
        return started + timedelta(milliseconds=row.offset_ms)

    def sent_between(self, start: datetime, end: datetime, *, wall: str) -> Q:
        """Rows (messages, polls, reaction seconds) sent in [start, end) by ``sent_at``: an offset
        range in each of the recording's sessions, and rows not stamped in one by their
        wall-clock field ``wall`` (created_at, opened_at, at). Each branch reads an index range,
        not a whole show."""
        sent = Q(**{f"{wall}__gte": start, f"{wall}__lt": end})
        if self.session_starts:
            sent &= Q(offset_ms=None) | ~Q(session_id__in=list(self.session_starts))
        for session_id, started in self.session_starts.items():
            low, high = max(0, _ms_up(start - started)), _ms_up(end - started)
            if high > low:
                sent |= Q(session_id=session_id, offset_ms__gte=low, offset_ms__lt=high)
        return sent

    def _clamp(self, position: int) -> int:
        return max(0, min(position, self.duration_ms)) if self.duration_ms else max(0, position)


def replay_window(recording: Recording, from_ms: int) -> dict:
    """The visible messages and the reactions of [from_ms, from_ms + WINDOW_MS) of the recording,
    each with its position ``atMs``, in time order. Two queries whatever the window holds (the
    messages joined with what they reply to, the reactions; the recording's sessions are
    ``recording.sessions``, prefetched by the view)."""
    clock = ReplayClock(recording)
    start, end = clock.moment(from_ms), clock.moment(from_ms + WINDOW_MS)
    first, last = clock.window
    start, end = max(start, first), min(end, last)
    messages = (
        ChatMessage.objects.filter(event_id=recording.event_id, hidden_at=None, held=False)
        .filter(clock.sent_between(start, end, wall="created_at"))
        .select_related("reply_to")
        .order_by()  # placed in the order they were sent below
        if end > start
        else []
    )
    placed = sorted(
        ((clock.sent_at(message, message.created_at), message) for message in messages),
        key=lambda pair: (pair[0], pair[1].pk),
    )
    seconds = (
        ReactionSecond.objects.filter(event_id=recording.event_id).filter(
            clock.sent_between(start, end, wall="at")
        )
        if end > start
        else []
    )
    tapped = sorted(
        ((clock.sent_at(second, second.at), second) for second in seconds), key=lambda pair: pair[0]
    )
    return {
        "fromMs": from_ms,
        "toMs": from_ms + WINDOW_MS,
        "messages": [
            {**payloads.message_payload(message), "atMs": clock.position_ms(sent)} for sent, message in placed
        ],
        "reactions": [
            {
                "atMs": clock.position_ms(moment),
                "counts": {name: getattr(second, name) for name in EMOJI if getattr(second, name)},
            }
            for moment, second in tapped
        ],
    }


def replay_polls(recording: Recording) -> list[dict]:
    """Every poll opened during the recording, with its final counts and position ``atMs``
    (where it opened in the stream: ReplayClock.sent_at), in that order."""
    from chat.polls import counts

    if recording.event_id is None or recording.started_at is None:
        return []
    clock = ReplayClock(recording)
    first, last = clock.window
    rows = Poll.objects.filter(event_id=recording.event_id).filter(
        clock.sent_between(first, last + _MS, wall="opened_at")
    )
    placed = sorted(
        ((clock.sent_at(poll, poll.opened_at), poll) for poll in rows), key=lambda pair: (pair[0], pair[1].pk)
    )
    return [
        {
            **payloads.poll_payload(poll, counts(poll.pk)),
            "closed": True,
            "durationS": max(1, round((poll.closes_at - poll.opened_at).total_seconds())),
            "atMs": clock.position_ms(opened),
        }
        for opened, poll in placed
    ]
