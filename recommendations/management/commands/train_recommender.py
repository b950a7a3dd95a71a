"""Train the local recommender for one brand (``--brand``) or every brand, showing progress."""

from django.core.management.base import BaseCommand

from accounts.models import Organization
from liveshop.progress import ProgressLine
from recommendations.management import brand_named
from recommendations.services import train_brand


class Command(BaseCommand):
    help = "Train the local recommender (related products) from the brands' orders, carts and clicks."

    def add_arguments(self, parser):
        parser.add_argument("--brand", help="The brand's slug (default: every brand with products).")

    def handle(self, *args, brand=None, **options):
        if brand:
            organizations = [brand_named(brand)]
        else:
            organizations = list(
                Organization.objects.filter(products__isnull=False).distinct().order_by("pk")
            )
        line = ProgressLine(self.stderr, tty=self.stderr.isatty())
        for organization in organizations:

            def progress(done, total, name=organization.name):
                line.show(
                    f"{name}: {done}/{total} products ({100 * done // max(total, 1)}%)", final=done == total
                )

            trained = train_brand(organization=organization, progress=progress)
            line.close()
            self.stdout.write(
                f"{organization.name}: learned from {trained.interactions} interactions, "
                f"related products for {trained.products} products."
            )
        if not organizations:
            self.stdout.write("No brand has products yet: nothing to train.")
