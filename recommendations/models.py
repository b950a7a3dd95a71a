"""The local recommender's trained model, one per brand (recommendations.learning.Model as JSON:
each product's related products and the products by popularity)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.models import Organization
from catalog.models import Product
from commerce.models import Cart


class TrainedModel(models.Model):
    organization_field = "organization"

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="recommender_model"
    )
    trained_at = models.DateTimeField()
    interactions = models.PositiveIntegerField(help_text="Interactions it learned from.")
    products = models.PositiveIntegerField(help_text="Products with related products.")
    data = models.JSONField()

    class Meta:
        verbose_name = "trained recommender"

    def __str__(self):
        return f"Recommender of {self.organization} ({self.trained_at:%Y-%m-%d %H:%M})"


class ForgottenPerson(models.Model):
    """Someone whose interactions a brand deleted (privacy): what cannot be deleted (their paid
    orders) is never learned from or sent to Personalize again. ``person`` as interactions.py keys
    people (``user:<id>``, ``email:<keyed hash>``)."""

    organization_field = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    person = models.CharField(max_length=64)
    forgotten_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "person"], name="forgotten_once")]

    def __str__(self):
        return f"{self.person} forgotten by {self.organization_id}"


class StreamCursor(models.Model):
    """How far interactions have been streamed to Amazon Personalize (PutEvents), per brand."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    sent_until = models.DateTimeField()

    def __str__(self):
        return f"{self.organization_id}: sent until {self.sent_until:%Y-%m-%d %H:%M:%S}"


class OfferSettings(models.Model):
    """A brand's personalised offers: each viewer's top-ranked lineup product at up to
    ``max_percent`` off for ``minutes`` (0 percent: no offers)."""

    organization_field = "organization"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="offer_settings")
    max_percent = models.PositiveSmallIntegerField(
        "maximum discount (%)",
        default=0,
        validators=[MaxValueValidator(50)],
        help_text="A viewer's personal offer is at most this much off (0: no offers).",
    )
    minutes = models.PositiveSmallIntegerField(
        "offer lasts (minutes)", default=30, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )

    class Meta:
        verbose_name = "personalised offer settings"
        verbose_name_plural = "personalised offer settings"

    def __str__(self):
        return f"Offers of {self.organization}: up to {self.max_percent}% for {self.minutes} min"


class PersonalOffer(models.Model):
    """One viewer's personal price on one product, until ``expires_at``: a signed-in viewer's
    (``user``) or an anonymous one's (their session's ``cart``). Written only by the server
    (recommendations.offers), so the viewer can change neither price, product nor expiry."""

    organization_field = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    percent_off = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(50)])
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, cart__isnull=True)
                | models.Q(user__isnull=True, cart__isnull=False),
                name="offer_for_a_user_or_a_cart",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "organization", "-created_at"], name="offer_user_recent"),
            models.Index(fields=["cart", "-created_at"], name="offer_cart_recent"),
        ]

    def __str__(self):
        return f"{self.percent_off}% off {self.product_id} for {self.user_id or f'cart {self.cart_id}'}"
