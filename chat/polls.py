"""Polls: the host asks, viewers answer once each, everyone sees the results.

``open_poll`` writes the poll at its moment in the live stream (session, offset, as a highlight)
and after commit sends it twice, as a highlight goes: an in-band cue through the video gateway
(IVS PutMetadata: compact JSON well under 1 KB, under the channel's 5 calls/s limit that
highlights share), so players that read cues show it when the playhead reaches the moment, and a
``poll_opened`` frame on the chat's topic (chat.realtime), which pages without cues hold back by
their live latency. ``vote`` stores one answer per person (a unique constraint decides a race) and
asks for the results; results go out aggregated, at most one ``poll_results`` frame a second per
poll across processes (one Redis key claims the second), never one per vote. At ``closes_at`` plus
VOTE_GRACE_SECONDS (the viewers' live latency: they saw it that much later) ``finish_poll`` sends
``poll_closed`` with the final counts; votes after that are refused.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from chat import payloads, realtime, rooms
from chat.exceptions import PollRefused
from chat.models import Poll, PollVote
from events import media_clock
from events.models import LiveEvent, StreamSession
from liveshop import tasks
from liveshop.text import clean_text

QUESTION_MAX = 200
OPTION_MAX = 80
OPTIONS_MIN, OPTIONS_MAX = 2, 4
DURATION_MIN, DURATION_MAX = 10, 600  # seconds
VOTE_GRACE_SECONDS = 5  # viewers see the poll by their live latency later: their time to vote too
RESULTS_INTERVAL = 1.0  # seconds: at most one results frame per poll this often
CUE_VERSION = 1
CLOSE_TASK = "chat.tasks.finish_poll_task"

logger = logging.getLogger(__name__)


def clean_question(question) -> str:
    text = clean_text(question) if isinstance(question, str) else ""
    if not text:
        raise PollRefused(gettext("Write the poll's question."), reason="question_empty")
    if len(text) > QUESTION_MAX:
        raise PollRefused(
            gettext("A question is at most %(max)s characters.") % {"max": QUESTION_MAX},
            reason="question_too_long",
        )
    return text


def clean_options(options) -> list[str]:
    if not isinstance(options, list | tuple):
        raise PollRefused(gettext("Give the poll's answers as a list."), reason="options")
    cleaned = [clean_text(option) if isinstance(option, str) else "" for option in options]
    cleaned = [option for option in cleaned if option]
    if not OPTIONS_MIN <= len(cleaned) <= OPTIONS_MAX:
        raise PollRefused(
            gettext("A poll has %(min)s to %(max)s answers; this one has %(count)s.")
            % {"min": OPTIONS_MIN, "max": OPTIONS_MAX, "count": len(cleaned)},
            reason="options",
        )
    if any(len(option) > OPTION_MAX for option in cleaned):
        raise PollRefused(
            gettext("An answer is at most %(max)s characters.") % {"max": OPTION_MAX}, reason="options"
        )
    if len({option.casefold() for option in cleaned}) != len(cleaned):
        raise PollRefused(gettext("Two answers are the same."), reason="options")
    return cleaned


def clean_duration(seconds) -> int:
    if (
        not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not DURATION_MIN <= seconds <= DURATION_MAX
    ):
        raise PollRefused(
            gettext("A poll runs %(min)s to %(max)s seconds.") % {"min": DURATION_MIN, "max": DURATION_MAX},
            reason="duration",
        )
    return seconds


def is_open(poll: Poll, now=None) -> bool:
    """Does ``poll`` take votes now (until closes_at plus the viewers' latency grace)?"""
    now = now or timezone.now()
    return poll.closed_at is None and now < poll.closes_at + timedelta(seconds=VOTE_GRACE_SECONDS)


@transaction.atomic
def open_poll(*, event: LiveEvent, question, options, duration_seconds, by) -> Poll:
    """Ask ``question`` in ``event`` (HOST_EVENT). Locks the event; refuses bad input, a show
    that is over and a second open poll (PollRefused, nothing written). After commit: the in-band
    cue (when live) on a cue thread, the ``poll_opened`` frame to viewers, the close scheduled."""
    permissions.require(by, Action.HOST_EVENT, event)
    question = clean_question(question)
    options = clean_options(options)
    duration = clean_duration(duration_seconds)
    media_ms = media_clock.media_time_ms(event)  # asked before the lock, as a click asks
    event = LiveEvent.objects.select_for_update().select_related("organization").get(pk=event.pk)
    if event.is_closed:
        raise PollRefused(gettext("This show is over: it takes no polls."), reason="closed")
    now = timezone.now()
    running = [poll for poll in event.polls.filter(closed_at=None) if is_open(poll, now)]
    if running:
        raise PollRefused(gettext("A poll is open: close it first."), reason="poll_open")
    session_id, offset_ms = _stream_position(event, now, media_ms)
    poll = Poll(
        event=event,
        question=question,
        options=options,
        duration_seconds=duration,
        opened_by=by,
        opened_at=now,
        closes_at=now + timedelta(seconds=duration),
        session_id=session_id,
        offset_ms=offset_ms,
    )
    poll.full_clean()
    poll.save()
    if session_id is not None:
        cue = (event.channel_id, cue_payload(poll), poll.pk)
        transaction.on_commit(lambda: _dispatch_cue(*cue))
    realtime.broadcast_on_commit(event.pk, "poll.opened", payloads.poll_payload(poll, [0] * len(options)))
    rooms.send_event_on_commit(event.pk, "poll_opened", {"pollId": str(poll.pk)})
    transaction.on_commit(lambda: _schedule_finish(poll.pk, duration + VOTE_GRACE_SECONDS))
    return poll


def _stream_position(event: LiveEvent, now, media_ms: int | None) -> tuple[int | None, int | None]:
    """The open stream session and the poll's offset into it (both None unless live), on the
    stream's media clock as a highlight's (events.media_clock), else the wall clock."""
    if not event.is_live or not event.channel_id:
        return None, None
    session = (
        StreamSession.objects.filter(event=event, ended_at=None, started_at__isnull=False)
        .order_by("-started_at")
        .values_list("pk", "started_at")
        .first()
    )
    if session is None:
        return None, None
    return session[0], media_clock.session_stamp_ms(
        event_id=event.pk, session=session, media_ms=media_ms, now=now
    )


@transaction.atomic
def close_poll(*, poll: Poll, by) -> Poll:
    """End ``poll`` now (HOST_EVENT): it takes no more votes; viewers get the final results.
    Idempotent."""
    permissions.require(by, Action.HOST_EVENT, poll.event)
    return _finish(poll.pk, early=True)


def finish_poll(poll_id: int) -> Poll | None:
    """Close a poll whose time (and grace) is up, with its final results; idempotent, a no-op
    before its time (the scheduled close of a poll that was closed early, a clock ahead)."""
    with transaction.atomic():
        return _finish(poll_id, early=False)


def _finish(poll_id: int, *, early: bool) -> Poll | None:
    poll = Poll.objects.select_for_update().filter(pk=poll_id).first()
    if poll is None or poll.closed_at is not None:
        return poll
    now = timezone.now()
    if not early and is_open(poll, now):
        return poll
    poll.closed_at = now
    fields = ["closed_at"]
    if now < poll.closes_at:
        poll.closes_at = max(now, poll.opened_at + timedelta(milliseconds=1))
        fields.append("closes_at")
    poll.save(update_fields=fields)
    realtime.broadcast_on_commit(
        poll.event_id, "poll.closed", payloads.poll_results_payload(poll, counts(poll.pk))
    )
    rooms.send_event_on_commit(poll.event_id, "poll_closed", {"pollId": str(poll.pk)})
    return poll


def vote(*, poll: Poll, user, option) -> PollVote:
    """``user``'s answer (an index into the options). Refused (PollRefused, nothing stored): not
    signed in, not allowed to watch, an unknown answer, the poll closed, a second vote (the
    database's unique constraint decides two at once). After commit the results are due."""
    if not getattr(user, "is_authenticated", False):
        raise PollRefused(gettext("Sign in to vote."), reason="sign_in")
    if not permissions.may_watch(user, poll.event):
        raise PollRefused(gettext("This poll is not open to you."), reason="not_allowed")
    if not isinstance(option, int) or isinstance(option, bool) or not 0 <= option < len(poll.options):
        raise PollRefused(
            gettext("Choose one of the %(count)s answers.") % {"count": len(poll.options)}, reason="option"
        )
    if not is_open(poll):
        raise PollRefused(gettext("This poll is closed."), reason="poll_closed")
    try:
        with transaction.atomic():
            answer = PollVote.objects.create(poll=poll, voter=user, option=option)
            transaction.on_commit(lambda: results_soon(poll.pk, poll.event_id))
    except IntegrityError:
        raise PollRefused(gettext("You have voted in this poll already."), reason="already_voted") from None
    return answer


# Results


def counts(poll_id: int) -> list[int]:
    """The votes for each answer (the poll's options in order), read in one query."""
    poll_options = Poll.objects.filter(pk=poll_id).values_list("options", flat=True).first() or []
    found = dict(
        PollVote.objects.filter(poll_id=poll_id)
        .values_list("option")
        .annotate(n=Count("id"))
        .values_list("option", "n")
    )
    return [found.get(index, 0) for index in range(len(poll_options))]


_local_claims: dict[int, float] = {}  # without Redis (the one-process demo): poll id -> until
_claims_lock = threading.Lock()


def _claim_second(poll_id: int) -> bool:
    """Is this process the one to send the poll's next results (one per RESULTS_INTERVAL across
    every process)?"""
    if settings.REDIS_URL:
        from chat.reactions import _redis

        return bool(
            _redis().set(f"liveshop:poll-results:{poll_id}", 1, nx=True, px=int(RESULTS_INTERVAL * 1000))
        )
    now = time.monotonic()
    with _claims_lock:
        if _local_claims.get(poll_id, 0) > now:
            return False
        _local_claims[poll_id] = now + RESULTS_INTERVAL
        return True


def results_soon(poll_id: int, event_id: int) -> None:
    """After a vote: within RESULTS_INTERVAL every viewer gets the poll's counts, in one frame
    for all the votes of that second (the claim's holder sends it, a little after the claim
    ends, so every vote that found the claim taken is counted)."""
    try:
        claimed = _claim_second(poll_id)
    except Exception:
        logger.warning("Poll results not scheduled", exc_info=True)
        return
    if claimed:
        timer = threading.Timer(RESULTS_INTERVAL * 1.05, _send_results, [poll_id, event_id])
        timer.daemon = True
        timer.start()


def _send_results(poll_id: int, event_id: int) -> None:
    try:
        poll = Poll.objects.filter(pk=poll_id).only("id", "closed_at", "closes_at").first()
        if poll is not None and poll.closed_at is None:  # a closed poll's final frame says it all
            realtime.broadcast_now(
                event_id, "poll.results", payloads.poll_results_payload(poll, counts(poll_id))
            )
    except Exception:
        logger.warning("Poll results not sent", exc_info=True)
    finally:
        close_old_connections()


def _schedule_finish(poll_id: int, delay: float) -> None:
    """Close the poll when its time is up: a Celery task with a countdown where a worker runs
    them, else a timer in this process (the demo, tests: eager Celery would run it at once)."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            tasks.enqueue(CLOSE_TASK, poll_id, countdown=delay)
            return
        except Exception as exc:  # no broker: the timer below still closes it
            logger.warning("Poll close not queued (%s); timing it here", exc)
    timer = threading.Timer(delay, _finish_in_thread, [poll_id])
    timer.daemon = True
    timer.start()


def _finish_in_thread(poll_id: int) -> None:
    try:
        finish_poll(poll_id)
    except Exception:
        logger.exception("Closing poll %s failed", poll_id)
    finally:
        close_old_connections()


# The in-band cue


def cue_payload(poll: Poll) -> str:
    """The compact JSON carried in the video (ids only: far under IVS's 1 KB)."""
    data = {"v": CUE_VERSION, "type": "poll", "eventId": poll.event_id, "pollId": poll.pk}
    return json.dumps(data, separators=(",", ":"))


def _dispatch_cue(channel_id: str, payload: str, poll_id: int) -> None:
    if settings.LIVESHOP_CUES_INLINE:
        send_cue(channel_id, payload, poll_id)
    else:
        threading.Thread(target=_cue_in_thread, args=(channel_id, payload, poll_id), daemon=True).start()


def _cue_in_thread(channel_id: str, payload: str, poll_id: int) -> None:
    try:
        send_cue(channel_id, payload, poll_id)
    except Exception:
        logger.exception("Sending a poll's cue failed", extra={"poll_id": poll_id})
    finally:
        close_old_connections()


def send_cue(channel_id: str, payload: str, poll_id: int) -> str:
    """PutMetadata for a poll, under the channel's limit shared with highlights (waits for a free
    slot up to a second: the moment matters). Records the outcome on the poll; a throttled or
    failed cue leaves the socket frame, which reaches every page anyway."""
    from events.timed_metadata import clock, get_rate_limiter
    from liveshop.video import ChannelNotLive, Throttled, VideoBackendError, get_video_backend

    state, error = Poll.CueState.SENT, ""
    for _ in range(5):
        wait = get_rate_limiter().acquire(channel_id, clock.now())
        if not wait:
            break
        clock.sleep(min(wait, 0.25))
    else:
        state, error = Poll.CueState.THROTTLED, "The channel's metadata limit was busy."
    if state == Poll.CueState.SENT:
        try:
            get_video_backend().put_metadata(channel_id, payload)
        except Throttled:
            state, error = Poll.CueState.THROTTLED, "IVS throttled the cue."
        except ChannelNotLive:
            state, error = Poll.CueState.NOT_LIVE, "The channel was not live."
        except VideoBackendError as exc:
            state, error = Poll.CueState.FAILED, str(exc)
    Poll.objects.filter(pk=poll_id).update(cue_state=state, cue_error=error[:300])
    return state
