"""Ingest recordings: copy each to the "recordings" storage and make it a shoppable replay.

    manage.py ingest_recording event.json           the EventBridge event in a file ("-": stdin)
    manage.py ingest_recording                      ... in $LIVESHOP_EVENT (--event-env NAME), as an
                                                    ECS container override passes it
    manage.py ingest_recording --bucket B --prefix P
    manage.py ingest_recording --pending [--bucket B]   every ended recording not ready yet
    manage.py ingest_recording --local-file rec/<channel id>-<unix time>.flv [--stream-id ST]
                                                    a local media server recording: converted
                                                    (ffmpeg) into IVS's layout, then ingested
    manage.py ingest_recording --bucket local --prefix P   a local recording already converted
                                                    (P below MEDIA_SERVER_DIR/recordings/)

Runs the same idempotent service as the Celery task, in this process. Exits non-zero with the
reason when a recording cannot be ingested or IVS reports it failed.

Ctrl-C (SIGINT) or SIGTERM stops it within seconds with one line: the copy under way stops
between objects, the recording is marked failed with a reason saying it was interrupted, and its
lock is released, so running the command again (or --pending) copies only what is missing. A
second signal exits at once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

from liveshop.objectstore import Cancellation, CopyProgress
from liveshop.progress import ProgressLine
from recordings import services
from recordings.exceptions import RecordingError
from recordings.models import Recording
from recordings.services.ingest import LOCAL_SOURCE, record_interruption
from recordings.services.local import ingest_local_recording
from recordings.services.recording_events import END, END_FAILURE, START_FAILURE

DEFAULT_EVENT_ENV = "LIVESHOP_EVENT"


class ProgressBar(ProgressLine):
    """ "copying 1234/3000 objects (41%) 12.3 MB/s" on stderr (liveshop.progress)."""

    def __init__(self, stream, *, tty: bool, interval: float = 5.0):
        super().__init__(stream, tty=tty, interval=interval)
        self.last: CopyProgress | None = None

    def __call__(self, progress: CopyProgress) -> None:
        self.last = progress
        self.show(self.line(progress), final=progress.done >= progress.total)

    @staticmethod
    def line(progress: CopyProgress) -> str:
        percent = 100 * progress.done // progress.total if progress.total else 100
        rate = progress.bytes_done / progress.elapsed / 1e6 if progress.elapsed > 0 else 0.0
        return f"copying {progress.done}/{progress.total} objects ({percent}%) {rate:.1f} MB/s"


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while no copy was watching the cancellation."""


class StopOnSignals:
    """While entered (in the main thread), the first SIGINT or SIGTERM sets ``cancel``: a copy
    under way checks it between objects and stops within seconds, raising IngestionInterrupted
    once its objects and its lock are in order. When no copy is watching ``cancel`` there are no
    copy threads, so it raises Interrupted in the main thread at once, as Python's own Ctrl-C
    does. A second signal exits at once (the database releases the lock of a dead connection)."""

    def __init__(self):
        self.cancel = Cancellation()
        self.signal: signal.Signals | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self.previous[number] = signal.signal(number, self.received)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def received(self, number: int, frame) -> None:
        if self.signal is not None:
            os.write(2, f"Stopped at once ({signal.Signals(number).name} again).\n".encode())
            os._exit(128 + number)
        self.signal = signal.Signals(number)
        self.cancel.set()
        if not self.cancel.watchers:
            raise Interrupted(self.signal.name)

    def exit(self, message: str) -> None:
        """Print ``message`` and exit with 128 + the signal's number. Copies the cancelled copy
        gave up waiting for keep the interpreter from exiting, so then leave without them."""
        code = 128 + self.signal
        sys.stderr.write(f"{message} ({self.signal.name})\n")
        sys.stderr.flush()
        sys.stdout.flush()
        deadline = time.monotonic() + 0.5
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join(max(0.0, deadline - time.monotonic()))
        if any(
            t.is_alive() and not t.daemon and t is not threading.current_thread()
            for t in threading.enumerate()
        ):
            connections.close_all()
            os._exit(code)
        sys.exit(code)


