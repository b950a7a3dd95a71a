from celery import shared_task

from commerce import emails, payments, refunds, services
from liveshop.tasks import enqueue

MAX_RETRIES = 8


@shared_task
def release_expired_reservations_task() -> int:
    """Celery beat, every minute (CELERY_BEAT_SCHEDULE)."""
    return services.release_expired_reservations()


@shared_task(ignore_result=True)
def settle_test_refunds_task() -> int:
    """Celery beat, every 30 s (CELERY_BEAT_SCHEDULE): the test provider's refunds pending for a
    minute settle (a no-op with another provider)."""
    return refunds.settle_due_test_refunds()


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def cancel_payment_task(self, order_id: int) -> str:
    """Queued after an unpaid order ends (services._end_pending): the provider cancels its
    payment. An unreachable provider is retried with backoff (30 s doubling, up to 10 minutes)."""
    try:
        return refunds.cancel_payment_as_operator(order_id=order_id)
    except payments.ProviderUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc


@shared_task(ignore_result=True)
def order_paid_task(order_id: int) -> None:
    """Queued once when an order is paid (services._mark_paid, after commit): the worker queues
    what follows a sale, each a task of its own (an e-mail retried does not hold up the other),
    so the paying request publishes one message, not two."""
    enqueue("commerce.tasks.send_order_confirmation_task", order_id)
    enqueue("analytics.tasks.record_purchases_task", order_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=MAX_RETRIES)
def send_order_confirmation_task(order_id: int) -> bool:
    """Queued when an order is paid (after commit); sends once (commerce.emails). An SMTP server
    that cannot be reached (OSError) is retried with backoff."""
    return emails.send_order_confirmation(order_id=order_id)


@shared_task(ignore_result=True)
def deliver_test_webhook_task(body: str, headers: dict[str, str]) -> str:
    """The test provider's POST to our webhook (commerce.payments.test.TestPaymentBackend.post):
    handled as the webhook view handles a delivery."""
    return services.handle_payment_webhook(body=body.encode(), headers=headers)
