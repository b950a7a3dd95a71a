"""events.services against the fake video backend: rows, ``video.calls`` and broadcasts."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from catalog.tests.factories import ProductFactory
from events import services
from events.exceptions import ChannelUnavailable, EventNotEditable, ProductNotInBrand
from events.models import EventProduct, LiveEvent, StreamSession
from events.tests.factories import StreamSessionFactory
from liveshop import crypto
from liveshop.video import BackendUnavailable

pytestmark = pytest.mark.django_db

Status = LiveEvent.Status


def create(brand, host, **kwargs):
    kwargs.setdefault("title", "Spring drop")
    kwargs.setdefault("scheduled_start", timezone.now() + timedelta(days=1))
    return services.create_event(organization=brand, by=host, **kwargs)


def test_create_event_provisions_a_channel_and_keeps_the_lineup_order(
    brand, host, video, django_capture_on_commit_callbacks
):
    first, second = ProductFactory(organization=brand), ProductFactory(organization=brand)

    with django_capture_on_commit_callbacks(execute=True):
        event = create(brand, host, products=[second, first], is_private=True)

    assert video.calls_to("create_channel") == [
        {"name": f"acme-{event.pk}", "latency": "low", "record": True, "private": True}
    ]
    channel = video.channels[event.channel_id]
    event.refresh_from_db()
    assert event.status == Status.SCHEDULED
    assert (event.backend, event.ingest_url, event.playback_url) == (
        "fake",
        "rtmp://fake-video.invalid/app/",
        channel.playback_url,
    )
    assert event.provisioning_error == ""
    assert event.slug == "spring-drop"
    assert [row.product for row in event.lineup.all()] == [second, first]
    # The fake keeps the key like IVS: nothing of it is stored here.
    assert (event.stream_key_encrypted, event.stream_key_digest) == ("", "")


def test_create_event_stores_a_self_kept_key_only_encrypted(brand, host, video):
    video.stores_stream_keys = False  # like the local media server

    event = create(brand, host)

    key = video.channels[event.channel_id].stream_key
    event.refresh_from_db()
    stored = {f.attname: str(getattr(event, f.attname)) for f in LiveEvent._meta.concrete_fields}
    assert not [name for name, value in stored.items() if key in value]
    assert crypto.decrypt(event.stream_key_encrypted) == key
    assert event.stream_key_digest == crypto.digest(key)


def test_backend_failure_leaves_needs_channel_with_the_reason_and_retry_succeeds(brand, host, video):
    video.fail_next("create_channel", BackendUnavailable("IVS quota exceeded for channels."))

    event = create(brand, host)

    event.refresh_from_db()
    assert event.status == Status.NEEDS_CHANNEL
    assert event.provisioning_error == "IVS quota exceeded for channels."
    assert (event.channel_id, event.ingest_url, event.playback_url) == ("", "", "")

    event = services.provision_channel(event=event, by=host)

    event.refresh_from_db()
    assert event.status == Status.SCHEDULED
    assert event.provisioning_error == ""
    assert event.channel_id in video.channels
    assert len(video.calls_to("create_channel")) == 2


def test_provision_channel_is_a_no_op_once_the_channel_exists(brand, host, video):
    event = create(brand, host)

    services.provision_channel(event=event, by=host)

    assert len(video.calls_to("create_channel")) == 1


def test_create_event_rejects_another_brands_product_and_writes_nothing(brand, host, video):
    foreign = ProductFactory(sku="OTHER-1")

    with pytest.raises(ProductNotInBrand, match="OTHER-1"):
        create(brand, host, products=[ProductFactory(organization=brand), foreign])

    assert not LiveEvent.objects.exists()
    assert video.calls_to("create_channel") == []


def test_set_lineup_rejects_another_brands_product_and_keeps_the_old_lineup(
    brand, host, video, django_capture_on_commit_callbacks, broadcasts
):
    own = ProductFactory(organization=brand)
    event = create(brand, host, products=[own])

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ProductNotInBrand):
        services.set_lineup(
            event=event, products=[ProductFactory(organization=brand), ProductFactory()], by=host
        )

    assert list(EventProduct.objects.filter(event=event).values_list("product_id", flat=True)) == [own.pk]
    assert broadcasts == []


def test_set_lineup_replaces_the_lineup_and_tells_viewers(
    brand, host, video, django_capture_on_commit_callbacks, broadcasts
):
    a, b, c = (ProductFactory(organization=brand) for _ in range(3))
    event = create(brand, host, products=[a, b])

    with django_capture_on_commit_callbacks(execute=True):
        services.set_lineup(event=event, products=[c, a], by=host)

    assert [(row.product, row.position) for row in event.lineup.all()] == [(c, 1), (a, 2)]
    assert broadcasts == [{"event_id": event.pk, "type": "lineup.changed", "payload": {"eventId": event.pk}}]


def test_reveal_and_rotate_need_host_event(brand, host, moderator, video):
    event = create(brand, host)

    with pytest.raises(PermissionDenied):
        services.reveal_stream_key(event=event, by=moderator)
    with pytest.raises(PermissionDenied):
        services.rotate_stream_key(event=event, by=moderator)
    assert video.calls_to("get_stream_key") == video.calls_to("rotate_stream_key") == []


def test_reveal_returns_the_channels_key_and_rotate_replaces_it(brand, host, video):
    event = create(brand, host)
    old = services.reveal_stream_key(event=event, by=host)
    assert old == video.channels[event.channel_id].stream_key

    new = services.rotate_stream_key(event=event, by=host)

    assert new != old
    assert services.reveal_stream_key(event=event, by=host) == new
    assert video.calls_to("rotate_stream_key") == [{"channel_id": event.channel_id}]


def test_rotate_updates_a_self_kept_key(brand, host, video):
    video.stores_stream_keys = False
    event = create(brand, host)
    old_digest = LiveEvent.objects.get(pk=event.pk).stream_key_digest

    new = services.rotate_stream_key(event=event, by=host)

    event.refresh_from_db()
    assert event.stream_key_digest == crypto.digest(new) != old_digest
    assert crypto.decrypt(event.stream_key_encrypted) == new


def test_end_event_rotates_the_key_stops_the_stream_and_closes_sessions(
    brand, host, video, django_capture_on_commit_callbacks, broadcasts
):
    event = create(brand, host)
    video.go_live(event.channel_id)
    LiveEvent.objects.filter(pk=event.pk).update(status=Status.LIVE)
    event.refresh_from_db()
    session = StreamSessionFactory(event=event)
    old_key = video.channels[event.channel_id].stream_key

    with django_capture_on_commit_callbacks(execute=True):
        services.end_event(event=event, by=host)

    assert [name for name, _ in video.calls if name in ("rotate_stream_key", "stop_stream")] == [
        "rotate_stream_key",
        "stop_stream",
    ]
    assert video.channels[event.channel_id].stream_key != old_key
    assert not video.is_live(event.channel_id)
    event.refresh_from_db()
    session.refresh_from_db()
    assert event.status == Status.ENDED
    assert session.ended_at is not None
    assert session.end_reason == "ended by host"
    assert broadcasts == [{"event_id": event.pk, "type": "stream.state", "payload": {"status": "ended"}}]


def test_end_event_is_idempotent_and_needs_host_event(brand, host, moderator, video):
    event = create(brand, host)
    with pytest.raises(PermissionDenied):
        services.end_event(event=event, by=moderator)

    services.end_event(event=event, by=host)
    services.end_event(event=event, by=host)

    assert len(video.calls_to("stop_stream")) == 1
    assert StreamSession.objects.filter(event=event, ended_at=None).count() == 0


def test_cancel_event_deletes_the_channel_once(
    brand, host, video, django_capture_on_commit_callbacks, broadcasts
):
    event = create(brand, host)
    channel_id = event.channel_id

    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_event(event=event, by=host)
        services.cancel_event(event=event, by=host)

    cancelled = LiveEvent.objects.get(pk=event.pk)
    assert cancelled.status == Status.CANCELLED
    assert (cancelled.channel_id, cancelled.ingest_url, cancelled.stream_key_encrypted) == ("", "", "")
    assert channel_id not in video.channels
    assert video.calls_to("delete_channel") == [{"channel_id": channel_id}]
    assert len(broadcasts) == 1


def test_cancel_refuses_a_live_event(brand, host, video):
    event = create(brand, host)
    LiveEvent.objects.filter(pk=event.pk).update(status=Status.LIVE)
    event.refresh_from_db()

    with pytest.raises(EventNotEditable):
        services.cancel_event(event=event, by=host)


def test_delete_event_deletes_the_row_and_channel_and_is_idempotent(brand, host, video):
    event = create(brand, host)
    stale = LiveEvent.objects.get(pk=event.pk)  # e.g. a second click that loaded it earlier

    services.delete_event(event=event, by=host)
    services.delete_event(event=stale, by=host)

    assert not LiveEvent.objects.exists()
    assert event.channel_id not in video.channels
    assert video.calls_to("delete_channel") == [{"channel_id": stale.channel_id}] * 2


def test_delete_after_cancel_tolerates_the_already_deleted_channel(brand, host, video):
    event = create(brand, host)
    services.cancel_event(event=event, by=host)

    services.delete_event(event=event, by=host)

    assert not LiveEvent.objects.exists()


def test_cancel_and_delete_need_manage_events(brand, host, moderator, video):
    event = create(brand, host)

    with pytest.raises(PermissionDenied):
        services.cancel_event(event=event, by=moderator)
    with pytest.raises(PermissionDenied):
        services.delete_event(event=event, by=moderator)
    assert video.calls_to("delete_channel") == []


def test_a_cancelled_event_gets_no_new_channel(brand, host, video):
    event = create(brand, host)
    services.cancel_event(event=event, by=host)

    with pytest.raises(EventNotEditable):
        services.provision_channel(event=event, by=host)
    assert len(video.calls_to("create_channel")) == 1


def test_update_event_changes_details_and_lineup_together_or_not_at_all(brand, host, video):
    first, second = ProductFactory(organization=brand), ProductFactory(organization=brand)
    event = create(brand, host, products=[first])
    taken = create(brand, host, title="Taken", slug="taken")

    services.update_event(event=event, by=host, title="Autumn drop", products=[second, first])
    event.refresh_from_db()
    assert event.title == "Autumn drop"
    assert [row.product for row in event.lineup.all()] == [second, first]

    with pytest.raises(ProductNotInBrand):
        services.update_event(event=event, by=host, title="Never saved", products=[ProductFactory()])
    event.refresh_from_db()
    assert event.title == "Autumn drop" and event.lineup.count() == 2
    assert taken.slug == "taken"


def test_reveal_of_a_key_stored_under_an_old_encryption_key_is_a_clear_error(brand, host, settings):
    from liveshop.video import get_video_backend
    from liveshop.video.fake import FakeVideoBackend

    settings.VIDEO_BACKEND = "liveshop.video.fake.FakeVideoBackend"
    get_video_backend.cache_clear()
    event = create(brand, host)
    assert isinstance(get_video_backend(), FakeVideoBackend)
    LiveEvent.objects.filter(pk=event.pk).update(stream_key_encrypted="gAAAAA-not-ours")
    event.refresh_from_db()

    with pytest.raises(ChannelUnavailable, match="rotate the key"):
        services.reveal_stream_key(event=event, by=host)
    get_video_backend.cache_clear()


# The event's two state rules (LiveEvent.is_closed, LiveEvent.may_go_live)


@pytest.mark.parametrize(
    ("status", "ended_by_host", "closed", "may_go_live"),
    [
        (LiveEvent.Status.NEEDS_CHANNEL, False, False, True),
        (LiveEvent.Status.SCHEDULED, False, False, True),
        (LiveEvent.Status.LIVE, False, False, True),
        (LiveEvent.Status.ENDED, False, True, True),  # the stream dropped: the encoder may return
        (LiveEvent.Status.ENDED, True, True, False),  # the host ended it: final
        (LiveEvent.Status.CANCELLED, False, True, False),
    ],
)
def test_an_event_is_closed_once_over_and_may_go_live_unless_cancelled_or_ended_by_its_host(
    status, ended_by_host, closed, may_go_live
):
    event = LiveEvent(status=status, ended_by_host_at=timezone.now() if ended_by_host else None)

    assert (event.is_closed, event.may_go_live) == (closed, may_go_live)
    assert (status in LiveEvent.CLOSED_STATUSES) == closed
