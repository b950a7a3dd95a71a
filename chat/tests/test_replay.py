"""The replay's chat: messages, reactions and polls at their positions in the recording, read a
window at a time by whoever may watch the replay."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chat import reactions, replay
from chat.models import ChatMessage, Poll, ReactionSecond
from chat.tests.conftest import make_viewer
from events.models import LiveEvent
from events.tests.factories import StreamSessionFactory
from recordings.models import Recording

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(hours=2)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def ended_event(event):
    event.status = LiveEvent.Status.ENDED
    event.save(update_fields=["status"])
    return event


def recording_of(event, *sessions) -> Recording:
    """A ready recording of ``event`` from T0, 10 minutes long, of ``sessions`` ((start, end) s)."""
    recording = Recording.objects.create(
        organization=event.organization,
        event=event,
        backend=Recording.Backend.LOCAL,
        status=Recording.Status.READY,
        started_at=T0,
        ended_at=at(max(end for _, end in sessions)),
        duration_ms=600_000,
        master_path="replays/x/master.m3u8",
        cdn_prefix=f"replays/x{Recording.objects.count()}",
    )
    for start, end in sessions:
        recording.sessions.add(StreamSessionFactory(event=event, started_at=at(start), ended_at=at(end)))
    return recording


def say(event, body, seconds, **fields):
    message = ChatMessage.objects.create(
        event=event, author=make_viewer(), author_name="Ada", body=body, **fields
    )
    ChatMessage.objects.filter(pk=message.pk).update(created_at=at(seconds))
    return message


def test_the_clock_skips_the_gap_between_two_merged_streams(ended_event):
    recording = recording_of(ended_event, (0, 300), (400, 700))  # a 100 s reconnect gap
    clock = replay.ReplayClock(Recording.objects.prefetch_related("sessions").get(pk=recording.pk))
    assert clock.position_ms(at(10)) == 10_000
    assert clock.position_ms(at(350)) == 300_000  # in the gap: the next stream's start
    assert clock.position_ms(at(450)) == 350_000
    assert clock.moment(350_000) == at(450)
    assert clock.moment(10_000) == at(10)


def test_a_window_has_the_visible_messages_and_reactions_at_their_positions(ended_event, client):
    recording = recording_of(ended_event, (0, 600))
    first = say(ended_event, "Hello", 5)
    say(ended_event, "Gone", 6, hidden_at=timezone.now())
    say(ended_event, "Held", 7, held=True)
    later = say(ended_event, "Later", 75)
    say(ended_event, "Before the recording", -30)
    reactions.record_second(ended_event.pk, {"heart": 3}, at=at(10))
    reactions.record_second(ended_event.pk, {"heart": 2, "fire": 1}, at=at(10.4))  # another process
    url = reverse("chat:replay-chat", args=[recording.pk])

    window = client.get(url, {"from_ms": 0}).json()
    assert [(m["id"], m["body"], m["atMs"]) for m in window["messages"]] == [(first.pk, "Hello", 5000)]
    assert window["reactions"] == [{"atMs": 10_000, "counts": {"heart": 5, "fire": 1}}]
    assert ReactionSecond.objects.count() == 1
    second = client.get(url, {"from_ms": 60_000}).json()
    assert [(m["id"], m["atMs"]) for m in second["messages"]] == [(later.pk, 75_000)]
    assert "author_id" not in str(second) and "email" not in str(second)


def test_bad_windows_are_400_and_people_who_may_not_watch_get_404(ended_event, client):
    recording = recording_of(ended_event, (0, 600))
    url = reverse("chat:replay-chat", args=[recording.pk])
    for bad in ("-60000", "abc", "1234"):
        answer = client.get(url, {"from_ms": bad})
        assert answer.status_code == 400 and "from_ms" in answer.json()["error"]
    ended_event.is_private = True
    ended_event.save(update_fields=["is_private"])
    assert client.get(url).status_code == 404
    client.force_login(make_viewer("Stranger"))
    assert client.get(url).status_code == 404
    assert client.get(reverse("chat:replay-chat", args=[recording.pk + 100])).status_code == 404


def test_polls_of_the_recording_come_with_their_final_results_and_position(ended_event, host):
    recording = recording_of(ended_event, (0, 600))
    poll = Poll.objects.create(
        event=ended_event,
        question="Rose or plum?",
        options=["Rose", "Plum"],
        duration_seconds=30,
        opened_by=host,
        opened_at=at(120),
        closes_at=at(150),
        closed_at=at(155),
    )
    poll.votes.create(voter=make_viewer("A"), option=1)
    Poll.objects.create(
        event=ended_event,
        question="Before?",
        options=["A", "B"],
        duration_seconds=30,
        opened_at=at(-100),
        closes_at=at(-70),
    )
    [shown] = replay.replay_polls(Recording.objects.prefetch_related("sessions").get(pk=recording.pk))
    assert (shown["pollId"], shown["atMs"], shown["durationS"], shown["counts"], shown["closed"]) == (
        poll.pk,
        120_000,
        30,
        [0, 1],
        True,
    )


def test_the_replay_page_has_the_chat_panel_with_its_polls(ended_event, client):
    recording = recording_of(ended_event, (0, 600))
    page = client.get(
        reverse(
            "replays:event-recording", args=[ended_event.organization.slug, ended_event.slug, recording.pk]
        )
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="chat-replay"' in html and "chat-replay-config" in html and "chat_replay.js" in html


def test_a_slow_encoders_messages_and_polls_play_at_their_moment_of_the_video(ended_event, client, host):
    """The encoder sent 0.8 s of video a second: a message written 130 s into the show went out
    with the picture's 104 s (offset_ms), and plays there, not at 130 s of the video."""
    recording = recording_of(ended_event, (0, 600))
    session = recording.sessions.get()
    early = say(ended_event, "Early", 130, session=session, offset_ms=104_000)
    edge = say(ended_event, "On the edge", 76, session=session, offset_ms=60_000)
    late = say(ended_event, "Late", 200, session=session, offset_ms=160_000)
    before = say(ended_event, "Before the stream", 50)  # not live yet: no session, no offset
    old = say(ended_event, "Not stamped", 70, session=session)  # a row from before the stamps
    poll = Poll.objects.create(
        event=ended_event,
        question="Rose or plum?",
        options=["Rose", "Plum"],
        duration_seconds=30,
        opened_by=host,
        opened_at=at(190),
        closes_at=at(220),
        session=session,
        offset_ms=152_000,
    )
    url = reverse("chat:replay-chat", args=[recording.pk])

    def window(from_ms):
        return [(m["id"], m["atMs"]) for m in client.get(url, {"from_ms": from_ms}).json()["messages"]]

    # Seeking forward, then back, then forward again: each window has the same messages.
    assert window(120_000) == [(late.pk, 160_000)]
    assert window(0) == [(before.pk, 50_000)]
    assert window(60_000) == [(edge.pk, 60_000), (old.pk, 70_000), (early.pk, 104_000)]
    assert window(180_000) == []
    assert window(120_000) == [(late.pk, 160_000)]
    [shown] = replay.replay_polls(Recording.objects.prefetch_related("sessions").get(pk=recording.pk))
    assert (shown["pollId"], shown["atMs"], shown["durationS"]) == (poll.pk, 152_000, 30)


