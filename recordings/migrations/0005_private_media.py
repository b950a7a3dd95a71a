"""Media requests find their recording by ``cdn_prefix`` (recordings.selectors.get_recording_for_media):
uploaded videos transcoded before it existed get theirs from their master playlist's folder (their
files stay where they are, served through the same permission check), then it becomes unique."""

import posixpath

from django.db import migrations, models


def fill_upload_prefixes(apps, schema_editor):
    Recording = apps.get_model("recordings", "Recording")
    for recording in Recording.objects.filter(cdn_prefix="").exclude(master_path="").only("master_path"):
        recording.cdn_prefix = posixpath.dirname(recording.master_path)
        recording.save(update_fields=["cdn_prefix"])


class Migration(migrations.Migration):
    dependencies = [("recordings", "0004_job_lease")]

    operations = [
        migrations.RunPython(fill_upload_prefixes, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="recording",
            constraint=models.UniqueConstraint(
                condition=models.Q(("cdn_prefix", ""), _negated=True),
                fields=("cdn_prefix",),
                name="recording_cdn_prefix_unique",
            ),
        ),
    ]
