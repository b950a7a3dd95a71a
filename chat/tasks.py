from celery import shared_task

from chat import polls


@shared_task(ignore_result=True)
def finish_poll_task(poll_id: int) -> None:
    """Queued with a countdown when a poll opens (chat.polls._schedule_finish): its final results."""
    polls.finish_poll(poll_id)
