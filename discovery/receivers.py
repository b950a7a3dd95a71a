"""Where discovery hears of the other apps' changes (connected in DiscoveryConfig.ready; events
and catalog never import discovery):

- a Product saved with another image than its features were built from: rebuild them after commit;
- a LiveEvent saved as live: start its sampler after commit (a Celery worker; with eager Celery,
  the one-process demo, nothing starts in the web process: ``manage.py discovery_sampler`` does it).
  The sampler stops itself when the event is no longer live."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from catalog.models import Product
from events.models import LiveEvent

logger = logging.getLogger(__name__)


def connect() -> None:
    post_save.connect(product_saved, sender=Product, dispatch_uid="discovery.product_saved")
    post_save.connect(event_saved, sender=LiveEvent, dispatch_uid="discovery.event_saved")


def product_saved(sender, instance: Product, update_fields=None, **kwargs) -> None:
    from discovery import index, tasks

    if update_fields is not None and "image" not in update_fields and "is_active" not in update_fields:
        return
    if index.needs_index(instance):
        product_id = instance.pk
        transaction.on_commit(lambda: tasks.index_product_task.delay(product_id))


def event_saved(sender, instance: LiveEvent, update_fields=None, **kwargs) -> None:
    if instance.status != LiveEvent.Status.LIVE:
        return
    if update_fields is not None and "status" not in update_fields:
        return
    event_id = instance.pk
    transaction.on_commit(lambda: start_sampler(event_id))


def start_sampler(event_id: int) -> bool:
    """Queue the event's sampler on a Celery worker; False (and a log line) with eager Celery,
    where the task would run in this (web) process."""
    from discovery.tasks import run_sampler_task

    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        logger.info(
            "No Celery worker: run manage.py discovery_sampler for live events", extra={"event_id": event_id}
        )
        return False
    run_sampler_task.delay(event_id)
    return True
