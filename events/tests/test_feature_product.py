"""feature_product / clear_highlight and the in-band cues they send."""

import itertools
import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events import services, timed_metadata
from events.exceptions import EventNotEditable, ProductNotInBrand, ProductNotInLineup
from events.models import EventProduct, Highlight, LiveEvent, studio_url
from events.tasks import send_highlight_cue_task
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from liveshop import ratelimit, tasks
from liveshop.video import ChannelNotLive, Throttled
from liveshop.video.base import MAX_METADATA_BYTES

pytestmark = pytest.mark.django_db
CueState = Highlight.CueState


class FakeClock:
    """Time that moves only when the code sleeps."""

    def __init__(self, start=1_800_000_000.0):
        self.t = start
        self.sleeps = []

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timed_metadata, "clock", fake)
    monkeypatch.setattr(timed_metadata, "get_rate_limiter", lambda: limiter)
    limiter = ratelimit.LocalRateLimiter(timed_metadata.CALLS_PER_SECOND)
    return fake


@pytest.fixture
def show(video):
    """A live event on the fake backend with a 3-product lineup and its host."""
    event = LiveEventFactory(status=LiveEvent.Status.SCHEDULED)
    channel = video.create_channel("show")
    event.channel_id = channel.id
    event.status = LiveEvent.Status.LIVE
    event.save()
    video.go_live(channel.id, stream_id="st-show")
    StreamSessionFactory(event=event, stream_id="st-show", started_at=timezone.now() - timedelta(seconds=90))
    products = [ProductFactory(organization=event.organization) for _ in range(3)]
    EventProduct.objects.bulk_create(
        EventProduct(event=event, product=p, position=i) for i, p in enumerate(products)
    )
    host = member(event.organization, role=Membership.Role.HOST)
    return event, products, host


def metadata(video, event):
    return [json.loads(m) for m in video.channels[event.channel_id].metadata]


def test_a_caller_that_knows_the_moment_in_the_stream_stamps_the_highlight_with_it(show, video, clock):
    event, (product, *_), host = show

    highlight = services.feature_product(event=event, product=product, by=host, stream_offset_ms=4_000)

    assert highlight.offset_ms == 4_000  # a pre-recorded show's media clock, not the call's time
    assert highlight.moment == highlight.session.started_at + timedelta(seconds=4)


def test_feature_sends_a_versioned_cue_and_broadcasts_the_card(
    show, video, broadcasts, clock, django_capture_on_commit_callbacks
):
    event, (product, *_), host = show

    with django_capture_on_commit_callbacks(execute=True):
        highlight = services.feature_product(event=event, product=product, by=host)

    highlight.refresh_from_db()
    assert highlight.cue_state == CueState.SENT
    assert 90_000 <= highlight.offset_ms < 100_000
    assert highlight.session.stream_id == "st-show"
    assert metadata(video, event) == [
        {"v": 1, "type": "product", "eventId": event.pk, "highlightId": highlight.pk, "productId": product.pk}
    ]
    viewer_messages = [m for m in broadcasts if "audience" not in m]
    assert viewer_messages[0]["type"] == "product.featured"
    card = viewer_messages[0]["payload"]["product"]
    assert (card["id"], card["name"], card["price"]) == (product.pk, product.name, "19.99")
    studio = [m for m in broadcasts if m.get("audience") == "studio"]
    assert studio[-1]["payload"] == {"highlightId": highlight.pk, "cueState": "sent", "cueError": ""}


def test_featuring_before_going_live_shows_the_card_without_a_cue(
    video, broadcasts, django_capture_on_commit_callbacks
):
    event = LiveEventFactory()
    product = ProductFactory(organization=event.organization)
    EventProduct.objects.create(event=event, product=product)
    host = member(event.organization)

    with django_capture_on_commit_callbacks(execute=True):
        highlight = services.feature_product(event=event, product=product, by=host)

    assert (highlight.cue_state, highlight.offset_ms, highlight.session) == (CueState.NOT_LIVE, None, None)
    assert video.calls_to("put_metadata") == []
    assert [(m["type"], m.get("audience")) for m in broadcasts] == [
        ("product.featured", None),
        ("product.featured", "studio"),
    ]
    assert broadcasts[1]["payload"]["cueState"] == "not_live"


def test_feature_requires_the_host_role_of_the_events_brand(show):
    event, (product, *_), _ = show
    moderator = member(event.organization, role=Membership.Role.MODERATOR)
    outsider = member(OrganizationFactory(), role=Membership.Role.OWNER)

    for user in (moderator, outsider):
        with pytest.raises(PermissionDenied):
            services.feature_product(event=event, product=product, by=user)
    assert not Highlight.objects.exists()


