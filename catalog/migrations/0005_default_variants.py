"""Every existing product gets its default variant, with the product's SKU and stock, so that it
stays purchasable once checkout reads variants. Reversing copies the default variant's stock back
to its product (checkout may have sold some) before the variants go."""

from django.db import migrations


def add_default_variants(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    Variant = apps.get_model("catalog", "Variant")
    have_default = Variant.objects.filter(is_default=True).values_list("product_id", flat=True)
    missing = Product.objects.exclude(pk__in=have_default).order_by("pk")
    Variant.objects.bulk_create(
        [
            Variant(
                organization_id=product.organization_id,
                product_id=product.pk,
                sku=product.sku,
                stock=product.stock,
                is_default=True,
                is_active=True,
            )
            for product in missing.iterator()
        ],
        batch_size=1000,
    )


def restore_product_stock(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    Variant = apps.get_model("catalog", "Variant")
    for variant in Variant.objects.filter(is_default=True).iterator():
        Product.objects.filter(pk=variant.product_id).update(stock=variant.stock)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_variant")]

    operations = [migrations.RunPython(add_default_variants, restore_product_stock)]
