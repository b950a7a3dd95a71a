"""Privacy: delete what a brand's recommender knows of one person (by their account's e-mail)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from recommendations.management import brand_named
from recommendations.services import forget_person_as_operator


class Command(BaseCommand):
    help = "Delete a person's interactions at a brand and never learn from their orders again."

    def add_arguments(self, parser):
        parser.add_argument("brand", help="The brand's slug.")
        parser.add_argument("email", help="The person's account e-mail.")

    def handle(self, *args, brand, email, **options):
        organization = brand_named(brand)
        users = list(get_user_model().objects.filter(email__iexact=email.strip()))
        if len(users) != 1:
            raise CommandError(f"{len(users) or 'No'} accounts have the e-mail {email!r}: name exactly one.")
        deleted = forget_person_as_operator(organization=organization, user=users[0])
        self.stdout.write(
            f"Forgot {email} at {organization.name}: {deleted} interactions deleted; their orders "
            "are no longer learned from. The model was retrained."
        )