def test_another_brands_product_is_refused(show):
    event, _, host = show
    foreign = ProductFactory()

    with pytest.raises(ProductNotInBrand):
        services.feature_product(event=event, product=foreign, by=host)
    assert not Highlight.objects.exists()


def test_product_not_in_lineup_is_refused(show):
    event, _, host = show
    off_lineup = ProductFactory(organization=event.organization)

    with pytest.raises(ProductNotInLineup, match="not in this event's lineup"):
        services.feature_product(event=event, product=off_lineup, by=host)
    assert not Highlight.objects.exists()


def test_ended_event_cannot_feature_or_clear(show):
    event, (product, *_), host = show
    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.ENDED)

    with pytest.raises(EventNotEditable):
        services.feature_product(event=event, product=product, by=host)
    with pytest.raises(EventNotEditable):
        services.clear_highlight(event=event, by=host)
    assert not Highlight.objects.exists()


def test_double_click_features_once(show, video, clock, django_capture_on_commit_callbacks):
    event, (product, *_), host = show

    with django_capture_on_commit_callbacks(execute=True):
        first = services.feature_product(event=event, product=product, by=host)
        second = services.feature_product(event=event, product=product, by=host)

    assert first.pk == second.pk
    assert Highlight.objects.count() == 1
    assert len(video.calls_to("put_metadata")) == 1


def test_twenty_clicks_in_a_second_make_at_most_five_calls_and_end_on_the_last_product(
    show, video, clock, django_capture_on_commit_callbacks
):
    event, products, host = show
    put_times = []
    original = video.put_metadata

    def timed_put(channel_id, payload):
        put_times.append(clock.now())
        return original(channel_id, payload)

    video.put_metadata = timed_put
    clicks = [products[i % 3] for i in range(20)]
    with django_capture_on_commit_callbacks(execute=True):
        for product in clicks[:19]:
            Highlight.objects.filter(event=event).update(created_at=timezone.now() - timedelta(seconds=5))
            services.feature_product(event=event, product=product, by=host)
            clock.t += 0.05
        Highlight.objects.filter(event=event).update(created_at=timezone.now() - timedelta(seconds=5))
        last = services.feature_product(event=event, product=clicks[19], by=host)

    window_start = put_times[0]
    assert len([t for t in put_times if t < window_start + 1]) <= 5
    assert all(b - a >= 0 for a, b in itertools.pairwise(put_times))
    assert metadata(video, event)[-1]["highlightId"] == last.pk
    assert metadata(video, event)[-1]["productId"] == clicks[19].pk
    states = dict(Highlight.objects.values_list("pk", "cue_state"))
    assert states[last.pk] == CueState.SENT
    assert set(states.values()) <= {CueState.SENT, CueState.SUPERSEDED}
    # Nothing is reordered: cues reach the video in highlight order.
    sent_ids = [m["highlightId"] for m in metadata(video, event)]
    assert sent_ids == sorted(sent_ids)


def test_throttled_cue_waits_and_is_sent_on_retry(show, video, clock, django_capture_on_commit_callbacks):
    event, (product, *_), host = show
    video.fail_next("put_metadata", Throttled("Rate exceeded"))

    with django_capture_on_commit_callbacks(execute=True):
        highlight = services.feature_product(event=event, product=product, by=host)

    highlight.refresh_from_db()
    assert highlight.cue_state == CueState.SENT
    assert highlight.cue_attempts == 1
    assert clock.sleeps and clock.sleeps[0] > 0
    assert len(metadata(video, event)) == 1


def test_cue_for_a_channel_that_went_offline_is_recorded_not_retried(
    show, video, clock, django_capture_on_commit_callbacks
):
    event, (product, *_), host = show
    video.fail_next("put_metadata", ChannelNotLive("offline"))

    with django_capture_on_commit_callbacks(execute=True):
        highlight = services.feature_product(event=event, product=product, by=host)

    highlight.refresh_from_db()
    assert highlight.cue_state == CueState.NOT_LIVE
    assert "not live" in highlight.cue_error


def test_the_first_attempt_reads_and_locks_nothing_before_putmetadata(
    show, video, clock, broadcasts, django_capture_on_commit_callbacks
):
    """The cue's claim is out of the click's path: after the commit, the database hears of the cue
    only when its outcome is written, after the call."""
    event, (product, *_), host = show
    statements_before_the_call = []
    put_metadata = video.put_metadata

    def timed_put(channel_id, payload):
        statements_before_the_call.append(len(queries.captured_queries))
        return put_metadata(channel_id, payload)

    video.put_metadata = timed_put
    with django_capture_on_commit_callbacks() as after_commit:
        highlight = services.feature_product(event=event, product=product, by=host)
    with CaptureQueriesContext(connection) as queries:
        for callback in after_commit:
            callback()

    assert statements_before_the_call == [0]
    sql = [q["sql"] for q in queries.captured_queries]
    assert sql[0].startswith('UPDATE "events_highlight"')  # the cue's outcome, after the call
    assert all(statement.startswith("SELECT") for statement in sql[1:])  # the card's reads, after the cue
    highlight.refresh_from_db()
    assert (highlight.cue_state, highlight.cue_attempts) == (CueState.SENT, 0)


