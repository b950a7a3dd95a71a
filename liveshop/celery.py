"""The Celery app. Workers: ``celery -A liveshop worker``; beat: ``celery -A liveshop beat``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveshop.settings.base")

app = Celery("liveshop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
