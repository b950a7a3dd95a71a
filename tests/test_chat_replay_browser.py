"""The replay's chat in a real browser against a real ASGI server, over the same real HLS VOD as
tests/test_replay_browser.py: messages and a poll of the live show appear at their moments of the
video, in both seek directions. Screenshot in test-artifacts/."""

from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from chat.models import ChatMessage, Poll
from chat.tests.conftest import make_viewer
from tests.test_replay_browser import (  # noqa: F401 (fixtures)
    DEADLINE_MS,
    asgi_server,
    load_replay,
    recordings_on_disk,
    replay,
    seek,
)


@pytest.fixture
def chat_of_the_show(replay):  # noqa: F811 (the imported fixture)
    event, recording, _ = replay
    host = member(event.organization, role=Membership.Role.HOST)

    def said(body, seconds, author, role=""):
        message = ChatMessage.objects.create(
            event=event, author=author, author_name=author.first_name or "Host", author_role=role, body=body
        )
        at = recording.started_at + timedelta(seconds=seconds)
        ChatMessage.objects.filter(pk=message.pk).update(created_at=at)

    said("Hello from the start!", 2, make_viewer("Ada"))
    said("That jacket <b>looks</b> great", 7, make_viewer("Grace"))
    said("Thanks! It is waterproof.", 9, host, role="host")
    Poll.objects.create(
        event=event,
        question="Which colour next?",
        options=["Teal", "Rust"],
        duration_seconds=3,
        opened_by=host,
        opened_at=recording.started_at + timedelta(seconds=5),
        closes_at=recording.started_at + timedelta(seconds=8),
        closed_at=recording.started_at + timedelta(seconds=9),
    ).votes.create(voter=make_viewer("Voter"), option=0)
    return event, recording


def shown(page) -> list[str]:
    return page.evaluate("window.liveshopChatReplay.messages().map((m) => m.text)")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_replay_shows_chat_and_polls_at_their_moments_in_both_seek_directions(
    chat_of_the_show,
    asgi_server,  # noqa: F811 (the imported fixture)
    page,
    artifacts_dir,
):
    from playwright.sync_api import expect

    event, _ = chat_of_the_show
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    path = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})
    page.goto(f"{asgi_server.url}{path}")
    load_replay(page, longer_than=11)
    messages = page.locator("#chat-replay-messages .chat-message")

    seek(page, 8)
    expect(messages).to_have_count(2, timeout=DEADLINE_MS)
    assert shown(page) == ["Hello from the start!", "That jacket <b>looks</b> great"]  # text, not HTML
    expect(page.locator("#replay-poll")).to_be_visible()
    expect(page.locator("#replay-poll-question")).to_have_text("Which colour next?")
    expect(page.locator("#replay-poll .poll-option").first).to_contain_text("100%")
    page.screenshot(path=artifacts_dir / "chat-replay.png", full_page=True)

    seek(page, 1)  # back before everything
    expect(messages).to_have_count(0, timeout=DEADLINE_MS)
    expect(page.locator("#chat-replay-empty")).to_be_visible()
    expect(page.locator("#replay-poll")).to_be_hidden()

    seek(page, 10)  # forward past the host's answer
    expect(messages).to_have_count(3, timeout=DEADLINE_MS)
    expect(page.locator("#chat-replay-messages .chat-message.is-staff")).to_contain_text("waterproof")

    seek(page, 3)
    expect(messages).to_have_count(1, timeout=DEADLINE_MS)
    expect(page.locator("#replay-poll")).to_be_hidden()
    assert errors == []