def test_a_cue_overtaken_in_this_process_is_superseded_without_a_call(
    show, video, clock, broadcasts, django_capture_on_commit_callbacks
):
    event, (first, second, _), host = show
    with django_capture_on_commit_callbacks() as older:
        old = services.feature_product(event=event, product=first, by=host)
    with django_capture_on_commit_callbacks() as newer:
        new = services.feature_product(event=event, product=second, by=host)

    with django_capture_on_commit_callbacks(execute=True):  # and the hooks these add
        for callback in [*newer, *older]:  # the older commit's hooks run last (its thread was slow)
            callback()

    assert [m["highlightId"] for m in metadata(video, event)] == [new.pk]
    assert dict(Highlight.objects.values_list("pk", "cue_state")) == {
        old.pk: CueState.SUPERSEDED,
        new.pk: CueState.SENT,
    }
    cue_states = [m["payload"]["cueState"] for m in broadcasts if m["type"] == "cue.state"]
    assert cue_states == ["sent", "superseded"]


def test_a_throttled_first_attempt_queues_its_retry_task_by_name(
    show, video, clock, settings, monkeypatch, broadcasts, django_capture_on_commit_callbacks
):
    event, (product, *_), host = show
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a worker retries it
    queued = []
    monkeypatch.setattr(tasks, "enqueue", lambda name, *a, countdown: queued.append((name, a, countdown)))
    video.fail_next("put_metadata", Throttled("Rate exceeded"))

    with django_capture_on_commit_callbacks(execute=True):
        highlight = services.feature_product(event=event, product=product, by=host)

    highlight.refresh_from_db()
    assert (highlight.cue_state, highlight.cue_attempts) == (CueState.WAITING, 1)
    assert queued == [("events.tasks.send_highlight_cue_task", (highlight.pk,), pytest.approx(0.2))]
    assert send_highlight_cue_task(highlight.pk) == CueState.SENT  # the worker's run of it
    assert [m["highlightId"] for m in metadata(video, event)] == [highlight.pk]
    highlight.refresh_from_db()
    assert (highlight.cue_state, highlight.cue_attempts) == (CueState.SENT, 1)


