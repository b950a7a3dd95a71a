"""A private event's replay and its media follow the invitation rule (accounts.permissions.may_watch):
invited viewers get the replay page and its files; the uninvited, and those whose invitation was
removed, get 404s."""

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import UserFactory, member
from events import invitations
from recordings.tests.test_private_media import (  # noqa: F401 (media_root is a fixture)
    event_recording,
    media_root,
    media_urls,
    statuses,
    urlpatterns,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def test_an_invited_viewer_gets_the_private_replay_and_its_files_until_removed(client, media_root):  # noqa: F811
    recording = event_recording(media_root, private=True)
    event = recording.event
    host = member(event.organization, role=Membership.Role.HOST)
    [invitation] = invitations.invite_emails(event=event, emails=["ana@example.com"], by=host)
    page = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})

    client.force_login(UserFactory(email="bob@example.com", is_staff=False))
    assert client.get(page).status_code == 404
    assert statuses(client, media_urls(recording)) == {404}

    client.force_login(UserFactory(email="ana@example.com", is_staff=False))
    assert client.get(page).status_code == 200
    assert statuses(client, media_urls(recording)) == {200}

    invitations.remove_invitation(invitation=invitation, by=host)
    assert client.get(page).status_code == 404
    assert statuses(client, media_urls(recording)) == {404}
