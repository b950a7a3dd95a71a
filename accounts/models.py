from django.conf import settings
from django.db import models

from accounts.time_zones import DEFAULT_TIME_ZONE, validate_time_zone, zone_of


class Organization(models.Model):
    """A brand: it owns products and live events; people belong to it through memberships."""

    # Brand-owned models name the path to their organization in ``organization_field``;
    # accounts.permissions scopes every queryset through it.
    organization_field = "id"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    # Where the brand is: the studio shows and takes its times (a show's start) in this zone;
    # the database keeps every time in UTC.
    time_zone = models.CharField(
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        db_default=DEFAULT_TIME_ZONE,  # rows written without it (older code, data migrations) are UTC
        validators=[validate_time_zone],
        help_text="The brand's time zone (IANA name, e.g. Europe/Berlin) for the studio's times.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def zone(self):
        """The brand's time zone as a tzinfo (UTC for a name this machine does not know)."""
        return zone_of(self.time_zone)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        HOST = "host", "Host"
        MODERATOR = "moderator", "Moderator"

    organization_field = "organization"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="one_membership_per_user_and_brand"
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()} of {self.organization})"


class SignInLink(models.Model):
    """A one-time link that signs its e-mail address in (creating a viewer account on first use).
    Only a keyed hash of its secret is stored; it works once, before ``expires_at``."""

    email = models.EmailField()
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    next_url = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["email", "-created_at"])]

    def __str__(self):
        return f"Sign-in link for {self.email}"
