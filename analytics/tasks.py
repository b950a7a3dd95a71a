from celery import shared_task

from analytics import services


@shared_task(ignore_result=True)
def flush_buffer_task() -> None:
    """Roll the beacon buffer up into PostgreSQL (idempotent: see analytics.services)."""
    services.flush_buffer()


@shared_task(ignore_result=True)
def record_purchases_task(order_id: int) -> None:
    """A paid order's lines as its viewer's purchases (idempotent: see analytics.services)."""
    services.record_purchases(order_id=order_id)
