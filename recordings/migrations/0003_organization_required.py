# The organization column is filled by 0002; required from here on (a separate migration, so
# PostgreSQL's deferred foreign-key checks from 0002's update have run before the ALTER TABLE).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('recordings', '0002_uploaded_videos'),
    ]

    operations = [
        migrations.AlterField(
            model_name='recording',
            name='organization',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='recordings', to='accounts.organization'),
        ),
    ]
