"""Orders' status notes as a code and its parameters (commerce.status_notes), worded in the
reader's language when shown. The English status_reason stays as it was, so nothing is lost:
the forward step reads the known wordings into codes, the backward step drops the new columns."""

import re

from django.db import migrations, models

KNOWN = [
    (re.compile(r"Replaced by a new checkout\.\Z"), "replaced"),
    (re.compile(r"The reservation expired before payment\.\Z"), "expired"),
    (re.compile(r"Paid after its reservation ended, and the stock was gone: refund it\.\Z"), "paid_too_late"),
    (
        re.compile(r"The refund failed at the payment provider \((?P<reason>.*)\): refund it again\.\Z"),
        "refund_failed",
    ),
    (
        re.compile(
            r"A refund of (?P<amount>\d+(?:\.\d+)?) (?P<currency>[A-Z]{3}) failed at the payment provider"
            r" \((?P<reason>.*)\)\.\Z"
        ),
        "part_refund_failed",
    ),
]


def note_of(status: str, reason: str) -> tuple[str, dict]:
    for pattern, code in KNOWN:
        match = pattern.match(reason)
        if match:
            params = match.groupdict()
            if params.get("reason") == "no reason given":
                params["reason"] = ""
            return code, params
    if status == "failed":  # the provider's words, or our default
        return "payment_failed", {"reason": "" if reason == "The payment failed." else reason}
    return "", {}


def read_notes(apps, schema_editor):
    Order = apps.get_model("commerce", "Order")
    for order in Order.objects.exclude(status_reason="").only("pk", "status", "status_reason").iterator():
        code, params = note_of(order.status, order.status_reason)
        if code:
            Order.objects.filter(pk=order.pk).update(status_note=code, status_params=params)


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0009_order_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="status_note",
            field=models.CharField(blank=True, db_default="", default="", max_length=32),
        ),
        migrations.AddField(
            model_name="order",
            name="status_params",
            field=models.JSONField(blank=True, db_default={}, default=dict),
        ),
        migrations.RunPython(read_notes, migrations.RunPython.noop),
    ]
