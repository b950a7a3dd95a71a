"""Polls: the host opens one (a cue in the video and a frame to viewers, at its moment in the
stream), viewers vote once each (the database decides), results go out aggregated, the poll closes
at its time; every bad input is a 4xx naming its reason with nothing stored."""

import json
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Membership
from accounts.tests.factories import member
from chat import polls
from chat.exceptions import PollRefused
from chat.models import Poll, PollVote
from chat.tests.conftest import make_viewer
from events.models import LiveEvent

pytestmark = pytest.mark.django_db


def opened(event, host, **fields):
    fields = {"question": "Which colour next?", "options": ["Rose", "Plum"], "duration_seconds": 30, **fields}
    return polls.open_poll(event=event, by=host, **fields)


def wait_for(predicate, deadline=10.0):
    """Poll ``predicate`` until it is true (generous deadline: the machine is shared)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def channel_live(live_event, video):
    video.go_live(live_event.channel_id)
    return live_event


def test_opening_a_poll_in_a_live_show_sends_a_cue_and_a_frame_at_its_moment(
    channel_live, host, video, chat_frames, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        poll = opened(channel_live, host, question="  Which colour\u200b next? ", options=["Rose", " Plum "])

    poll.refresh_from_db()
    assert (poll.question, poll.options) == ("Which colour next?", ["Rose", "Plum"])
    assert poll.session is not None and 89_000 <= poll.offset_ms <= 120_000  # the session began 90 s ago
    assert poll.closes_at - poll.opened_at == timedelta(seconds=30)
    [call] = video.calls_to("put_metadata")
    cue = json.loads(call["payload"])
    assert cue == {"v": 1, "type": "poll", "eventId": channel_live.pk, "pollId": poll.pk}
    assert len(call["payload"].encode()) < 1024
    assert poll.cue_state == Poll.CueState.SENT
    [frame] = [f for f in chat_frames if f["type"] == "poll_opened"]
    assert frame["topic"] == f"chat-{channel_live.pk}"
    assert (frame["pollId"], frame["options"], frame["counts"], frame["offsetMs"]) == (
        poll.pk,
        ["Rose", "Plum"],
        [0, 0],
        poll.offset_ms,
    )


def test_a_poll_before_going_live_has_no_cue_and_no_moment(event, host, video, chat_frames):
    poll = opened(event, host)
    assert (poll.session, poll.offset_ms, poll.cue_state) == (None, None, Poll.CueState.NOT_LIVE)
    assert video.calls_to("put_metadata") == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"question": "   "}, "question_empty"),
        ({"question": "x" * 201}, "question_too_long"),
        ({"options": ["Only one"]}, "options"),
        ({"options": ["A", "B", "C", "D", "E"]}, "options"),
        ({"options": ["Rose", "rose"]}, "options"),
        ({"options": "Rose,Plum"}, "options"),
        ({"duration_seconds": 5}, "duration"),
        ({"duration_seconds": "30"}, "duration"),
    ],
)
def test_bad_polls_are_refused_with_their_reason_and_nothing_stored(event, host, fields, reason):
    with pytest.raises(PollRefused) as caught:
        opened(event, host, **fields)
    assert caught.value.reason == reason and caught.value.status == 400
    assert not Poll.objects.exists()


def test_one_open_poll_at_a_time_and_none_after_the_show(event, host):
    opened(event, host)
    with pytest.raises(PollRefused) as caught:
        opened(event, host, question="Another?")
    assert (caught.value.reason, caught.value.status) == ("poll_open", 409)
    event.status = LiveEvent.Status.ENDED
    event.save(update_fields=["status"])
    Poll.objects.update(closed_at=timezone.now())
    with pytest.raises(PollRefused) as caught:
        opened(event, host, question="After?")
    assert caught.value.reason == "closed"


def test_viewers_and_moderators_cannot_open_polls(event, viewer, moderator):
    from django.core.exceptions import PermissionDenied

    for person in (viewer, moderator):
        with pytest.raises(PermissionDenied):
            opened(event, person)


@pytest.mark.django_db(transaction=True)
def test_each_viewer_votes_once_and_results_go_out_aggregated(event, host, chat_frames, monkeypatch):
    monkeypatch.setattr(polls, "RESULTS_INTERVAL", 1.0)
    poll = opened(event, host, options=["Rose", "Plum", "Sand"])
    voters = [make_viewer(f"V{i}") for i in range(5)]
    started = time.monotonic()
    for index, voter in enumerate(voters):
        polls.vote(poll=poll, user=voter, option=index % 3)
    with pytest.raises(PollRefused) as caught:
        polls.vote(poll=poll, user=voters[0], option=1)
    assert (caught.value.reason, caught.value.status) == ("already_voted", 409)
    voting = time.monotonic() - started
    assert PollVote.objects.filter(poll=poll).count() == 5

    def results():
        return [f for f in chat_frames if f["type"] == "poll_results"]

    assert wait_for(lambda: results() and results()[-1]["counts"] == [2, 2, 1])
    # One frame per interval, not one per vote (a slow machine may spread five votes over two).
    assert len(results()) <= 1 + int(voting / polls.RESULTS_INTERVAL) < 5
    assert results()[-1]["total"] == 5


def test_bad_votes_are_refused(event, host, viewer):
    poll = opened(event, host)
    for option in (2, -1, "0", None, True):
        with pytest.raises(PollRefused) as caught:
            polls.vote(poll=poll, user=viewer, option=option)
        assert caught.value.reason == "option"
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PollRefused) as caught:
        polls.vote(poll=poll, user=AnonymousUser(), option=0)
    assert (caught.value.reason, caught.value.status) == ("sign_in", 401)
    assert not PollVote.objects.exists()


def test_a_poll_closes_at_its_time_with_its_final_results_and_takes_no_more_votes(
    event, host, viewer, chat_frames, django_capture_on_commit_callbacks
):
    poll = opened(event, host)
    polls.vote(poll=poll, user=viewer, option=1)
    assert polls.finish_poll(poll.pk).closed_at is None  # not its time yet: a no-op
    past = timezone.now() - timedelta(seconds=polls.VOTE_GRACE_SECONDS + 1)
    Poll.objects.filter(pk=poll.pk).update(opened_at=past - timedelta(seconds=30), closes_at=past)
    poll.refresh_from_db()
    with pytest.raises(PollRefused) as caught:
        polls.vote(poll=poll, user=make_viewer("Late"), option=0)
    assert (caught.value.reason, caught.value.status) == ("poll_closed", 409)
    with django_capture_on_commit_callbacks(execute=True):
        assert polls.finish_poll(poll.pk).closed_at is not None
        polls.finish_poll(poll.pk)  # idempotent: one final frame
    closed = [f for f in chat_frames if f["type"] == "poll_closed"]
    assert len(closed) == 1 and closed[0]["counts"] == [0, 1] and closed[0]["closed"] is True


def test_the_host_closes_a_poll_early(event, host, viewer, chat_frames):
    poll = polls.close_poll(poll=opened(event, host), by=host)
    assert poll.closed_at is not None and poll.closes_at <= timezone.now()
    with pytest.raises(PollRefused):
        polls.vote(poll=poll, user=viewer, option=0)
    opened(event, host, question="Next one?")  # the closed poll no longer blocks a new one


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_close_sends_the_final_results(event, host, chat_frames, monkeypatch):
    monkeypatch.setattr(polls, "VOTE_GRACE_SECONDS", 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(polls, "DURATION_MIN", 1)
        poll = polls.open_poll(
            event=event, by=host, question="Quick?", options=["Y", "N"], duration_seconds=1
        )
    assert wait_for(lambda: any(f["type"] == "poll_closed" for f in chat_frames), deadline=15)
    poll.refresh_from_db()
    assert poll.closed_at is not None


# Over HTTP: the console and viewers


def post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_the_console_opens_lists_and_closes_polls(client, event, host):
    client.force_login(host)
    url = reverse("chat:polls", args=[event.pk])
    answer = post_json(
        client, url, {"question": "Rose or plum?", "options": ["Rose", "Plum"], "duration_seconds": 60}
    )
    assert answer.status_code == 201
    poll_id = answer.json()["poll"]["pollId"]
    assert client.get(url).json()["polls"][0]["pollId"] == poll_id
    again = post_json(client, url, {"question": "Again?", "options": ["A", "B"], "duration_seconds": 60})
    assert again.status_code == 409 and "close it first" in again.json()["error"]
    closed = client.post(reverse("chat:close-poll", args=[event.pk, poll_id]))
    assert closed.status_code == 200 and closed.json()["poll"]["open"] is False
    # The console's plain form works too.
    form = client.post(url, {"question": "Form?", "options": ["Yes", "No"], "duration_seconds": "30"})
    assert form.status_code == 201


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"question": "", "options": ["A", "B"], "duration_seconds": 30}, "question_empty"),
        ({"question": "Q?", "options": ["A", "B", "C", "D", "E"], "duration_seconds": 30}, "options"),
        ({"question": "Q?", "options": ["A", "B"], "duration_seconds": 9999}, "duration"),
        ({"question": "Q?"}, "options"),
        (["not", "an", "object"], "bad_body"),
    ],
)
def test_the_console_gets_a_400_naming_what_is_wrong(client, event, host, data, reason):
    client.force_login(host)
    answer = post_json(client, reverse("chat:polls", args=[event.pk]), data)
    assert answer.status_code == 400 and answer.json()["reason"] == reason and answer.json()["error"]
    assert not Poll.objects.exists()


def test_only_the_brands_hosts_run_polls_and_another_brand_is_a_404(client, event, moderator, other_brand):
    url = reverse("chat:polls", args=[event.pk])
    data = {"question": "Q?", "options": ["A", "B"], "duration_seconds": 30}
    assert post_json(client, url, data).status_code == 403  # anonymous
    client.force_login(moderator)
    assert post_json(client, url, data).status_code == 403
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert post_json(client, url, data).status_code == 404
    assert not Poll.objects.exists()


def test_a_viewer_reads_the_poll_votes_once_and_is_told_why_a_second_time(client, event, host, viewer):
    poll = opened(event, host)
    read_url = reverse("chat:poll", args=[event.pk, poll.pk])
    vote_url = reverse("chat:vote", args=[event.pk, poll.pk])
    assert post_json(client, vote_url, {"option": 0}).status_code == 401
    client.force_login(viewer)
    read = client.get(read_url).json()
    assert read["myVote"] is None and read["csrfToken"] and read["poll"]["question"] == "Which colour next?"
    answer = post_json(client, vote_url, {"option": 1})
    assert answer.status_code == 200 and answer.json()["counts"] == [0, 1]
    second = post_json(client, vote_url, {"option": 0})
    assert second.status_code == 409 and second.json()["reason"] == "already_voted"
    assert post_json(client, vote_url, {"option": 7}).status_code == 400
    assert client.get(read_url).json()["myVote"] == 1
    assert client.get(reverse("chat:poll", args=[event.pk, poll.pk + 99])).status_code == 404


def test_a_vote_after_the_close_is_a_409(client, event, host, viewer):
    poll = polls.close_poll(poll=opened(event, host), by=host)
    client.force_login(viewer)
    answer = post_json(client, reverse("chat:vote", args=[event.pk, poll.pk]), {"option": 0})
    assert answer.status_code == 409 and answer.json()["reason"] == "poll_closed"


def test_a_private_shows_poll_is_a_404_to_people_not_invited(client, event, host, viewer):
    event.is_private = True
    event.save(update_fields=["is_private"])
    poll = opened(event, host)
    client.force_login(viewer)
    assert client.get(reverse("chat:poll", args=[event.pk, poll.pk])).status_code == 404
    answer = post_json(client, reverse("chat:vote", args=[event.pk, poll.pk]), {"option": 0})
    assert answer.status_code == 404


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    question=st.one_of(st.text(max_size=260), st.none(), st.integers()),
    options=st.one_of(
        st.lists(st.one_of(st.text(max_size=100), st.none()), max_size=6), st.text(max_size=20)
    ),
    duration=st.one_of(st.integers(min_value=-5, max_value=700), st.text(max_size=4), st.none()),
)
def test_any_poll_input_is_opened_cleaned_or_refused_with_a_reason(event, host, question, options, duration):
    Poll.objects.all().delete()
    try:
        poll = polls.open_poll(
            event=event, by=host, question=question, options=options, duration_seconds=duration
        )
    except PollRefused as exc:
        assert exc.reason and exc.message and 400 <= exc.status < 500
        assert not Poll.objects.exists()
        return
    assert poll.question and len(poll.question) <= polls.QUESTION_MAX
    assert 2 <= len(poll.options) <= 4 and all(0 < len(o) <= polls.OPTION_MAX for o in poll.options)