class Command(BaseCommand):
    help = (
        "Ingest IVS recordings (from an EventBridge event, a bucket and prefix, or all pending ones), "
        "or a recording of the local media server (--local-file)."
    )

    def add_arguments(self, parser):
        parser.add_argument("event", nargs="?", help='EventBridge event JSON file ("-" reads stdin)')
        parser.add_argument(
            "--event-env",
            default=DEFAULT_EVENT_ENV,
            metavar="NAME",
            help=f"Variable holding the event when no other source is given (default {DEFAULT_EVENT_ENV})",
        )
        parser.add_argument(
            "--bucket",
            help=f"Source bucket (--pending: default IVS_RECORDINGS_BUCKET_NAME); {LOCAL_SOURCE!r} for "
            "local recordings already converted below MEDIA_SERVER_DIR/recordings/",
        )
        parser.add_argument(
            "--prefix", help="Recording prefix: ivs/v1/<account>/<channel>/.../<recording id>"
        )
        parser.add_argument(
            "--pending", action="store_true", help="Ingest every ended recording not ready yet"
        )
        parser.add_argument(
            "--local-file",
            metavar="FLV",
            help="A local media server recording (rec/<channel id>-<unix time>.flv): convert it to HLS "
            "with ffmpeg in IVS's layout, then ingest it",
        )
        parser.add_argument(
            "--stream-id",
            default="",
            help="With --local-file: the stream it recorded (default: the session that started then)",
        )
        parser.add_argument("--force", action="store_true", help="Re-check the copy and redo cues when ready")

    def handle(self, *args, **options):
        with StopOnSignals() as self.signals:
            try:
                self.run(*args, **options)
            except (Exception, Interrupted) as exc:
                if self.signals.signal is None:
                    raise
                self.signals.exit(str(exc) if isinstance(exc, CommandError) else "Interrupted")

    def run(self, *args, event=None, event_env=DEFAULT_EVENT_ENV, bucket=None, prefix=None, **options):
        self.force = options["force"]
        self.verbosity = options["verbosity"]
        local_file = options["local_file"]
        if sum(bool(x) for x in (event, prefix, options["pending"], local_file)) > 1:
            raise CommandError("Pass one of: an event file (or -), --prefix, --pending, --local-file.")
        if local_file:
            self.ingest(local_file=local_file, stream_id=options["stream_id"])
        elif options["pending"]:
            self.ingest_pending(bucket or settings.IVS_RECORDINGS_BUCKET_NAME)
        elif prefix or bucket:
            if not (prefix and bucket):
                raise CommandError("--prefix needs --bucket (and --bucket alone needs --pending).")
            self.ingest(bucket=bucket, prefix=prefix)
        else:
            self.ingest_event(self.read_event(event, event_env))

    def read_event(self, path: str | None, env_name: str) -> dict:
        if path == "-":
            text, source = sys.stdin.read(), "standard input"
        elif path:
            try:
                with open(path, encoding="utf-8") as f:
                    text, source = f.read(), path
            except OSError as exc:
                raise CommandError(f"Cannot read the event file: {exc}") from None
        elif os.environ.get(env_name):
            text, source = os.environ[env_name], f"${env_name}"
        else:
            raise CommandError(
                f"Nothing to ingest: pass an event file (or - for stdin), set ${env_name}, "
                "or use --bucket/--prefix or --pending."
            )
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CommandError(f"The event in {source} is not valid JSON ({exc}).") from None

    def ingest_event(self, payload: dict) -> None:
        try:
            event = services.parse_recording_event(payload)
            if event.status == START_FAILURE:
                live_event = services.get_event_for_channel(event.channel_id)
                services.record_start_failure(live_event=live_event, event=event)
                raise CommandError(
                    f"IVS could not start the recording ({event.reason or 'no reason given'})."
                )
        except RecordingError as exc:
            raise CommandError(str(exc)) from None
        if event.status not in (END, END_FAILURE):
            raise CommandError(f"Nothing to ingest for a '{event.status}' event (only Recording End).")
        self.ingest(
            bucket=event.bucket, prefix=event.prefix, stream_ids=event.stream_ids, session_id=event.session_id
        )

    def ingest(self, **target) -> Recording:
        bar = ProgressBar(self.stderr, tty=self.stderr.isatty()) if self.verbosity > 0 else None
        started = time.monotonic()
        if "local_file" in target:
            where = target["local_file"]
            ingest = functools.partial(
                ingest_local_recording,
                flv=target["local_file"],
                stream_id=target["stream_id"],
                cancel=self.signals.cancel,
            )
        else:
            local = target["bucket"] == LOCAL_SOURCE
            where = (
                f"{LOCAL_SOURCE}:{target['prefix']}"
                if local
                else f"s3://{target['bucket']}/{target['prefix']}"
            )
            ingest = functools.partial(services.ingest_recording, **target, cancel=self.signals.cancel)
        try:
            recording = ingest(force=self.force, progress=bar)
        except RecordingError as exc:
            raise CommandError(f"{where}: {exc}") from None
        except Interrupted:
            raise CommandError(f"{where}: {self.record_interruption(target)}") from None
        finally:
            if bar is not None:
                bar.close()
        if recording.status != Recording.Status.READY:
            raise CommandError(f"{where}: {recording.failure_reason}")
        self.summarize(recording, bar.last if bar else None, time.monotonic() - started)
        return recording

    def record_interruption(self, target: dict) -> str:
        """The reason an ingestion interrupted outside its copy (which records its own), stored
        on its recording when there is one (see services.ingest.record_interruption)."""
        reason = "Interrupted before the replay was ready; ingesting it again resumes it"
        if "prefix" in target:
            with contextlib.suppress(Exception):  # best effort: the line is printed regardless
                if connection.connection is not None and not connection.is_usable():
                    connection.close()
                record_interruption(bucket=target["bucket"], prefix=target["prefix"], reason=reason)
        return reason

    def summarize(self, recording: Recording, last: CopyProgress | None, seconds: float) -> None:
        if recording.is_referenced:
            copy = "zero-copy: served from the recordings bucket, nothing copied"
        elif last is None:
            copy = "already ingested"
        else:
            copy = f"{last.done} copied now, {recording.objects_copied - last.total} already there"
        self.stdout.write(
            self.style.SUCCESS(f"Recording {recording.pk} of “{recording.event}” is ready")
            + f" ({seconds:.1f} s): {recording.objects_copied} objects, {recording.bytes_copied / 1e6:.1f} MB"
            + f" ({copy}); {recording.duration}"
            + f", {len(recording.renditions)} renditions, {recording.cues.count()} product cues"
            + (f"\n  {recording.master_url}" if recording.master_url else "")
        )

    def ingest_pending(self, bucket: str) -> None:
        if not bucket:
            raise CommandError("No bucket: pass --bucket or set IVS_RECORDINGS_BUCKET_NAME.")
        try:
            scan = services.find_pending_recordings(bucket=bucket)
        except RecordingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"s3://{bucket}: {len(scan.prefixes)} recording(s) to ingest, {scan.ready} ready, "
            f"{len(scan.not_ended)} not ended (or failed at IVS)."
        )
        failures = []
        for prefix in scan.prefixes:
            self.stdout.write(f"{prefix}:")
            try:
                self.ingest(bucket=bucket, prefix=prefix)
            except CommandError as exc:
                if self.signals.signal is not None:
                    raise
                self.stderr.write(str(exc))
                failures.append(prefix)
        if failures:
            raise CommandError(
                f"{len(failures)} of {len(scan.prefixes)} recording(s) failed: {', '.join(failures)}"
            )
