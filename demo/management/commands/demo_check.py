"""``manage.py demo_check``: say which of make demo's own services this machine lacks and what the
demo does without them (demo/checks.py). Never fails: the demo runs either way."""

import os

from django.core.management.base import BaseCommand

from demo.checks import startup


class Command(BaseCommand):
    help = "Say which services make demo runs itself are missing here, and what it does without them."

    def handle(self, *args, **options):
        found = startup(redis_url=os.environ.get("REDIS_URL", ""))
        for line in found.lines:
            self.stderr.write(self.style.WARNING(line))
        if not found.lines:
            self.stdout.write("Redis and the media server (nginx-rtmp) are installed: the whole demo runs.")
