"""``manage.py demo_runserver``: ``make demo``'s web server (Django's runserver, ASGI through
daphne). Without Redis it also runs the demo show in a thread of its own process, where the
in-memory delivery reaches the viewers' sockets (demo_show's own process, started with
``--beside-web``, then only waits), and Celery beat's periodic tasks in another (demo.beat:
Procfile.demo's beat process only waits then)."""

from __future__ import annotations

import io
import threading

from daphne.management.commands.runserver import Command as RunserverCommand
from django.conf import settings

from demo.beat import start_beat_thread
from demo.management.commands.demo_show import Command as DemoShowCommand


class Command(RunserverCommand):
    help = "runserver for make demo; without Redis, the demo show and beat's tasks run in this process too."

    def inner_run(self, *args, **options):
        if not settings.REDIS_URL:
            start_show_thread(self.stdout, self.stderr)
            start_beat_thread()
        super().inner_run(*args, **options)


def start_show_thread(stdout, stderr, *, stop: threading.Event | None = None) -> threading.Thread:
    """The demo show in a daemon thread of this process (it ends with the process)."""
    show = DemoShowCommand(stdout=stdout or io.StringIO(), stderr=stderr or io.StringIO())

    def run():
        from django.core.management.base import CommandError

        try:
            show.run_show(directory=None, once=False, stop=stop or threading.Event())
        except CommandError as exc:
            show.stderr.write(f"The demo show did not start: {exc}")

    thread = threading.Thread(target=run, name="demo-show", daemon=True)
    thread.start()
    return thread
