"""``manage.py stream_video --event SLUG --video FILE [--srt FILE] [--loop] [--end-event]
[--user NAME]``: stream a pre-recorded video into an event as a live show, featuring each
product cue (from --srt, else the video's own subtitle track) when its moment plays. See
events/prerecorded/.

The products are featured as ``--user`` (default: the event's creator), who must be a host or
owner of the event's brand, like a host clicking Feature in the console. When the video ends
(or on Ctrl-C or SIGTERM) the product card is cleared, ffmpeg stops and the command exits 0.
The stream has ended, so the event shows as ended, as when any encoder stops, but it stays open:
its stream key keeps working and streaming again makes it live again. ``--end-event`` ends it
for good instead, as the console's End button does (the key is revoked).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from events import prerecorded, timed_metadata
from events.models import LiveEvent


class Command(BaseCommand):
    help = (
        "Stream a video into an event as a live show, featuring its product cues at their moments. "
        "When the video ends (or on Ctrl-C) the stream stops, so the event shows as ended, but it "
        "stays open: streaming again makes it live again. With --end-event it is ended for good."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--event",
            required=True,
            metavar="[BRAND/]SLUG",
            help="the event to stream into (BRAND/SLUG when several brands have an event at SLUG)",
        )
        parser.add_argument("--video", required=True, type=Path, help="H.264/AAC video (see preencode)")
        parser.add_argument("--srt", type=Path, help="product cues (default: the video's subtitle track)")
        parser.add_argument("--loop", action="store_true", help="play the video (and its cues) forever")
        parser.add_argument(
            "--end-event",
            action="store_true",
            help=(
                "when streaming stops (the video ended, Ctrl-C or SIGTERM), end the event for good, "
                "as the console's End button does (stream key revoked). Default: the event stays "
                "open and a new stream makes it live again"
            ),
        )
        parser.add_argument("--user", help="feature the products as this host (default: the event's creator)")

    @staticmethod
    def _event(name: str) -> LiveEvent:
        """The event named by ``SLUG`` or ``BRAND/SLUG`` (slugs are unique within a brand)."""
        brand, _, slug = name.rpartition("/")
        events = LiveEvent.objects.select_related("organization", "created_by").filter(slug=slug)
        if brand:
            events = events.filter(organization__slug=brand)
        found = list(events[:10])
        if not found:
            raise CommandError(f"No event with the slug “{name}”.")
        if len(found) > 1:
            brands = ", ".join(sorted(f"{event.organization.slug}/{slug}" for event in found))
            raise CommandError(f"Several brands have an event “{slug}”: name one as BRAND/SLUG ({brands}).")
        return found[0]

    def handle(self, *args, event, video, srt, loop, end_event, user, verbosity, **options):
        stop = threading.Event()
        event = self._event(event)
        by = self._user(user) if user else prerecorded.default_host(event)
        try:
            info = prerecorded.probe(video)
            cues = prerecorded.read_cues(organization=event.organization, video=info, srt=srt)
            with _stopping_on_signals(stop):
                result = prerecorded.stream_video(
                    event=event,
                    video=info,
                    cues=cues,
                    loop=loop,
                    by=by,
                    stop=stop,
                    end_event=end_event,
                    on_start=lambda command: self._started(event, info, cues, loop, command, verbosity),
                    on_cue=self._cue,
                    on_progress=self._progress,
                )
        except prerecorded.StreamingError as exc:
            raise CommandError(str(exc)) from None
        how = "Stopped" if result.stopped else "The video ended"
        self.stdout.write(
            self.style.SUCCESS(
                f"{how} after {_clock(result.media_time)} ({result.cues_fired} cues featured)"
                + ("; the product card was cleared." if result.card_cleared else ".")
            )
        )
        if result.event_ended:
            self.stdout.write(f"“{event.slug}” is ended for good (its stream key is revoked).")
        elif end_event:
            self.stderr.write(f"“{event.slug}” could not be ended; end it from the console.")
        else:
            self.stdout.write(
                f"“{event.slug}” stays open: stream again to go live again, or end it from the console "
                "(or pass --end-event next time)."
            )

    def _user(self, username: str):
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user “{username}”.") from None

    def _started(self, event, info, cues, loop, command, verbosity) -> None:
        target = command.rsplit(" ", 1)[-1]
        looping = ", looping" if loop else ""
        self.stdout.write(
            f"Streaming {info.path} ({info.duration:.1f} s, {len(cues)} cues{looping}) into "
            f"“{event.slug}” at {target}. Ctrl-C stops."
        )
        if verbosity >= 2:
            self.stdout.write(command)

    def _cue(self, fired: prerecorded.CueFired) -> None:
        cue = fired.scheduled.cue
        late = (fired.media_time - fired.scheduled.at) * 1000
        what = (
            f"featured {cue.product.name}"
            if fired.highlight
            else f"skipped {cue.product.name}: {fired.error}"
        )
        loop = f" loop {fired.scheduled.loop + 1}" if fired.scheduled.loop else ""
        self.stdout.write(
            f"{_clock(fired.media_time, ms=True)}{loop}  {what} "
            f"(SRT line {cue.line}, +{late:.0f} ms, took {1000 * fired.took:.0f} ms)"
        )

    def _progress(self, progress: prerecorded.StreamProgress) -> None:
        if not sys.stderr.isatty():
            return  # logs get the cue lines only
        upcoming = f"next cue at {_clock(progress.next_cue.at)}" if progress.next_cue else "no more cues"
        self.stderr.write(
            f"\r\x1b[K▶ {_clock(progress.media_time)}  loop {progress.loop + 1}  "
            f"{progress.cues_fired} cues featured  {upcoming}",
            ending="",
        )


class _stopping_on_signals:
    """SIGINT and SIGTERM set ``stop`` (the stream then ends cleanly) instead of raising."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.previous: dict[int, object] = {}

    def __enter__(self):
        for number in (signal.SIGINT, signal.SIGTERM):
            self.previous[number] = signal.signal(number, self.stopping)
        return self

    def stopping(self, *_) -> None:
        self.stop.set()
        timed_metadata.stop_retrying()  # the closing card's cue goes once, not retried at exit

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _clock(seconds: float, *, ms: bool = False) -> str:
    whole = int(seconds)
    text = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return f"{text}.{int(seconds * 1000) % 1000:03d}" if ms else text
