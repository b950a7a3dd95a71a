"""The Celery app. Workers: ``celery -A liveshop worker``; beat: ``celery -A liveshop beat`` (run
one: it sends CELERY_BEAT_SCHEDULE's tasks, such as the check of stuck recording jobs).

How a task survives a killed worker (late acknowledgement, reject on worker lost, a visibility
timeout past the time limit) is set and explained in settings/base.py, section CELERY.

Every process that runs tasks builds its gateway clients as it starts (``events.timed_metadata.warm_up``),
not in its first task: a cue retried there or a viewer's playback revoked would otherwise wait
~0.6 s for boto3 to load IVS's service model."""

import os

from celery import Celery, signals

from liveshop import metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveshop.settings.base")

app = Celery("liveshop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every message says when it was published: the queues' age (liveshop.metrics) reads it.
signals.before_task_publish.connect(metrics.stamp_publish_time)


def measured_queues() -> list[str]:
    """The queues whose depth and age beat reports: the default one and the samplers'."""
    from django.conf import settings

    return [app.conf.task_default_queue, settings.DISCOVERY_QUEUE]


@signals.beat_init.connect
def start_queue_metrics(sender=None, **kwargs) -> None:
    """Beat (exactly one runs) measures the queues' depth and age, and counts the live shows,
    every minute, in a thread of its own: a task doing it would wait in the queue it measures."""
    metrics.start_beat_reporter(measured_queues())


@signals.worker_process_init.connect
def warm_up_pool_process(**kwargs) -> None:
    """A prefork pool's process (after the fork: clients and sockets are not shared across one),
    or a solo worker."""
    from events.timed_metadata import warm_up

    warm_up(task_registry=False)


@signals.worker_ready.connect
def warm_up_worker(sender=None, **kwargs) -> None:
    """A worker whose pool runs tasks in its own process (threads), which sends no
    worker_process_init. A prefork worker's main process runs none: its pool processes warm up."""
    from celery.concurrency.prefork import TaskPool as PreforkPool

    if not isinstance(getattr(sender, "pool", None), PreforkPool):
        from events.timed_metadata import warm_up

        warm_up(task_registry=False)
