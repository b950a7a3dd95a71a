"""Seed the demo brand: Northwind Outfitters, an owner and a host, and eight products with images
(demo/brand.py).

Idempotent: rows are keyed on the brand slug, usernames and SKUs, so running it again creates
nothing new, keeps existing passwords (unless one is given in the environment) and edits made in
the demo, and only draws a product image where the product has none. Each demo product without a
product page gets the demo's own (demo/views.py, at LIVESHOP_SITE_URL), so the live card shows Buy
and its QR code.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from accounts.models import Membership, Organization
from analytics.demo import seed_show_history
from catalog.exceptions import ImportFailed
from catalog.models import Product
from catalog.services import attach_product_image, import_products_as_operator
from demo.brand import BRAND_NAME, BRAND_SLUG, DEMO_PRODUCTS, DEMO_USERS, DemoUser, product_card_png
from recommendations.demo import seed_demo_looks


class Command(BaseCommand):
    help = "Create the demo brand, its owner and host logins, and eight products (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            brand = self.seed_brand()
            logins = [self.seed_user(brand, demo_user) for demo_user in DEMO_USERS]
            products = self.seed_products(brand)
            host = Membership.objects.filter(organization=brand, role=Membership.Role.HOST).first()
            seed_show_history(brand=brand, products=products, host=host.user)  # studio analytics
            seed_demo_looks(brand=brand, products=products)  # related products under the player
        self.print_summary(brand, logins, products)

    def seed_brand(self) -> Organization:
        brand, _ = Organization.objects.get_or_create(slug=BRAND_SLUG, defaults={"name": BRAND_NAME})
        return brand

    def seed_user(self, brand: Organization, demo_user: DemoUser) -> tuple[str, str, str]:
        """Create the staff user and its membership; return (username, role, password note)."""
        user, created = get_user_model().objects.get_or_create(
            username=demo_user.username,
            defaults={"email": f"{demo_user.username}@example.com", "is_staff": True},
        )
        Membership.objects.update_or_create(user=user, organization=brand, defaults={"role": demo_user.role})
        if not created:
            self.stdout.write(f"User {user.username} already exists.")
        return user.username, demo_user.role, self.seed_password(user, created, demo_user.password_env)

    def seed_password(self, user, created: bool, env_name: str) -> str:
        """The password from ``env_name`` wins; else a new user gets a generated one, shown once."""
        env_password = os.environ.get(env_name, "")
        if env_password:
            if created or not user.check_password(env_password):
                user.set_password(env_password)
                user.save(update_fields=["password"])
            return f"from ${env_name}"
        if not created:
            return (
                f"unchanged (shown when the user was created); to reset it: manage.py changepassword "
                f"{user.get_username()}, or set ${env_name} and run seed_demo again"
            )
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        return f"{password}   (generated: shown only this once)"

    def seed_products(self, brand: Organization) -> list[Product]:
        """Import the demo products the brand lacks (edits made in the demo are kept), then draw an
        image for each product without one (as the brand's owner)."""
        demo_by_sku = {demo_product.sku: demo_product for demo_product in DEMO_PRODUCTS}
        existing = set(
            Product.objects.filter(organization=brand, sku__in=demo_by_sku).values_list("sku", flat=True)
        )
        missing = [demo_product.as_row() for sku, demo_product in demo_by_sku.items() if sku not in existing]
        if missing:
            try:
                import_products_as_operator(organization=brand, rows=missing)
            except ImportFailed as exc:
                raise CommandError(f"{exc} {'; '.join(map(str, exc.errors))}") from exc
        for sku in demo_by_sku:  # a product page for the card's Buy link and QR; a brand's own URL is kept
            page = settings.SITE_URL.rstrip("/") + reverse("demo:product", kwargs={"sku": sku})
            Product.objects.filter(organization=brand, sku=sku, external_url="").update(external_url=page)
        products = list(Product.objects.filter(organization=brand, sku__in=demo_by_sku))
        owner = Membership.objects.filter(organization=brand, role=Membership.Role.OWNER).first()
        for product in products:
            if not product.image or _an_older_demo_card(product):
                png = product_card_png(product.name, demo_by_sku[product.sku].colors)
                attach_product_image(
                    product=product, content=png, filename=f"{product.sku}-{CARD_STYLE}.png", by=owner.user
                )
        return products

    def print_summary(self, brand: Organization, logins, products) -> None:
        self.stdout.write(
            self.style.SUCCESS(f"Demo brand: {brand.name} ({brand.slug}), {len(products)} products")
        )
        self.stdout.write("Demo logins (log in at /login/, admin at /admin/):")
        for username, role, password in logins:
            self.stdout.write(f"  {username:<12} {role:<10} password: {password}")


# The demo cards' drawing (demo.brand.product_card_png), named in the image's file name: a card
# an earlier seed_demo drew in another style ("<SKU>.png": text alone, which the product detector
# could not find in the show) is drawn again; an image the brand attached is kept.
CARD_STYLE = "landscape"


def _an_older_demo_card(product: Product) -> bool:
    name = Path(product.image.name).name
    return name.startswith(product.sku) and CARD_STYLE not in name