def test_after_a_reconnect_a_slow_encoders_messages_count_from_their_own_streams_start(ended_event, client):
    recording = recording_of(ended_event, (0, 300), (400, 700))  # the second stream is at 300 s of video
    first, second = recording.sessions.order_by("started_at")
    in_first = say(ended_event, "First stream", 290, session=first, offset_ms=250_000)
    in_second = say(ended_event, "Second stream", 420, session=second, offset_ms=15_000)
    url = reverse("chat:replay-chat", args=[recording.pk])

    window = client.get(url, {"from_ms": 240_000}).json()["messages"]
    assert [(m["id"], m["atMs"]) for m in window] == [(in_first.pk, 250_000)]
    window = client.get(url, {"from_ms": 300_000}).json()["messages"]
    assert [(m["id"], m["atMs"]) for m in window] == [(in_second.pk, 315_000)]


def test_after_a_slow_encoders_reconnect_the_second_stream_starts_at_the_first_ones_media_length(
    ended_event, client, host
):
    """The first stream ran 300 s of wall clock but sent 200 s of video (ingestion kept where
    each stream starts in the video: session_positions): the second stream's chat plays from
    200 s of the video, not 300 s. An unstamped row past the first stream's media stays in it."""
    recording = recording_of(ended_event, (0, 300), (400, 700))
    first, second = recording.sessions.order_by("started_at")
    recording.session_positions = {str(first.pk): 0, str(second.pk): 200_000}
    recording.save(update_fields=["session_positions"])
    in_first = say(ended_event, "First stream", 290, session=first, offset_ms=190_000)
    unstamped = say(ended_event, "Not stamped", 250, session=first)
    in_second = say(ended_event, "Second stream", 420, session=second, offset_ms=15_000)
    poll = Poll.objects.create(
        event=ended_event,
        question="Rose or plum?",
        options=["Rose", "Plum"],
        duration_seconds=30,
        opened_by=host,
        opened_at=at(430),
        closes_at=at(460),
        session=second,
        offset_ms=20_000,
    )
    url = reverse("chat:replay-chat", args=[recording.pk])

    def window(from_ms):
        return [(m["id"], m["atMs"]) for m in client.get(url, {"from_ms": from_ms}).json()["messages"]]

    assert window(180_000) == [(in_first.pk, 190_000), (unstamped.pk, 200_000), (in_second.pk, 215_000)]
    assert window(120_000) == window(240_000) == window(300_000) == []  # 300 s: without the positions
    [shown] = replay.replay_polls(Recording.objects.prefetch_related("sessions").get(pk=recording.pk))
    assert (shown["pollId"], shown["atMs"]) == (poll.pk, 220_000)


