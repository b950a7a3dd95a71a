"""Replace a recording's (or uploaded video's) product cues with those of an SRT file:
``manage.py import_cues 42 cues.srt [--dry-run] [--as USERNAME]``.

All or nothing: every problem is listed with its line and nothing is written. Like
import_products, it is an operator action (whoever runs manage.py may change any brand);
``--as`` checks that a user may edit the brand's recordings first.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from events.exceptions import InvalidCues
from events.srt_cues import format_ms, parse_srt
from recordings.models import Recording
from recordings.services.product_cues import replace_cues, replace_cues_as_operator


class Command(BaseCommand):
    help = "Replace a recording's product cues with an SRT file's (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("recording", type=int, metavar="RECORDING_ID")
        parser.add_argument("file", type=Path, metavar="FILE", help="the SRT file")
        parser.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
        parser.add_argument(
            "--as", dest="username", metavar="USERNAME", help="act as this user (permission checked)"
        )

    def handle(self, *args, recording: int, file: Path, dry_run: bool, username: str | None, **options):
        target = Recording.objects.select_related("organization").filter(pk=recording).first()
        if target is None:
            raise CommandError(f"There is no recording with id {recording}.")
        user = self.user(username) if username else None
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            cues = parse_srt(content, organization=target.organization)
            self.stderr.write(f"{file.name}: {len(cues)} cue(s) read, {self.span(cues)}.")
            if dry_run:
                self.stdout.write(f"Dry run: {file.name} is fine; “{target}” keeps its cues.")
                return
            if user is None:
                saved = replace_cues_as_operator(recording=target, cues=cues)
            else:
                saved = replace_cues(recording=target, cues=cues, by=user)
        except InvalidCues as exc:
            raise CommandError(f"{file.name}: {exc}") from exc
        except PermissionDenied as exc:
            raise CommandError(f"{username}: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Imported {len(saved)} cue(s) from {file.name} into “{target}”.")
        )

    def user(self, username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user “{username}”.")
        return user

    @staticmethod
    def span(cues) -> str:
        if not cues:
            return "none"
        return f"from {format_ms(cues[0].start_ms)} to {format_ms(cues[-1].end_ms or cues[-1].start_ms)}"
