from django.core.management.base import BaseCommand

from commerce.services import release_expired_reservations


class Command(BaseCommand):
    help = (
        "Expire the pending orders whose stock reservation has run out and put that stock back on "
        "sale; each one's payment is then canceled at the provider (a queued task), so a late "
        "payment is refused (Celery beat does it every minute; this is for running it by hand or "
        "from cron)."
    )

    def handle(self, *args, **options):
        count = release_expired_reservations()
        self.stdout.write(
            f"{count} order(s) expired; their stock is back on sale and their payments are being canceled."
        )
