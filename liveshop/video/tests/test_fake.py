"""The fake keeps the gateway's rules, so service tests see what IVS would do."""

import pytest

from liveshop.video.base import (
    LATENCY_NORMAL,
    MAX_METADATA_BYTES,
    ChannelNotFound,
    ChannelNotLive,
    InvalidMetadata,
    PayloadTooLarge,
    StreamState,
    Throttled,
    VideoBackend,
    VideoBackendError,
)
from liveshop.video.fake import FakeVideoBackend


@pytest.fixture
def fake():
    return FakeVideoBackend()


@pytest.fixture
def channel(fake):
    return fake.create_channel("event-7")


def test_the_fake_implements_the_protocol(fake):
    assert isinstance(fake, VideoBackend)
    assert (fake.name, fake.stores_stream_keys) == ("fake", True)
    assert FakeVideoBackend(stores_stream_keys=False).stores_stream_keys is False


def test_create_channel_records_the_call_and_returns_a_usable_channel(fake):
    channel = fake.create_channel("event-7", latency=LATENCY_NORMAL, record=False, private=True)

    assert fake.calls == [
        ("create_channel", {"name": "event-7", "latency": "normal", "record": False, "private": True})
    ]
    assert channel.id in fake.channels
    assert fake.channels[channel.id].private is True
    assert channel.stream_key and channel.stream_key not in repr(channel)
    assert fake.get_stream_key(channel.id) == channel.stream_key


def test_channels_and_keys_are_unique(fake):
    first, second = fake.create_channel("a"), fake.create_channel("b")

    assert first.id != second.id
    assert first.stream_key != second.stream_key


def test_create_channel_refuses_an_unknown_latency(fake):
    with pytest.raises(VideoBackendError):
        fake.create_channel("event", latency="ultra")


def test_a_new_channel_is_offline_until_it_goes_live(fake, channel):
    assert fake.get_stream(channel.id) is None

    state = fake.go_live(channel.id, stream_id="st-1", viewer_count=3)

    assert fake.get_stream(channel.id) == state
    assert (state.live, state.stream_id, state.viewer_count, state.health) == (True, "st-1", 3, "healthy")
    assert state.started_at is not None
    assert fake.is_live(channel.id)


def test_go_live_gives_each_stream_a_new_id(fake, channel):
    first = fake.go_live(channel.id).stream_id
    fake.go_offline(channel.id)

    assert fake.go_live(channel.id).stream_id != first


def test_put_metadata_on_a_live_channel_is_kept_in_order(fake, channel):
    fake.go_live(channel.id)

    fake.put_metadata(channel.id, '{"v":1,"productId":1}')
    fake.put_metadata(channel.id, '{"v":1,"productId":2}')

    assert fake.channels[channel.id].metadata == ['{"v":1,"productId":1}', '{"v":1,"productId":2}']
    assert [call["payload"] for call in fake.calls_to("put_metadata")] == fake.channels[channel.id].metadata


def test_put_metadata_on_an_offline_channel_raises_channel_not_live(fake, channel):
    with pytest.raises(ChannelNotLive):
        fake.put_metadata(channel.id, '{"v":1}')
    assert fake.channels[channel.id].metadata == []


def test_put_metadata_checks_utf8_bytes_like_ivs(fake, channel):
    fake.go_live(channel.id)

    fake.put_metadata(channel.id, "é" * (MAX_METADATA_BYTES // 2))
    with pytest.raises(PayloadTooLarge):
        fake.put_metadata(channel.id, "é" * (MAX_METADATA_BYTES // 2) + "x")
    with pytest.raises(VideoBackendError):
        fake.put_metadata(channel.id, "")


def test_put_metadata_refuses_text_that_is_not_utf8_with_a_gateway_error(fake, channel):
    fake.go_live(channel.id)

    with pytest.raises(InvalidMetadata, match="UTF-8"):
        fake.put_metadata(channel.id, '{"v":1,"note":"\ud800"}')
    assert fake.channels[channel.id].metadata == []


def test_unknown_channels_raise_channel_not_found(fake):
    for method in (fake.get_stream, fake.get_stream_key, fake.rotate_stream_key, fake.stop_stream):
        with pytest.raises(ChannelNotFound):
            method("fake-channel-999")
    with pytest.raises(ChannelNotFound):
        fake.put_metadata("fake-channel-999", '{"v":1}')


def test_delete_channel_is_idempotent(fake, channel):
    fake.delete_channel(channel.id)
    fake.delete_channel(channel.id)

    assert channel.id not in fake.channels
    assert len(fake.calls_to("delete_channel")) == 2


def test_delete_channel_refuses_a_live_channel_like_ivs(fake, channel):
    fake.go_live(channel.id)

    with pytest.raises(VideoBackendError, match="stop the stream"):
        fake.delete_channel(channel.id)

    fake.stop_stream(channel.id)
    fake.delete_channel(channel.id)
    assert channel.id not in fake.channels


def test_rotate_stream_key_returns_a_new_key_and_cuts_the_stream_off(fake, channel):
    fake.go_live(channel.id)

    new_key = fake.rotate_stream_key(channel.id)

    assert new_key != channel.stream_key
    assert fake.get_stream_key(channel.id) == new_key
    assert fake.get_stream(channel.id) is None


def test_stop_stream_is_idempotent(fake, channel):
    fake.go_live(channel.id)

    fake.stop_stream(channel.id)
    fake.stop_stream(channel.id)

    assert fake.get_stream(channel.id) is None


def test_fail_next_fails_one_call_and_records_it(fake, channel):
    fake.go_live(channel.id)
    fake.fail_next("put_metadata", Throttled("slow down"))

    with pytest.raises(Throttled):
        fake.put_metadata(channel.id, '{"v":1}')
    fake.put_metadata(channel.id, '{"v":2}')

    assert [call["payload"] for call in fake.calls_to("put_metadata")] == ['{"v":1}', '{"v":2}']
    assert fake.channels[channel.id].metadata == ['{"v":2}']


def test_fail_with_fails_every_call_until_removed(fake):
    fake.fail_with["create_channel"] = VideoBackendError("IVS is down")

    for _ in range(2):
        with pytest.raises(VideoBackendError, match="IVS is down"):
            fake.create_channel("event")
    del fake.fail_with["create_channel"]

    assert fake.create_channel("event").id in fake.channels


def test_playback_url_is_unchanged_when_public_and_tokenised_when_private(fake, channel):
    url = channel.playback_url

    assert fake.playback_url_for(channel_id=channel.id, playback_url=url, private=False) == url
    signed = fake.playback_url_for(channel_id=channel.id, playback_url=url, private=True, viewer_id="v1")
    assert signed.startswith(f"{url}?token=") and signed.endswith(".v1")


def test_go_live_accepts_an_explicit_stream_state(fake, channel):
    state = fake.go_live(channel.id, stream_id="st-x", viewer_count=None, health="starving")

    assert state == StreamState(
        live=True, stream_id="st-x", started_at=state.started_at, viewer_count=None, health="starving"
    )
    assert fake.calls_to("go_live") == []  # helpers are not gateway calls
