from django.core.management.base import BaseCommand, CommandError

from commerce import payments, refunds


class Command(BaseCommand):
    help = (
        "The local test payment provider (PAYMENT_BACKEND=test) settles refunds as Stripe does "
        "later: each pending one (paid with 4000 0000 0000 7726) succeeds, one paid with "
        "4000 0000 0000 5126 fails; their events reach the webhook code like Stripe's. Without ids, "
        "every pending refund of the test provider. (Celery beat settles those pending for a "
        "minute by itself: commerce.tasks.settle_test_refunds_task.)"
    )

    def add_arguments(self, parser):
        parser.add_argument("refund_ids", nargs="*", help="the test provider's refund ids (tpre_...)")

    def handle(self, *args, refund_ids, **options):
        if payments.get_payment_backend().name != "test":
            raise CommandError("Only the test provider settles refunds here: Stripe settles its own.")
        refund_ids = refund_ids or refunds.pending_test_refunds()
        for refund_id in refund_ids:
            try:
                [(_id, status)] = refunds.settle_test_refunds([refund_id])
            except payments.PaymentBackendError as exc:
                raise CommandError(f"{refund_id}: {exc}") from None
            self.stdout.write(f"{refund_id}: {status}")
        self.stdout.write(f"{len(refund_ids)} refund(s) settled.")
