"""The moderation log's details as parameters (ModerationAction.params), worded when shown in
the reader's language. ``detail`` keeps the English it had, so nothing is lost: the forward step
reads the known details into parameters, the backward step drops the column."""

import re

from django.db import migrations, models

READERS = {
    "timeout": (re.compile(r"(?P<minutes>\d+) min\Z"), lambda m: {"minutes": int(m["minutes"])}),
    "slow_mode": (re.compile(r"(?:(?P<seconds>\d+) s|off)\Z"), lambda m: {"seconds": int(m["seconds"] or 0)}),
    "unban": (re.compile(r"(?P<lifted>\d+) lifted\Z"), lambda m: {"lifted": int(m["lifted"])}),
    # "3 words, refuse the message": the action's label as it was worded (lower-cased) then.
    "word_list": (re.compile(r"(?P<words>\d+) words?(?:, (?P<action>.*))?\Z"), None),
}
ACTIONS = {"refuse the message": "reject", "hold it for review": "hold"}


def params_of(kind: str, detail: str) -> dict:
    reader = READERS.get(kind)
    match = reader[0].match(detail) if reader else None
    if match is None:
        return {}
    if kind == "word_list":
        params = {"words": int(match["words"])}
        if not match["action"]:
            return params
        action = ACTIONS.get(match["action"].strip())  # another language's label: the detail stays shown
        return {**params, "action": action} if action else {}
    return reader[1](match)


def read_details(apps, schema_editor):
    ModerationAction = apps.get_model("chat", "ModerationAction")
    for row in ModerationAction.objects.exclude(detail="").only("pk", "kind", "detail").iterator():
        params = params_of(row.kind, row.detail)
        if params:
            ModerationAction.objects.filter(pk=row.pk).update(params=params)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0007_reaction_second_stamp"),
    ]

    operations = [
        migrations.AddField(
            model_name="moderationaction",
            name="params",
            field=models.JSONField(blank=True, db_default={}, default=dict),
        ),
        migrations.RunPython(read_details, migrations.RunPython.noop),
    ]
