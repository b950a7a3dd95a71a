"""The demo brand's shopping history for the recommender (``seed_demo``): anonymous carts that
each hold one or two "looks" (products bought together), so the demo show's related row shows
what goes with the featured product rather than the cold-start answer. Carts hold no stock (only
checkout reserves it) and show nowhere in the studio. Made once; the model is trained at once."""

from __future__ import annotations

import random

from catalog.models import Variant
from commerce import services as commerce
from commerce.models import Cart
from recommendations.services import train_brand

# demo.brand.DEMO_PRODUCTS' SKUs: jacket, fleece, beanie / daypack, bottle, lamp / boots, socks.
LOOKS = (
    ("NW-JKT-001", "NW-FLC-002", "NW-BNE-006"),
    ("NW-BPK-003", "NW-BTL-005", "NW-LMP-007"),
    ("NW-BOT-004", "NW-SCK-008"),
)
CARTS = 36


def seed_demo_looks(*, brand, products) -> int:
    """Seed the carts (once) and train ``brand``'s model; how many carts were made."""
    made = 0
    if not Cart.objects.filter(organization=brand, user=None).exists():
        rng = random.Random(5)
        variants = {v.product_id: v.pk for v in Variant.objects.filter(product__in=products, is_default=True)}
        by_sku = {product.sku: product for product in products}
        looks = [[by_sku[sku] for sku in look if sku in by_sku] for look in LOOKS]
        for _ in range(CARTS):
            cart = Cart.objects.create(organization=brand)
            for look in rng.sample(looks, k=rng.choice((1, 1, 2))):
                for product in look:
                    commerce.add_to_cart(cart=cart, variant_id=variants[product.pk], quantity=1)
            made += 1
    train_brand(organization=brand)
    return made
