from celery import shared_task

from discovery import index, sampler

# A sampler task hands over to a fresh one before the worker's task time limit (an hour) would
# kill it: a show longer than that keeps its detector.
SAMPLER_TASK_SECONDS = 50 * 60


@shared_task(ignore_result=True)
def index_product_task(product_id: int) -> None:
    """(Re)build the product's features from its current image (idempotent)."""
    index.index_product(product_id=product_id)


@shared_task(ignore_result=True, acks_late=False, soft_time_limit=None, time_limit=SAMPLER_TASK_SECONDS + 600)
def run_sampler_task(event_id: int) -> str:
    """Sample the live event's stream until it ends (or hand over to a new task after
    SAMPLER_TASK_SECONDS). Not acknowledged late: a lost sampler restarts at the next go-live."""
    result = sampler.run_sampler(event_id, max_seconds=SAMPLER_TASK_SECONDS)
    if result.reason == "time":
        run_sampler_task.delay(event_id)
    return result.reason
