"""Write a recording's (or uploaded video's) product cues as SRT, in the AWS retail demo's
format: ``manage.py export_cues 42 [--key sku] [-o cues.srt]`` (stdout without -o)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from events.srt_cues import KEYS, export_srt
from recordings.models import ProductCue, Recording


class Command(BaseCommand):
    help = 'Write a recording\'s product cues as SRT (cue text {"productId": N} or {"sku": "..."}).'

    def add_arguments(self, parser):
        parser.add_argument("recording", type=int, metavar="RECORDING_ID")
        parser.add_argument(
            "--key", choices=KEYS, default="productId", help="name products by id (default) or SKU"
        )
        parser.add_argument(
            "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout"
        )

    def handle(self, *args, recording: int, key: str, output: Path | None, **options):
        found = Recording.objects.filter(pk=recording).first()
        if found is None:
            raise CommandError(f"There is no recording with id {recording}.")
        cues = list(ProductCue.objects.filter(recording=found).select_related("product"))
        text = export_srt(cues, key=key, ends_at=found.duration_ms)
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from exc
        self.stderr.write(f"Wrote {len(cues)} cue(s) of “{found}” to {output}.")
