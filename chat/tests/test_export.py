"""The owners' CSV export of an event's chat."""

import csv
import io

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from chat import services

pytestmark = pytest.mark.django_db


async def read_chunks(response) -> list[bytes]:
    return [chunk async for chunk in response.streaming_content]


def download(client, event):
    """The response and its CSV rows, read as the ASGI server reads a streamed response."""
    response = client.get(reverse("chat:export", args=[event.pk]))
    chunks = async_to_sync(read_chunks)(response) if response.status_code == 200 else []
    return response, list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))


def test_an_owner_downloads_every_message_with_hidden_ones_marked_and_formulas_defused(
    client, event, viewer, owner, moderator
):
    services.post_message(event=event, user=viewer, body="Love it")
    bad = services.post_message(event=event, user=viewer, body='=HYPERLINK("http://evil.example","win")')
    services.hide_message(message=bad, by=moderator)
    client.force_login(owner)

    response, rows = download(client, event)

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert rows[0] == ["sent at", "stream offset (s)", "author", "role", "message", "hidden at", "hidden by"]
    assert [row[2:5] for row in rows[1:]] == [
        ["Ada", "", "Love it"],
        ["Ada", "", '\'=HYPERLINK("http://evil.example","win")'],
    ]
    assert rows[1][5] == "" and rows[2][5] and rows[2][6] == moderator.username


def test_only_the_brands_owners_export(client, event, host, moderator, other_brand):
    for person, status in (
        (host, 403),
        (moderator, 403),
        (member(other_brand, role=Membership.Role.OWNER), 404),
    ):
        client.force_login(person)
        assert download(client, event)[0].status_code == status
    client.logout()
    assert download(client, event)[0].status_code == 302  # to the login page


def test_the_studio_event_page_links_owners_to_the_chat_csv(client, event, owner, host):
    export = reverse("chat:export", args=[event.pk])
    client.force_login(owner)
    assert f'href="{export}"' in client.get(reverse("events:detail", args=[event.slug])).content.decode()
    client.force_login(host)  # hosts may not export the chat
    assert f'href="{export}"' not in client.get(reverse("events:detail", args=[event.slug])).content.decode()
