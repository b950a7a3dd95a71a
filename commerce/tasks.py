from celery import shared_task

from commerce import services


@shared_task
def release_expired_reservations_task() -> int:
    """Celery beat, every minute (CELERY_BEAT_SCHEDULE)."""
    return services.release_expired_reservations()
