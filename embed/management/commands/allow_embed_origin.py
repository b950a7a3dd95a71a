"""``manage.py allow_embed_origin <brand> <origin>``: let a site frame a brand's player."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from embed.services import allow_origin_as_operator


class Command(BaseCommand):
    help = "Add a site (https://shop.example.com) to a brand's embed allow-list."

    def add_arguments(self, parser):
        parser.add_argument("brand", help="the brand's slug")
        parser.add_argument("origin", help="the site, like https://shop.example.com")

    def handle(self, *args, brand: str, origin: str, **options):
        organization = Organization.objects.filter(slug=brand).first()
        if organization is None:
            raise CommandError(f"No brand with the slug {brand!r}.")
        try:
            saved = allow_origin_as_operator(organization=organization, origin=origin)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"{organization.name} may be embedded on: {', '.join(saved.origins)}")
