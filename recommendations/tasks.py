from celery import shared_task

from recommendations import services


@shared_task(ignore_result=True)
def train_recommenders_task() -> int:
    """Celery beat (CELERY_BEAT_SCHEDULE, RECOMMENDER_TRAIN_SECONDS): retrain every brand."""
    return services.train_all()
