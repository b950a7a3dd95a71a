"""What the live page's first HTML holds for its first paint (issue 16's Lighthouse line): the
show's picture as the player's poster, preloaded while the show is live (the page's largest paint
until the video plays), and the chat's and shop's styles in the head (linked in the body only,
they applied after the card and the chat had painted, and moved them: CLS)."""

import re

import pytest

from events.models import LiveEvent
from events.tests.factories import LiveNowEventFactory
from events.tests.test_viewer_views import watch_url

pytestmark = pytest.mark.django_db


def head_of(client, event) -> str:
    response = client.get(watch_url(event))
    assert response.status_code == 200
    html = response.content.decode()
    return html[: html.index("</head>")]


def test_a_live_shows_picture_is_the_players_preloaded_poster(client):
    event = LiveNowEventFactory(thumbnail="events/spring-live.jpg")
    url = event.thumbnail.url
    html = client.get(watch_url(event)).content.decode()
    head = html[: html.index("</head>")]
    assert f'<link rel="preload" as="image" href="{url}" fetchpriority="high">' in head
    assert re.search(rf'<video id="video"[^>]* poster="{re.escape(url)}"', html)

    # The countdown, not the player: nothing to preload; nor without a picture.
    scheduled = LiveNowEventFactory(thumbnail="events/soon.jpg", status=LiveEvent.Status.SCHEDULED)
    assert 'rel="preload" as="image"' not in head_of(client, scheduled)
    assert 'rel="preload" as="image"' not in head_of(client, LiveNowEventFactory())


def test_the_chat_and_shop_styles_are_in_the_head(client):
    head = head_of(client, LiveNowEventFactory())
    for sheet in ("viewer", "player", "chat", "shop"):
        assert re.search(rf'<link rel="stylesheet" href="/static/css/{sheet}\.css">', head), sheet
