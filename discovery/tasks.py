import logging

from celery import shared_task, signals

from discovery import index, sampler

logger = logging.getLogger(__name__)

# A sampler task hands over to a fresh one before the worker's task time limit (an hour) would
# kill it: a show longer than that keeps its detector.
SAMPLER_TASK_SECONDS = 50 * 60


@signals.worker_shutting_down.connect
def hand_over_samplers(**kwargs) -> None:
    """The worker is stopping (a deploy, a scale-in): its samplers stop and queue themselves again
    for another worker (sampler.HANDOVER), instead of holding the shutdown until the show ends and
    being killed with it."""
    sampler.HANDOVER.set()


@shared_task(ignore_result=True)
def index_product_task(product_id: int) -> None:
    """(Re)build the product's features from its current image (idempotent)."""
    index.index_product(product_id=product_id)


@shared_task(ignore_result=True, acks_late=False, soft_time_limit=None, time_limit=SAMPLER_TASK_SECONDS + 600)
def run_sampler_task(event_id: int) -> str:
    """Sample the live event's stream until it ends (or hand over to a new task after
    SAMPLER_TASK_SECONDS, or when the worker shuts down). Not acknowledged late: a sampler whose
    worker died without shutting down (killed, crashed) restarts at the next go-live."""
    result = sampler.run_sampler(event_id, max_seconds=SAMPLER_TASK_SECONDS)
    eager = run_sampler_task.app.conf.task_always_eager  # no worker to hand over to
    if result.reason == "time" or (result.reason == "handover" and not eager):
        if result.reason == "handover":
            logger.info("Sampler of event %s handed over: the worker is shutting down", event_id)
        run_sampler_task.delay(event_id)
    return result.reason
