"""Show analytics: roll-ups of what viewers' players report (analytics.ingest buffers it in
Redis, analytics.flush writes it here in bulk). The dashboard reads these tables only.

A *stream* is what one viewer watches: a live event (``live:<event id>``) or a recording, an
event's replay or an uploaded video (``replay:<recording id>``); live and replay never mix. A
*viewer* is a keyed hash of the signed-in user or of the first-party cookie's random id
(liveshop.viewer_id), so a refresh or a second tab is the same viewer and no cookie value is
stored."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Organization
from catalog.models import Product
from events.models import Highlight, LiveEvent
from recordings.models import ProductCue, Recording


class Source(models.TextChoices):
    LIVE = "live", "Live show"
    REPLAY = "replay", "Replay or video"


class StreamFields(models.Model):
    """Which stream a row counts: its key, brand, event (live, or the replay's event), recording."""

    organization_field = "organization"

    stream = models.CharField(max_length=24)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    recording = models.ForeignKey(
        Recording, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    viewer = models.CharField(max_length=32)

    class Meta:
        abstract = True


class WatchMinute(StreamFields):
    """One viewer's playing time on one stream within one wall-clock minute (heartbeats; paused
    time is never reported), and for a replay the furthest point of the video reached in it."""

    minute = models.DateTimeField()
    watched_ms = models.PositiveIntegerField(default=0)
    position_s = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream", "viewer", "minute"], name="watch_minute_once")
        ]
        indexes = [models.Index(fields=["stream", "minute"]), models.Index(fields=["event", "source"])]

    def __str__(self):
        return f"{self.viewer} on {self.stream} at {self.minute:%H:%M}: {self.watched_ms} ms"


class ViewerInteraction(StreamFields):
    """What one viewer did with one product on one stream, and how often: the card shown to them
    (impression), clicked, added to the cart, bought. One row per viewer, kind, product and moment
    (the highlight on a live show, the cue on a replay): what recommendations learn from too."""

    class Kind(models.TextChoices):
        IMPRESSION = "impression", "Card shown"
        CLICK = "click", "Card clicked"
        ADD_TO_CART = "add_to_cart", "Added to cart"
        PURCHASE = "purchase", "Bought"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    highlight = models.ForeignKey(
        Highlight, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    cue = models.ForeignKey(ProductCue, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    moment = models.CharField(max_length=24, blank=True)  # "h<highlight id>", "c<cue id>" or ""
    count = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "viewer", "kind", "product", "moment"], name="viewer_interaction_once"
            )
        ]
        indexes = [models.Index(fields=["stream", "kind"]), models.Index(fields=["highlight", "kind"])]

    def __str__(self):
        return f"{self.viewer} {self.kind} {self.product_id} on {self.stream} x{self.count}"


class DroppedBeacon(models.Model):
    """Beacon items refused (unknown stream, too frequent, late, duplicate batch...), counted by
    stream (blank when the stream itself was unknown) and reason, never silently lost."""

    stream = models.CharField(max_length=24, blank=True)
    reason = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "reason"], name="dropped_beacon_once")]

    def __str__(self):
        return f"{self.stream or '?'} {self.reason}: {self.count}"


class FlushedBatch(models.Model):
    """A buffer batch already written: flushing it again (a retried task, two workers) is a no-op."""

    id = models.CharField(primary_key=True, max_length=40)
    records = models.PositiveIntegerField()
    flushed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"batch {self.id} ({self.records})"
