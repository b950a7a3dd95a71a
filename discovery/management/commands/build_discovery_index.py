"""(Re)build the local detector's index of product images (images changed by hand in storage,
or a first run after installing discovery). Idempotent: unchanged images are skipped."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from catalog.models import Product
from discovery.index import index_product


class Command(BaseCommand):
    help = "Build the product detector's index of every product image (or one brand's: --org SLUG)."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Only this brand's products (its slug).")

    def handle(self, *args, org=None, **options):
        products = Product.objects.exclude(image="")
        if org:
            if not Organization.objects.filter(slug=org).exists():
                raise CommandError(f"No brand “{org}”.")
            products = products.filter(organization__slug=org)
        built = sum(1 for pid in products.values_list("pk", flat=True) if index_product(product_id=pid))
        self.stdout.write(f"{built} product images indexed.")
