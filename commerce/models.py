"""Carts, orders and stock reservations. Money is Decimal in the product's currency; an order has
one currency and its lines are snapshots (a later price or name change never alters it)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.models import Product, Variant
from commerce import status_notes
from commerce.countries import COUNTRIES
from events.models import Highlight, LiveEvent
from recordings.models import ProductCue, Recording


class Source(models.TextChoices):
    LIVE = "live", "Live show"
    REPLAY = "replay", "Replay or video"


class Attribution(models.Model):
    """Where a line was added: the event or the video (recording), live or replay, and the
    highlight on screen at that moment (empty between products)."""

    event = models.ForeignKey(LiveEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    recording = models.ForeignKey(
        Recording, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    highlight = models.ForeignKey(
        Highlight, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # On a replay or video: the product cue on screen at the viewer's position.
    cue = models.ForeignKey(ProductCue, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        abstract = True


def validate_country_codes(value) -> None:
    if not isinstance(value, list) or any(code not in COUNTRIES for code in value):
        raise ValidationError('Give a list of ISO 3166-1 alpha-2 country codes, e.g. ["GB", "FR"].')


# The highest low-stock default a brand may choose: "only 10,000 left" is no longer scarcity.
MAX_LOW_STOCK_THRESHOLD = 10_000


class ShopSettings(models.Model):
    """A brand's shop: the countries it ships to (checkout refuses other addresses) and when its
    cards say "only N left" (catalog.Variant.threshold, for variants that set no threshold)."""

    organization_field = "organization"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="shop_settings")
    shipping_countries = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_country_codes],
        help_text="ISO codes of the countries the brand ships to; empty: every country.",
    )
    low_stock_threshold = models.PositiveIntegerField(
        "low-stock default",
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_LOW_STOCK_THRESHOLD)],
        help_text=(
            "Cards say “only N left” at or under this many, for every variant without its own "
            "threshold; empty: 10; 0: never."
        ),
    )

    class Meta:
        verbose_name = verbose_name_plural = "shop settings"

    def __str__(self):
        return f"Shop settings of {self.organization}"


class Cart(models.Model):
    """A buyer's cart at one brand: an anonymous viewer's (its id kept in their session) or a
    signed-in user's (at most one per brand)."""

    organization_field = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="carts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="carts"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=models.Q(user__isnull=False),
                name="one_cart_per_user_and_brand",
            )
        ]

    def __str__(self):
        return f"Cart {self.pk} at {self.organization_id}"


class CartLine(Attribution):
    organization_field = "cart__organization"

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [models.UniqueConstraint(fields=["cart", "variant"], name="one_line_per_variant")]

    def __str__(self):
        return f"{self.quantity} x {self.variant_id}"


