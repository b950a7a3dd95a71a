from django.conf import settings
from django.db import models

from accounts.models import Organization
from catalog.models import Product
from events.models import Highlight, LiveEvent


class ProductFeatures(models.Model):
    """The local detector's index entry of one product image: ORB keypoints (float32 x, y pairs)
    and descriptors (32 bytes each), about 25 KB a product. Rebuilt when the image changes
    (``source`` and ``digest`` no longer match it: discovery.index.index_product)."""

    organization_field = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="discovery_features")
    source = models.CharField(max_length=255)  # the image's storage name it was built from
    digest = models.CharField(max_length=64)  # SHA-256 of the image's bytes
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    count = models.PositiveIntegerField()
    points = models.BinaryField()
    descriptors = models.BinaryField()
    built_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "product features"
        indexes = [models.Index(fields=["organization", "-built_at"])]

    def __str__(self):
        return f"{self.product_id}: {self.count} features"


class EventDiscovery(models.Model):
    """A live event's detector settings: on or off, and automatic mode (feature a product that
    has been on screen long enough). Automatic features are made in the name of ``auto_by``, the
    host who switched it on (their role is checked at every feature)."""

    organization_field = "event__organization"

    event = models.OneToOneField(LiveEvent, on_delete=models.CASCADE, related_name="discovery")
    enabled = models.BooleanField(default=True)
    auto_feature = models.BooleanField(default=False)
    auto_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "event discovery settings"

    def __str__(self):
        return f"{self.event}: {'on' if self.enabled else 'off'}{', automatic' if self.auto_feature else ''}"


class AutoFeature(models.Model):
    """A highlight the detector made in automatic mode (so a host's own features, which auto mode
    never overrides within MANUAL_GRACE_SECONDS, can be told from its own)."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="+")
    highlight = models.OneToOneField(Highlight, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"auto {self.highlight_id}"
