"""Requeue or fail stuck recording jobs now (Celery beat does it every minute):
``manage.py check_stale_jobs``."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from recordings.services.jobs import check_stale_jobs


class Command(BaseCommand):
    help = "Requeue stuck transcodes and ingestions (whose worker died), or fail them past the attempt limit."

    def handle(self, *args, **options):
        result = check_stale_jobs()
        self.stdout.write(
            f"Requeued {len(result.requeued)} job(s) {result.requeued}, failed {len(result.failed)} "
            f"{result.failed}, removed {result.folders_removed} leftover folder(s)."
        )