class Order(models.Model):
    """What a buyer pays for. ``token`` (random) names it to its buyer (order status without an
    account); ``payment_id`` is the payment provider's (a PaymentIntent id on Stripe)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting payment")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")
        EXPIRED = "expired", _("Expired (stock released)")
        CANCELED = "canceled", _("Canceled")
        REFUNDED = "refunded", _("Refunded")
        # Paid after its reservation had been released, and the stock was gone by then.
        NEEDS_REFUND = "needs_refund", _("Paid but sold out: refund due")

    organization_field = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="orders")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cart = models.ForeignKey(Cart, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    email = models.EmailField(blank=True)
    # The buyer as analytics counts viewers (liveshop.viewer_id.counting_id: the signed-in user or
    # the player's cookie id, hashed; "" when the browser had neither): purchases per viewer.
    viewer = models.CharField(max_length=32, blank=True)
    # The language of the page the buyer checked out on (LANGUAGES): the confirmation is in it.
    language = models.CharField(max_length=16, blank=True, default="", db_default="")
    # The shipping address the buyer gave at checkout (country: ISO 3166-1 alpha-2).
    full_name = models.CharField(max_length=200, blank=True)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    region = models.CharField("state or region", max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=300, blank=True)  # English: the admin's, logs'
    # Why it has its status, worded when shown in the reader's language (commerce.status_notes).
    status_note = models.CharField(max_length=32, blank=True, default="", db_default="")
    status_params = models.JSONField(default=dict, blank=True, db_default={})
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    payment_backend = models.CharField(max_length=20)
    payment_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # Set when the confirmation e-mail went out: a redelivered payment event never sends another.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    # The provider's refund (a Stripe re_... id) once the studio refunded the order (commerce.refunds).
    refund_id = models.CharField(max_length=100, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    # Money given back in part while the order stays paid (commerce.refunds.refund_part_with_provider);
    # a full refund gives back the rest.
    refunded_total = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment_backend", "payment_id"],
                condition=~models.Q(payment_id=""),
                name="order_payment_id_unique",
            ),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_not_negative"),
        ]
        indexes = [models.Index(fields=["organization", "status", "-created_at"])]

    def __str__(self):
        return f"Order {self.pk} ({self.get_status_display()})"

    @property
    def status_note_text(self) -> str:
        """Why it has its status, in the active language (status_reason for an older row)."""
        return status_notes.wording(self.status_note, self.status_params or {}, self.status_reason)


class OrderLine(Attribution):
    """A snapshot of one line at checkout: the price the server held then, never the page's."""

    organization_field = "order__organization"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.SET_NULL, null=True, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=300)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    currency = models.CharField(max_length=3)
    # The flash deal the unit price came from (commerce.deals), and the price without it.
    deal = models.ForeignKey(
        "FlashDeal", on_delete=models.SET_NULL, null=True, blank=True, related_name="order_lines"
    )
    regular_unit_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.quantity} x {self.name} ({self.sku})"

    @property
    def subtotal(self):
        return self.unit_price * self.quantity


class StockReservation(models.Model):
    """Stock taken from a variant for an order while it is paid for. Active until ``expires_at``;
    committed when the payment succeeds; released (stock given back) when it fails or expires."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Reserved"
        COMMITTED = "committed", "Sold"
        RELEASED = "released", "Released"

    organization_field = "order__organization"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reservations")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["expires_at"], condition=models.Q(status="active"), name="active_reservation_expiry"
            )
        ]

    def __str__(self):
        return f"{self.quantity} x {self.variant_id} for order {self.order_id} ({self.status})"


class OrderRefund(models.Model):
    """One refund of an order's payment at its provider (a Stripe re_... id), made from the studio
    or the provider's dashboard, as the provider last told us: pending until the money moves,
    then succeeded, or failed (also after succeeding). ``Order.refunded_total`` is the sum of the
    succeeded ones (commerce.refunds.record_refund keeps both)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Failed")

    organization_field = "order__organization"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    refund_id = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "refund_id"], name="order_refund_once")]

    def __str__(self):
        return f"Refund {self.refund_id} of order {self.order_id} ({self.status})"


class PaymentEvent(models.Model):
    """A payment provider's webhook event, stored once by its id: a redelivery finds it here and
    changes nothing (Stripe redelivers for up to 3 days)."""

    backend = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=40)
    payment_id = models.CharField(max_length=100)
    outcome = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["backend", "event_id"], name="payment_event_once")]

    def __str__(self):
        return f"{self.backend} {self.event_id} ({self.kind})"


class FlashDeal(models.Model):
    """A host's show price for one product of a live event (each of its variants): a price or a
    percentage off from ``starts_at`` until ``ends_at`` (moved to the moment it was ended early or
    replaced), at most ``limit_per_customer`` units per buyer when set. See commerce.deals."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="flash_deals")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="flash_deals")
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    percent_off = models.PositiveSmallIntegerField(null=True, blank=True)
    limit_per_customer = models.PositiveIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ended_early = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gt=0, percent_off=None)
                | models.Q(price=None, percent_off__gte=1, percent_off__lte=90),
                name="flash_deal_price_or_percent_off",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gte=models.F("starts_at")), name="flash_deal_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["event", "product", "-ends_at"], name="flash_deal_by_product")]

    def __str__(self):
        off = f"{self.percent_off}% off" if self.percent_off else f"at {self.price}"
        return f"Deal {off} on {self.product_id} in event {self.event_id}"
