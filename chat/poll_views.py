"""Polls over HTTP (JSON in and out): the host console opens, lists and closes a show's polls
(HOST_EVENT); viewers read the current poll (with their own vote and a CSRF token) and vote.
A refused poll or vote is a 4xx naming the reason (chat.exceptions.PollRefused.status): bad
input 400, not signed in 401, not allowed 403, another brand's or an unknown show or poll 404,
a second open poll, a closed poll or a second vote 409. Never a 500."""

from __future__ import annotations

import functools
import json

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions
from accounts.permissions import Action
from chat import payloads, polls
from chat.exceptions import PollRefused
from chat.models import Poll, PollVote
from events.models import LiveEvent


def _body(request) -> dict:
    """The JSON object posted, or the form's fields (the console's plain form)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise PollRefused(f"The body is not JSON: {exc}", reason="bad_body") from None
        if not isinstance(data, dict):
            raise PollRefused(gettext("The body must be a JSON object."), reason="bad_body")
        return data
    data = {"question": request.POST.get("question"), "options": request.POST.getlist("options")}
    for name in ("duration_seconds", "option"):
        if name in request.POST:
            value = request.POST[name]
            data[name] = int(value) if value.strip().lstrip("-").isdigit() else value
    return data


def _answers(view):
    """Expected failures as JSON with the reason and the right status."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return JsonResponse(
                {"error": gettext("No such show or poll."), "reason": "not_found"}, status=404
            )
        except PermissionDenied:
            return JsonResponse(
                {"error": gettext("Only the brand's hosts and owners can run polls."), "reason": "forbidden"},
                status=403,
            )
        except PollRefused as exc:
            return JsonResponse({"error": exc.message, "reason": exc.reason}, status=exc.status)

    return wrapper


def _hosted_event(request, event_id: int) -> LiveEvent:
    if not request.user.is_authenticated:
        raise PermissionDenied
    return permissions.get_for_user_or_404(
        LiveEvent.objects.select_related("organization"), request.user, Action.HOST_EVENT, pk=event_id
    )


def _studio_poll(poll: Poll) -> dict:
    return {
        **payloads.poll_payload(poll, polls.counts(poll.pk)),
        "open": polls.is_open(poll),
        "cueState": poll.cue_state,
    }


@require_http_methods(["GET", "POST"])
@_answers
def polls_view(request, event_id: int):
    """GET: the show's polls, newest first, with counts. POST {question, options[], duration_seconds}:
    open a poll; 201 with it."""
    event = _hosted_event(request, event_id)
    if request.method == "GET":
        rows = event.polls.all()[:20]
        return _answer({"polls": [_studio_poll(poll) for poll in rows]})
    data = _body(request)
    poll = polls.open_poll(
        event=event,
        question=data.get("question"),
        options=data.get("options"),
        duration_seconds=data.get("duration_seconds"),
        by=request.user,
    )
    return _answer({"poll": _studio_poll(poll)}, status=201)


@require_POST
@_answers
def close_poll_view(request, event_id: int, poll_id: int):
    """End a poll of the show now; 200 with it (a closed one answers as it is)."""
    event = _hosted_event(request, event_id)
    poll = Poll.objects.filter(pk=poll_id, event=event).first()
    if poll is None:
        raise Http404
    poll = polls.close_poll(poll=poll, by=request.user)
    return _answer({"poll": _studio_poll(poll)})


def _watched_poll(request, event_id: int, poll_id: int) -> Poll:
    """The poll, if the person may watch its show (else 404: a private show is not revealed)."""
    poll = Poll.objects.select_related("event__organization").filter(pk=poll_id, event_id=event_id).first()
    if poll is None or not permissions.may_watch(request.user, poll.event):
        raise Http404
    return poll


@require_GET
@_answers
def poll_view(request, event_id: int, poll_id: int):
    """The poll with its counts, the person's own answer (null when none or anonymous) and a
    CSRF token for voting."""
    poll = _watched_poll(request, event_id, poll_id)
    mine = None
    if request.user.is_authenticated:
        mine = PollVote.objects.filter(poll=poll, voter=request.user).values_list("option", flat=True).first()
    payload = {**payloads.poll_payload(poll, polls.counts(poll.pk)), "closed": not polls.is_open(poll)}
    return _answer({"poll": payload, "myVote": mine, "csrfToken": get_token(request)})


@require_POST
@_answers
def vote_view(request, event_id: int, poll_id: int):
    """POST {option: index}: the signed-in person's vote; 200 with the counts as they are now."""
    if not request.user.is_authenticated:
        raise PollRefused(gettext("Sign in to vote."), reason="sign_in")
    poll = _watched_poll(request, event_id, poll_id)
    option = _body(request).get("option")
    polls.vote(poll=poll, user=request.user, option=option)
    return _answer({**payloads.poll_results_payload(poll, polls.counts(poll.pk)), "myVote": option})


def _answer(body: dict, status: int = 200) -> JsonResponse:
    """JSON with the server's clock (pages count down to closesAt on it)."""
    return JsonResponse({**body, "serverNow": timezone.now().isoformat()}, status=status)
