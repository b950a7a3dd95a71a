"""The Celery app. Workers: ``celery -A liveshop worker``; beat: ``celery -A liveshop beat`` (run
one: it sends CELERY_BEAT_SCHEDULE's tasks, such as the check of stuck recording jobs).

How a task survives a killed worker (late acknowledgement, reject on worker lost, a visibility
timeout past the time limit) is set and explained in settings/base.py, section CELERY."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveshop.settings.base")

app = Celery("liveshop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
