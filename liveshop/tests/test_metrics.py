"""liveshop/metrics.py: the embedded metric format (EMF) lines the web and beat processes write,
from the real code paths (viewers' sockets on the real consumer and hub over Redis, a featured
product through the service, Celery messages published to Redis), each checked against the EMF
specification; and the deploy template's alarms read exactly the metrics those lines make (their
names, namespace, dimensions and queues are read from the code)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import jsonschema
import pytest
import redis
import yaml
from django.conf import settings as django_settings

from discovery import tasks as discovery_tasks
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory
from events.tests.test_consumers import TIMEOUT, connect, feature, make_show, next_of_type
from liveshop import metrics
from liveshop.celery import app, measured_queues, start_queue_metrics
from tests.test_deploy import CloudFormationLoader, branches

ROOT = Path(__file__).resolve().parent.parent.parent
# CloudWatch's units, from its API model (what PutMetricData and EMF accept).
UNITS = botocore.session.get_session().get_service_model("cloudwatch").shape_for("StandardUnit").enum
# The document's shape, from the specification ("Specification: Embedded metric format", CloudWatch
# User Guide): the metadata object and its metric directives. What JSON Schema cannot say (the
# members they name are on the root, with string / number values) is checked in ``emf``.
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 1024},
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def emf(line: str) -> dict:
    """One line as CloudWatch Logs reads it: the whole line is one JSON object of the EMF shape
    whose dimensions are string members and whose metrics are numbers (or up to 100 of them)."""
    document = json.loads(line)
    jsonschema.validate(document, EMF_SCHEMA)
    stamp = document["_aws"]["Timestamp"] / 1000
    assert time.time() - 14 * 86400 < stamp < time.time() + 2 * 3600  # CloudWatch's window
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                assert isinstance(document[name], str) and 0 < len(document[name]) <= 1024, name
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            values = value if isinstance(value, list) else [value]
            assert 0 < len(values) <= 100
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values), metric
    return document


def lines(capfd) -> list[dict]:
    """The EMF documents written to standard output since the last call."""
    return [emf(line) for line in capfd.readouterr().out.splitlines() if line.startswith('{"_aws"')]


def metric_of(document: dict) -> tuple[str, str, frozenset[str]]:
    """(namespace, metric name, dimension names) of a one-metric, one-dimension-set document."""
    ((directive,),) = [document["_aws"]["CloudWatchMetrics"]]
    (dimensions,) = directive["Dimensions"]
    return directive["Namespace"], frozenset(dimensions), tuple(m["Name"] for m in directive["Metrics"])


@pytest.fixture
def emf_on(settings):
    settings.LIVESHOP_METRICS = "emf"
    settings.LIVESHOP_METRICS_STACK = "liveshop-prod"
    return settings


@pytest.fixture(scope="module")
def resources() -> dict:
    template = yaml.load((ROOT / "deploy" / "cloudformation.yaml").read_text(), Loader=CloudFormationLoader)  # noqa: S506
    return template["Resources"]


def alarms_on(resources, metric: str) -> dict[str, dict]:
    return {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == metric
    }


def assert_alarms_read(resources, document: dict, **dimension_values) -> None:
    """Every alarm of the template on the document's metrics reads them as the line makes them:
    same namespace, same dimension names, the stack's name as Stack (which the emitting task gets
    as LIVESHOP_METRICS_STACK) and, for other dimensions, a value the app emits."""
    namespace, dimensions, names = metric_of(document)
    for name in names:
        found = alarms_on(resources, name)
        assert found, f"no alarm reads {name}"
        for alarm, p in found.items():
            assert p["Namespace"] == namespace, alarm
            given = {d["Name"]: d["Value"] for d in p["Dimensions"]}
            assert set(given) == dimensions, alarm
            assert given[metrics.STACK] == {"Ref": "AWS::StackName"}, alarm
            for dimension, allowed in dimension_values.items():
                assert given[dimension] in allowed, alarm


def task_env(resources, task: str, container: str) -> dict:
    (c,) = [c for c in resources[task]["Properties"]["ContainerDefinitions"] if c["Name"] == container]
    return {e["Name"]: e["Value"] for e in branches(c.get("Environment", []))}


# --- Off by default ---------------------------------------------------------------------------


def test_nothing_is_written_unless_metrics_are_on(settings, capfd):
    assert django_settings.LIVESHOP_METRICS == ""  # the default (tests run with the defaults)
    metrics.emit({metrics.WEBSOCKET_CONNECTIONS: (3, "Count")})
    metrics.featured_delivered('{"type":"product_featured","at":"2026-12-04T09:00:00+00:00"}', 5)

    assert capfd.readouterr().out == ""
    assert metrics.start_beat_reporter(["celery"]) is None


# --- Web processes ----------------------------------------------------------------------------


async def reporter_lines(capfd, want: int) -> list[dict]:
    """Run the web reporter (every 50 ms) until it has written ``want`` lines."""
    task = asyncio.get_running_loop().create_task(metrics.web_reporter(interval=0.05))
    found: list[dict] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(found) < want and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            found += lines(capfd)
    finally:
        task.cancel()
    return found[:want]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_web_process_reports_the_sockets_it_holds_every_interval(emf_on, capfd, resources):
    event, _, _ = await make_show()
    first, connected = await connect(event.pk, client=("203.0.113.7", 5001))
    second, _ = await connect(event.pk, client=("203.0.113.8", 5002))
    assert connected
    await first.receive_from(timeout=TIMEOUT)  # each socket's snapshot: both have joined the hub
    await second.receive_from(timeout=TIMEOUT)

    (both,) = await reporter_lines(capfd, 1)
    await second.disconnect()
    (one,) = await reporter_lines(capfd, 1)
    await first.disconnect()

    assert both[metrics.WEBSOCKET_CONNECTIONS] == 2
    assert one[metrics.WEBSOCKET_CONNECTIONS] == 1
    assert both[metrics.STACK] == "liveshop-prod"
    assert metric_of(both) == (metrics.NAMESPACE, frozenset({metrics.STACK}), ("WebSocketConnections",))
    assert both["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Count"
    assert_alarms_read(resources, both)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_featured_product_reports_its_click_to_viewer_delay_once_per_web_process(
    emf_on, capfd, resources
):
    event, product, host = await make_show()
    viewers = [(await connect(event.pk, client=(f"203.0.113.{n}", 5000)))[0] for n in (20, 21)]
    for viewer in viewers:
        await viewer.receive_from(timeout=TIMEOUT)
    capfd.readouterr()

    clicked = time.time()
    await feature(event, product, host)
    for viewer in viewers:
        await next_of_type(viewer, "product_featured")
    found: list[dict] = []
    deadline = time.monotonic() + TIMEOUT
    while not found and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        found = [d for d in lines(capfd) if metrics.CLICK_TO_VIEWER in d]
    elapsed_ms = (time.time() - clicked) * 1000
    for viewer in viewers:
        await viewer.disconnect()

    (line,) = found  # one per process, whatever its number of viewers
    assert 0 <= line[metrics.CLICK_TO_VIEWER] <= elapsed_ms
    assert line["sockets"] == 2  # a property for Logs Insights, not a dimension
    assert line["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "ClickToViewerDelay", "Unit": "Milliseconds"}
    ]
    assert metric_of(line)[1] == frozenset({metrics.STACK})
    assert_alarms_read(resources, line)
    (alarm,) = alarms_on(resources, metrics.CLICK_TO_VIEWER).values()
    assert alarm["ExtendedStatistic"] == "p99"  # each delay is its own value: percentiles work


# --- Celery queues (beat) ---------------------------------------------------------------------


@pytest.fixture
def queue():
    """A queue of this test's own in the tests' Redis, published to by the real Celery app."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    name = f"tests-metrics-{uuid.uuid4().hex[:8]}"
    keys = [name, *(f"{name}{metrics.PRIORITY_SEPARATOR}{step}" for step in metrics.PRIORITY_STEPS)]
    keys.append(f"_kombu.binding.{name}")  # kombu's record of the queue it declared
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with app.connection_for_write(django_settings.REDIS_URL) as connection:
            yield client, connection, name
    finally:
        app.conf.task_always_eager = eager
        client.delete(*keys)
        client.close()


