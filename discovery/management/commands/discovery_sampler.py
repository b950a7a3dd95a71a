"""Run the product detector's frame samplers outside Celery (the one-process demo, operators)."""

import threading
import time

from django.core.management.base import BaseCommand, CommandError

from discovery import sampler
from discovery.models import EventDiscovery
from events.models import LiveEvent


class Command(BaseCommand):
    help = (
        "Sample live events' streams and suggest the products seen to their hosts: --event ID for one "
        "(until it ends), else every live event whose detector is on, as they go live (until Ctrl-C)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--event", type=int, help="The live event's id.")

    def handle(self, *args, event=None, **options):
        if event is not None:
            if not LiveEvent.objects.filter(pk=event).exists():
                raise CommandError(f"No event {event}.")
            result = sampler.run_sampler(event)
            self.stdout.write(
                f"Event {event}: {result.frames} frames, {result.errors} errors, stopped ({result.reason})."
            )
            return
        running: dict[int, threading.Thread] = {}
        try:
            while True:
                off = set(EventDiscovery.objects.filter(enabled=False).values_list("event_id", flat=True))
                for event_id in LiveEvent.objects.filter(status=LiveEvent.Status.LIVE).values_list(
                    "pk", flat=True
                ):
                    if event_id not in off and not (event_id in running and running[event_id].is_alive()):
                        running[event_id] = threading.Thread(
                            target=sampler.run_sampler, args=(event_id,), daemon=True
                        )
                        running[event_id].start()
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
