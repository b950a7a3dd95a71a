"""A brand's interactions in Amazon Personalize's interactions dataset CSV (USER_ID, ITEM_ID,
TIMESTAMP, EVENT_TYPE), to a file or an S3 object (s3://bucket/key) for a dataset import job."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from recommendations.interactions import brand_interactions
from recommendations.learning import WEIGHTS
from recommendations.management import brand_named

HEADER = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE")


def rows(organization):
    """Personalize's rows: learned-from kinds only, epoch seconds, no quotes in ids."""
    for interaction in brand_interactions(organization):
        if WEIGHTS.get(interaction.kind, 0) > 0 and '"' not in interaction.user + interaction.item:
            yield interaction.user, interaction.item, int(interaction.at), interaction.kind


class Command(BaseCommand):
    help = "Write a brand's interactions as Amazon Personalize's interactions CSV (a file or s3://...)."

    def add_arguments(self, parser):
        parser.add_argument("brand", help="The brand's slug.")
        parser.add_argument("destination", help="A file path, or s3://bucket/key.csv")

    def handle(self, *args, brand, destination, **options):
        organization = brand_named(brand)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(HEADER)
        count = 0
        for row in rows(organization):
            writer.writerow(row)
            count += 1
        data = buffer.getvalue().encode()
        if destination.startswith("s3://"):
            self.upload(destination, data)
        else:
            try:
                with open(destination, "wb") as handle:
                    handle.write(data)
            except OSError as exc:
                raise CommandError(f"Cannot write {destination}: {exc.strerror}.") from exc
        self.stdout.write(f"Wrote {count} interactions of {organization.name} to {destination}.")

    def upload(self, destination: str, data: bytes) -> None:
        parts = urlsplit(destination)
        if not parts.netloc or not parts.path.strip("/"):
            raise CommandError("An S3 destination is s3://bucket/key.csv.")
        try:
            boto3.client("s3").put_object(
                Bucket=parts.netloc, Key=parts.path.lstrip("/"), Body=data, ContentType="text/csv"
            )
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"Could not write to {destination}: {exc}") from exc
