from django.core.management.base import CommandError

from accounts.models import Organization


def brand_named(slug: str) -> Organization:
    """The brand with ``slug``, or a CommandError saying there is none."""
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise CommandError(f"No brand has the slug {slug!r}.")
    return organization
