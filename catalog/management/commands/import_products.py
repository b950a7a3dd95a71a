import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from catalog.exceptions import ImportFailed, ImportFileNotUtf8
from catalog.forms import IMPORT_COLUMNS, REQUIRED_IMPORT_COLUMNS
from catalog.services import import_products_as_operator


class Command(BaseCommand):
    help = (
        f"Create or update a brand's products by SKU from a UTF-8 CSV file. Columns: "
        f"{', '.join(IMPORT_COLUMNS)} ({', '.join(REQUIRED_IMPORT_COLUMNS)} required). "
        "All rows or nothing: if any row is bad, every problem is listed and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument("--org", required=True, metavar="SLUG", help="the brand's slug")

    def handle(self, *args, file: Path, org: str, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"There is no brand with the slug “{org}”.")
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            result = import_products_as_operator(organization=organization, rows=io.BytesIO(content))
        except ImportFileNotUtf8 as exc:
            raise CommandError(f"{file.name}: {exc}") from exc
        except ImportFailed as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{file.name} has errors (listed above); nothing was imported.") from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {file.name} into {organization}: {result}."))
