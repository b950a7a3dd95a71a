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
