from datetime import timedelta

import factory
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory
from events.models import LiveEvent, StreamSession


class LiveEventFactory(factory.django.DjangoModelFactory):
    """An event with a (fake) channel, scheduled for tomorrow."""

    class Meta:
        model = LiveEvent

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Spring drop {n}")
    slug = factory.Sequence(lambda n: f"spring-drop-{n}")
    scheduled_start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    status = LiveEvent.Status.SCHEDULED
    backend = "fake"
    channel_id = factory.Sequence(lambda n: f"arn:aws:ivs:us-west-2:123456789012:channel/chan{n:08d}")
    ingest_url = "rtmps://ingest.example.net:443/app/"
    playback_url = factory.LazyAttribute(lambda e: f"https://play.example.net/{e.slug}.m3u8")


class LiveNowEventFactory(LiveEventFactory):
    status = LiveEvent.Status.LIVE
    status_changed_at = factory.LazyFunction(timezone.now)


class StreamSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StreamSession

    event = factory.SubFactory(LiveNowEventFactory)
    stream_id = factory.Sequence(lambda n: f"st-{n:023d}")
    started_at = factory.LazyFunction(timezone.now)