@pytest.mark.parametrize("per_window", [2, 40])
def test_a_window_costs_the_same_queries_whatever_the_number_of_messages(ended_event, client, per_window):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    recording = recording_of(ended_event, (0, 300), (400, 700))
    first, second = recording.sessions.order_by("started_at")
    quoted = say(ended_event, "Quoted", 1)
    for i in range(per_window):
        say(ended_event, f"First {i}", 70 + i, session=first, offset_ms=60_000 + i * 100, reply_to=quoted)
        say(ended_event, f"Unstamped {i}", 60 + i)
        say(ended_event, f"Second {i}", 420 + i, session=second, offset_ms=10_000 + i * 100)
    reactions.record_second(ended_event.pk, {"heart": 1}, at=at(65))
    url = reverse("chat:replay-chat", args=[recording.pk])

    with CaptureQueriesContext(connection) as queries:
        window = client.get(url, {"from_ms": 60_000}).json()
    assert len(window["messages"]) == 2 * per_window
    assert all(m["replyTo"]["body"] == "Quoted" for m in window["messages"] if m["body"].startswith("First"))
    # The recording, its sessions, the messages (with what they reply to), the reactions.
    assert len(queries) == 4, [q["sql"] for q in queries]
    with CaptureQueriesContext(connection) as queries:
        window = client.get(url, {"from_ms": 300_000}).json()
    assert len(window["messages"]) == per_window and len(queries) == 4


def test_a_slow_encoders_reactions_float_at_their_moment_of_the_video(ended_event, client):
    recording = recording_of(ended_event, (0, 600))
    session = recording.sessions.get()
    reactions.record_second(ended_event.pk, {"fire": 2}, at=at(130), position=(session.pk, 104_000))
    reactions.record_second(ended_event.pk, {"heart": 1}, at=at(70))  # not stamped: its wall clock
    url = reverse("chat:replay-chat", args=[recording.pk])

    assert client.get(url, {"from_ms": 60_000}).json()["reactions"] == [
        {"atMs": 70_000, "counts": {"heart": 1}},
        {"atMs": 104_000, "counts": {"fire": 2}},
    ]
    assert client.get(url, {"from_ms": 120_000}).json()["reactions"] == []
