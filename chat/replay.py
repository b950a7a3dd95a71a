"""Chat, reactions and polls in a recording's replay, at the moment of the video they happened at.

A message's moment is when it was written (its ``offset_ms`` into the stream session is the same
instant, measured from the session's start); a poll's is when it opened; reactions are counted
per second (ReactionSecond). ``ReplayClock`` places a moment in the recording the way product
cues are placed: the time since the recording started, except that the gaps between the stream
sessions merged into one recording (a reconnect) cost no replay time. Pages read the chat a
window of WINDOW_MS at a time (a show's chat can be tens of thousands of messages)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

from chat import payloads
from chat.models import ChatMessage, Poll, ReactionSecond
from chat.reactions import EMOJI
from recordings.models import Recording

WINDOW_MS = 60_000


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


@dataclass(frozen=True)
class _Segment:
    start: datetime
    end: datetime
    position_ms: int


class ReplayClock:
    """Wall-clock moments to positions (ms) in a recording and back."""

    def __init__(self, recording: Recording):
        self.started_at = recording.started_at
        self.duration_ms = recording.duration_ms or (
            _ms(recording.ended_at - recording.started_at) if recording.ended_at else 0
        )
        end = recording.ended_at or self.started_at + timedelta(milliseconds=self.duration_ms)
        spans = sorted(
            (max(s.started_at, self.started_at), min(s.ended_at or end, end))
            for s in recording.sessions.all()
            if s.started_at is not None
        )
        spans = [(a, b) for a, b in spans if b > a] or [(self.started_at, end)]
        self._segments: list[_Segment] = []
        position = max(0, _ms(spans[0][0] - self.started_at))
        for start, stop in spans:
            if self._segments and start < self._segments[-1].end:  # overlapping sessions
                start = self._segments[-1].end
                if stop <= start:
                    continue
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
        if at < segment.end:
            return self._clamp(segment.position_ms + into)
        if i + 1 < len(self._segments):  # between two streams: the next one's start
            return self._clamp(self._segments[i + 1].position_ms)
        return self._clamp(segment.position_ms + _ms(segment.end - segment.start))

    def moment(self, position_ms: int) -> datetime:
        """The wall-clock moment at ``position_ms`` (the inverse of position_ms)."""
        positions = [segment.position_ms for segment in self._segments]
        i = max(0, bisect.bisect_right(positions, position_ms) - 1)
        segment = self._segments[i]
        return segment.start + timedelta(milliseconds=position_ms - segment.position_ms)

    def _clamp(self, position: int) -> int:
        return max(0, min(position, self.duration_ms)) if self.duration_ms else max(0, position)


def replay_window(recording: Recording, from_ms: int) -> dict:
    """The visible messages and the reactions of [from_ms, from_ms + WINDOW_MS) of the recording,
    each with its position ``atMs``, in time order."""
    clock = ReplayClock(recording)
    start, end = clock.moment(from_ms), clock.moment(from_ms + WINDOW_MS)
    first, last = clock.window
    start, end = max(start, first), min(end, last)
    messages = (
        ChatMessage.objects.filter(
            event_id=recording.event_id, hidden_at=None, held=False, created_at__gte=start, created_at__lt=end
        )
        .select_related("reply_to")
        .order_by("created_at", "id")
        if end > start
        else []
    )
    seconds = (
        ReactionSecond.objects.filter(event_id=recording.event_id, at__gte=start, at__lt=end).order_by("at")
        if end > start
        else []
    )
    return {
        "fromMs": from_ms,
        "toMs": from_ms + WINDOW_MS,
        "messages": [
            {**payloads.message_payload(message), "atMs": clock.position_ms(message.created_at)}
            for message in messages
        ],
        "reactions": [
            {
                "atMs": clock.position_ms(second.at),
                "counts": {name: getattr(second, name) for name in EMOJI if getattr(second, name)},
            }
            for second in seconds
        ],
    }


def replay_polls(recording: Recording) -> list[dict]:
    """Every poll opened during the recording, with its final counts and position ``atMs``."""
    from chat.polls import counts

    if recording.event_id is None or recording.started_at is None:
        return []
    clock = ReplayClock(recording)
    first, last = clock.window
    rows = Poll.objects.filter(event_id=recording.event_id, opened_at__gte=first, opened_at__lte=last)
    return [
        {
            **payloads.poll_payload(poll, counts(poll.pk)),
            "closed": True,
            "durationS": max(1, round((poll.closes_at - poll.opened_at).total_seconds())),
            "atMs": clock.position_ms(poll.opened_at),
        }
        for poll in rows.order_by("opened_at")
    ]
