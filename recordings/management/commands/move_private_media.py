"""Move private media stored before private folders into ``private/<random key>/``:
``manage.py move_private_media [--dry-run]`` (recordings.services.private_media). Run once after
deploying the version that added them; safe to run again."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recordings.exceptions import RecordingError
from recordings.services.private_media import list_misplaced_private_media, move_to_private_folder


class Command(BaseCommand):
    help = (
        "Move uploaded videos and private events' replays stored under the public prefix (or an id) "
        "to private/<random key>/, which the CDN serves only with signed cookies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would move; move nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        failed = 0
        for recording in list_misplaced_private_media().select_related("event"):
            if dry_run:
                self.stdout.write(f"Would move recording {recording.pk} from {recording.cdn_prefix}/")
                continue
            old = recording.cdn_prefix
            try:
                recording = move_to_private_folder(recording=recording)
            except RecordingError as exc:
                failed += 1
                self.stderr.write(f"Recording {recording.pk} ({old}/): {exc}")
                continue
            self.stdout.write(f"Moved recording {recording.pk} from {old}/ to {recording.cdn_prefix}/")
        if failed:
            raise CommandError(f"{failed} recording(s) could not be moved; run the command again.")