def test_without_a_broker_a_cue_retries_on_its_thread_unless_the_process_is_stopping(
    show, video, clock, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The broker (Redis) unreachable: a throttled cue waits and retries on its own thread. A
    streaming command's Ctrl-C with the rest of the stack stopping too (make demo) calls
    stop_retrying(): the cue threads are joined at exit, so a cue then gives up, recorded as
    failed, instead of holding the exit up."""
    event, (first, second, _), host = show
    settings.CELERY_TASK_ALWAYS_EAGER = False

    def broker_gone(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks, "enqueue", broker_gone)
    video.fail_next("put_metadata", Throttled("Rate exceeded"))
    with django_capture_on_commit_callbacks(execute=True):
        retried = services.feature_product(event=event, product=first, by=host)
    retried.refresh_from_db()
    assert (retried.cue_state, len(clock.sleeps)) == (CueState.SENT, 1)

    timed_metadata.stop_retrying()
    video.fail_next("put_metadata", Throttled("Rate exceeded"))
    with django_capture_on_commit_callbacks(execute=True):
        given_up = services.feature_product(event=event, product=second, by=host)
    given_up.refresh_from_db()
    assert (given_up.cue_state, given_up.cue_error) == (CueState.FAILED, timed_metadata.STOPPED)
    assert len(clock.sleeps) == 1  # no wait after the stop
    assert [m["highlightId"] for m in metadata(video, event)] == [retried.pk]


def test_clear_sends_a_clear_cue_and_removes_the_card(
    show, video, broadcasts, clock, django_capture_on_commit_callbacks
):
    event, (product, *_), host = show

    with django_capture_on_commit_callbacks(execute=True):
        services.feature_product(event=event, product=product, by=host)
        cleared = services.clear_highlight(event=event, by=host)

    assert cleared.is_clear
    assert metadata(video, event)[-1] == {
        "v": 1,
        "type": "clear",
        "eventId": event.pk,
        "highlightId": cleared.pk,
    }
    assert [m["type"] for m in broadcasts if "audience" not in m] == ["product.featured", "product.cleared"]


def test_cue_payload_stays_far_under_the_metadata_limit():
    event = LiveEventFactory(pk=2**62)
    product = ProductFactory(organization=event.organization, pk=2**62)
    highlight = Highlight.objects.create(event=event, product=product, pk=2**62)

    assert len(timed_metadata.cue_payload(highlight).encode()) < MAX_METADATA_BYTES // 4


def test_redis_rate_limiter_is_shared_between_instances(settings):
    import redis

    key = f"test-{timezone.now().timestamp()}"
    a, b = (
        ratelimit.RedisRateLimiter(settings.REDIS_URL, timed_metadata.CALLS_PER_SECOND, "cue-rate")
        for _ in "ab"
    )
    now = 1_800_000_000.0
    results = [(a if i % 2 else b).acquire(key, now + i * 0.01) for i in range(7)]

    assert results[:5] == [0, 0, 0, 0, 0]
    assert 0.9 < results[5] <= 1.0 and results[6] > 0
    assert (a.acquire(key, now + 1.0)) == 0
    redis.Redis.from_url(settings.REDIS_URL).delete(f"liveshop:cue-rate:{key}")


def test_with_redis_unreachable_the_feature_stands_and_the_failed_broadcast_is_logged(
    show, video, clock, settings, monkeypatch, request, django_capture_on_commit_callbacks
):
    from events import realtime

    event, (product, *_), host = show
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
    realtime.publishing._redis.cache_clear()  # the process's client is made once, for the configured URL
    request.addfinalizer(realtime.publishing._redis.cache_clear)
    # Recorded from the logger itself: other tests' logging setup may leave caplog's handler out.
    errors = []
    record = lambda message, *args, **_: errors.append(message % args)  # noqa: E731
    monkeypatch.setattr(realtime.publishing.logger, "error", record)

    with django_capture_on_commit_callbacks(execute=True):
        highlight = services.feature_product(event=event, product=product, by=host)

    assert event.highlights.get() == highlight
    assert errors and all(e.startswith("Broadcast not sent: Redis is unreachable") for e in errors), errors


def test_consoles_hear_of_the_highlight_before_its_cue_state_though_the_cue_leaves_first(
    show, video, clock, broadcasts, django_capture_on_commit_callbacks
):
    """The cue goes before the card is built; its cue.state frame (here ready first: tests send
    cues inline) is held until the consoles' frame about the highlight has gone."""
    event, (product, *_), host = show
    calls_before_the_card = []
    put_metadata = video.put_metadata

    def counted_put(channel_id, payload):
        calls_before_the_card.append(len(broadcasts))
        return put_metadata(channel_id, payload)

    video.put_metadata = counted_put
    with django_capture_on_commit_callbacks(execute=True):
        highlight = services.feature_product(event=event, product=product, by=host)

    assert calls_before_the_card == [0]  # PutMetadata before any frame was built or published
    studio = [(m["type"], m["payload"]["highlightId"]) for m in broadcasts if m.get("audience") == "studio"]
    assert studio == [("product.featured", highlight.pk), ("cue.state", highlight.pk)]
    # The viewers' card goes before the consoles' frame: thousands of sockets wait on it.
    assert [(m.get("audience", "viewers"), m["type"]) for m in broadcasts][:2] == [
        ("viewers", "product.featured"),
        ("studio", "product.featured"),
    ]
    assert timed_metadata._console_order._held == {}  # nothing left waiting


@pytest.mark.django_db(transaction=True)
def test_a_click_runs_eight_statements_before_the_cue_and_none_for_the_answers_card(
    client, show, video, clock, broadcasts
):
    """The console's POST: session, user, memberships, event, product, the event's lock, the
    featuring state (with whether a flash deal runs), the insert; then the cue; then the card's
    read of the variants (of the deals only when one runs) and the cue state for the answer,
    whose card reuses the variants read for the viewers' frame."""
    event, (product, *_), host = show
    client.force_login(host)
    statements_at_the_call = []
    put_metadata = video.put_metadata

    def statements():
        return [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]

    def counted_put(channel_id, payload):
        statements_at_the_call.append(len(statements()))
        return put_metadata(channel_id, payload)

    video.put_metadata = counted_put
    path = studio_url("events:feature", event)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(path, {"product_id": product.pk}, HTTP_ACCEPT="application/json")

    assert response.status_code == 200, response.content
    assert response.json()["highlight"]["product"]["id"] == product.pk
    sql = statements()
    assert statements_at_the_call == [8], sql
    after = sql[8:]
    assert after[0].startswith('UPDATE "events_highlight"')  # the cue's outcome (inline in tests)
    assert sum('FROM "catalog_variant"' in statement for statement in sql) == 1, sql
    # No flash deal runs: the featuring state said so (its probe), and the card reads none.
    assert not any('FROM "commerce_flashdeal"' in statement for statement in sql), sql
    # 10 in production (the cue's UPDATE is on its own thread), +1 the first time a process reads
    # the brand's low-stock default (catalog.thresholds caches it).
    assert len(sql) in (11, 12), sql
