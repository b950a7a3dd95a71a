"""RecordingAdmin: read-only, each brand sees only its own recordings."""

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from events.tests.factories import LiveEventFactory
from recordings.models import ProductCue, Recording

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:recordings_recording_changelist")


@pytest.fixture
def recordings():
    ours, theirs = LiveEventFactory(title="Acme spring drop"), LiveEventFactory(title="Globex sale")
    product = ProductFactory(organization=ours.organization, name="Rose lipstick")
    mine = Recording.objects.create(
        event=ours,
        organization=ours.organization,
        source_bucket="b",
        source_prefix="ivs/v1/1/c/2024/1/1/1/1/mine",
        status=Recording.Status.READY,
        master_path="replays/1/mine/media/hls/master.m3u8",
        duration_ms=3_600_000,
    )
    ProductCue.objects.create(recording=mine, product=product, start_ms=1000, end_ms=5000)
    other = Recording.objects.create(
        event=theirs,
        organization=theirs.organization,
        source_bucket="b",
        source_prefix="ivs/v1/1/c/2024/1/1/1/1/other",
    )
    return mine, other


def test_a_brand_member_sees_only_its_recordings(client, recordings):
    mine, other = recordings
    client.force_login(member(mine.event.organization, role=Membership.Role.MODERATOR))

    page = client.get(CHANGELIST)

    assert page.status_code == 200
    assert "Acme spring drop" in page.content.decode() and "Globex sale" not in page.content.decode()
    assert client.get(reverse("admin:recordings_recording_change", args=[other.pk])).status_code == 302


def test_recordings_are_read_only(client, recordings):
    mine, _ = recordings
    client.force_login(member(mine.event.organization, role=Membership.Role.OWNER))

    page = client.get(reverse("admin:recordings_recording_change", args=[mine.pk]))

    assert page.status_code == 200
    body = page.content.decode()
    assert "Rose lipstick" in body and "master.m3u8" in body
    assert 'name="_save"' not in body
    assert client.get(reverse("admin:recordings_recording_add")).status_code == 403
    assert (
        client.post(reverse("admin:recordings_recording_delete", args=[mine.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Recording.objects.filter(pk=mine.pk).exists()
