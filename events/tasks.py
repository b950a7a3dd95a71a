from celery import shared_task

from events import invitations, reminders, timed_metadata
from liveshop.video import BackendUnavailable, Throttled


@shared_task(ignore_result=True)
def send_highlight_cue_task(highlight_id: int) -> str:
    """Retry a waiting cue (throttled, or the backend briefly unavailable)."""
    return timed_metadata.send_highlight_cue(highlight_id)


@shared_task(
    ignore_result=True,
    autoretry_for=(Throttled, BackendUnavailable),
    retry_backoff=2,
    max_retries=6,
)
def revoke_playback_task(event_id: int, user_ids: list[int]) -> int:
    """End removed viewers' private playback (idempotent, so a retry redoes the whole list)."""
    return invitations.revoke_playback(event_id=event_id, user_ids=user_ids)


@shared_task(ignore_result=True, autoretry_for=(reminders.RemindersNotSent,), retry_backoff=30, max_retries=4)
def send_show_reminders_task(event_id: int) -> int:
    """E-mail the viewers who asked to be reminded of a show that went live (each once)."""
    return reminders.send_show_reminders(event_id)
