from celery import shared_task

from events import cues


@shared_task(ignore_result=True)
def send_highlight_cue_task(highlight_id: int) -> str:
    """Retry a waiting cue (throttled, or the backend briefly unavailable)."""
    return cues.send_highlight_cue(highlight_id)
