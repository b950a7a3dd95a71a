"""The local recommender's trained model, one per brand (recommendations.learning.Model as JSON:
each product's related products and the products by popularity)."""

from __future__ import annotations

from django.db import models

from accounts.models import Organization


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
