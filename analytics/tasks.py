from celery import shared_task

from analytics import services


@shared_task(ignore_result=True)
def flush_buffer_task() -> None:
    """Roll the beacon buffer up into PostgreSQL (idempotent: see analytics.services)."""
    services.flush_buffer()
