from celery import shared_task

from recommendations import services
from recommendations.exceptions import RecommenderUnavailable


@shared_task(ignore_result=True)
def train_recommenders_task() -> int:
    """Celery beat (CELERY_BEAT_SCHEDULE, RECOMMENDER_TRAIN_SECONDS): retrain every brand."""
    return services.train_all()


@shared_task(ignore_result=True, autoretry_for=(RecommenderUnavailable,), retry_backoff=60, max_retries=5)
def stream_to_personalize_task() -> int:
    """Celery beat, every minute: new interactions to Personalize's event tracker (when used)."""
    return services.stream_to_personalize()
