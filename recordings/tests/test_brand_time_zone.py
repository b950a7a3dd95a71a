"""The studio's video list shows upload times in the brand's time zone (issue 16; it lives here,
not with the time-zone tests in events/tests, because events' tests never import recordings)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from recordings.models import Recording


@pytest.mark.django_db
def test_the_studios_video_list_shows_upload_times_in_the_brands_time_zone(client):
    brand = OrganizationFactory(time_zone="Asia/Tokyo")
    client.force_login(member(brand, role=Membership.Role.OWNER))
    video = Recording.objects.create(
        organization=brand, backend=Recording.Backend.UPLOAD, title="Spring", slug="spring"
    )
    Recording.objects.filter(pk=video.pk).update(created_at=datetime(2031, 1, 15, 0, 0, tzinfo=UTC))

    listing = client.get(reverse("videos:list")).content.decode()

    assert "Uploaded 15 Jan 2031, 09:00" in listing
