"""One home for stock: ``Product.stock`` goes, the variants' stock stays. Forward, every product
keeps its number on its default variant (one missing its default variant gets it, with the
product's stock; one that has it keeps the variant's stock, which checkout has been selling from).
Reversing puts ``Product.stock`` back with each default variant's stock."""

from django.db import migrations, models


def keep_stock_on_default_variants(apps, schema_editor):
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
    default_stock = Variant.objects.filter(product=models.OuterRef("pk"), is_default=True).values("stock")
    Product.objects.update(stock=models.functions.Coalesce(models.Subquery(default_stock), 0))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_default_variants")]

    operations = [
        migrations.RunPython(keep_stock_on_default_variants, restore_product_stock),
        migrations.RemoveConstraint(model_name="product", name="product_stock_not_negative"),
        migrations.RemoveField(model_name="product", name="stock"),
        migrations.AlterField(
            model_name="variant",
            name="low_stock_threshold",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="“Only N left” on the card at or under this many; empty: 10; 0: never.",
                null=True,
                verbose_name="low-stock threshold",
            ),
        ),
    ]