def test_every_message_is_stamped_with_its_publish_time(queue):
    client, connection, name = queue
    before = time.time()
    discovery_tasks.index_product_task.apply_async(args=[1], queue=name, connection=connection)

    (raw,) = client.lrange(name, 0, -1)
    assert before <= json.loads(raw)["headers"][metrics.PUBLISHED_HEADER] <= time.time()


def test_beat_reports_a_queues_depth_and_how_long_its_oldest_message_has_waited(
    emf_on, capfd, queue, resources
):
    client, connection, name = queue
    stamp = {metrics.PUBLISHED_HEADER: time.time() - 120}
    # The oldest: published two minutes ago (a restored message keeps its stamp), another priority.
    discovery_tasks.index_product_task.apply_async(
        args=[1], queue=name, connection=connection, priority=9, headers=stamp
    )
    discovery_tasks.index_product_task.apply_async(args=[2], queue=name, connection=connection)
    discovery_tasks.index_product_task.apply_async(args=[3], queue=name, connection=connection)
    client.lpush(name, b'{"not": "celery"}')  # a message without the stamp counts, but has no age

    metrics.report_queue(client, name)
    (line,) = lines(capfd)

    assert line[metrics.QUEUE] == name and line[metrics.STACK] == "liveshop-prod"
    assert line[metrics.QUEUE_DEPTH] == 4
    assert 120 <= line[metrics.QUEUE_AGE] < 120 + TIMEOUT
    assert metric_of(line) == (
        metrics.NAMESPACE,
        frozenset({metrics.STACK, metrics.QUEUE}),
        (metrics.QUEUE_DEPTH, metrics.QUEUE_AGE),
    )
    units = {m["Name"]: m["Unit"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"CeleryQueueDepth": "Count", "CeleryQueueAge": "Seconds"}
    assert_alarms_read(resources, line, Queue=measured_queues())


def test_an_empty_queue_reports_zero_depth_and_zero_age(emf_on, capfd, queue):
    client, _, name = queue
    metrics.report_queue(client, name)
    (line,) = lines(capfd)
    assert (line[metrics.QUEUE_DEPTH], line[metrics.QUEUE_AGE]) == (0, 0)


def test_a_message_due_later_waits_from_its_eta_not_from_its_publish(emf_on, capfd, queue):
    client, connection, name = queue
    # Back in the queue a minute after it was published for a time 50 s after that (an ETA task
    # whose worker died): it has been due for 10 s.
    published = time.time() - 60
    due = datetime.fromtimestamp(published + 50, tz=UTC)
    stamp = {metrics.PUBLISHED_HEADER: published}
    discovery_tasks.index_product_task.apply_async(
        args=[1], queue=name, connection=connection, eta=due, headers=stamp
    )
    metrics.report_queue(client, name)
    (line,) = lines(capfd)
    assert 10 <= line[metrics.QUEUE_AGE] < 10 + TIMEOUT


@pytest.mark.django_db(transaction=True)  # the reporter's thread reads the committed rows
def test_beat_reports_the_default_and_discovery_queues_and_the_live_shows_every_interval(
    emf_on, capfd, resources
):
    emf_on.CELERY_BROKER_URL = django_settings.REDIS_URL
    LiveEventFactory(status=LiveEvent.Status.LIVE)
    LiveEventFactory(status=LiveEvent.Status.SCHEDULED)
    assert measured_queues() == [app.conf.task_default_queue, django_settings.DISCOVERY_QUEUE]

    start_queue_metrics(sender=None)  # what celery beat's beat_init signal calls
    (reporter,) = [t for t in threading.enumerate() if isinstance(t, metrics.BeatReporter)]
    try:
        found: list[dict] = []
        deadline = time.monotonic() + TIMEOUT
        while len(found) < 3 and time.monotonic() < deadline:
            found += lines(capfd)
            time.sleep(0.02)
    finally:
        reporter.stop()
        reporter.join(TIMEOUT)

    assert not reporter.is_alive()
    assert [line[metrics.QUEUE] for line in found[:2]] == measured_queues()
    live = found[2]
    assert live[metrics.LIVE_EVENTS] == 1
    assert metric_of(live) == (metrics.NAMESPACE, frozenset({metrics.STACK}), ("LiveEvents",))
    assert_alarms_read(resources, live)


# --- The template -------------------------------------------------------------------------------


def test_every_alarm_on_the_liveshop_namespace_names_a_metric_the_app_emits(resources):
    emitted = {
        metrics.WEBSOCKET_CONNECTIONS,
        metrics.CLICK_TO_VIEWER,
        metrics.QUEUE_DEPTH,
        metrics.QUEUE_AGE,
        metrics.LIVE_EVENTS,
    }
    ours = {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == metrics.NAMESPACE
    }

    assert {p["MetricName"] for p in ours.values()} == emitted  # and each one has an alarm
    for name, p in ours.items():
        dimensions = {d["Name"]: d["Value"] for d in p["Dimensions"]}
        if metrics.QUEUE in dimensions:
            assert dimensions[metrics.QUEUE] in measured_queues(), name


@pytest.mark.parametrize(
    ("task", "container"), [("WebTaskDefinition", "web"), ("BeatTaskDefinition", "beat")]
)
def test_the_processes_that_emit_them_have_metrics_on_with_the_stacks_name(resources, task, container):
    env = task_env(resources, task, container)
    assert env["LIVESHOP_METRICS"] == "emf"
    assert env["LIVESHOP_METRICS_STACK"] == {"Ref": "AWS::StackName"}


def test_the_apps_alarms_notify_the_topic_and_read_thresholds_from_parameters(resources):
    for metric in (metrics.WEBSOCKET_CONNECTIONS, metrics.CLICK_TO_VIEWER, metrics.QUEUE_AGE):
        for name, p in alarms_on(resources, metric).items():
            assert p["AlarmActions"] == {
                "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
            }, name
            assert set(p["Threshold"]) == {"Ref"}, name  # a parameter, not a number in the template
            assert p["TreatMissingData"] == "notBreaching", name  # no viewers, no features: no data
    queue_ages = alarms_on(resources, metrics.QUEUE_AGE).values()
    queues = [d["Value"] for p in queue_ages for d in p["Dimensions"] if d["Name"] == metrics.QUEUE]
    assert sorted(queues) == sorted(measured_queues())  # the default queue and the samplers'
