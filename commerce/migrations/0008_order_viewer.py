from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0007_order_refunds"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="viewer",
            field=models.CharField(blank=True, max_length=32),
        ),
    ]
