from django.contrib import admin
from django.db.models import Q, Sum

from accounts.admin import BrandScopedAdmin, BrandScopedInline, ReadOnlyInlineMixin
from commerce.forms import ShopSettingsForm
from commerce.models import FlashDeal, Order, OrderLine, OrderRefund, ShopSettings


class OrderLineInline(ReadOnlyInlineMixin, BrandScopedInline):
    model = OrderLine
    fields = [
        "sku",
        "name",
        "unit_price",
        "quantity",
        "currency",
        "event",
        "recording",
        "source",
        "highlight",
        "deal",
        "regular_unit_price",
    ]
    readonly_fields = fields


class OrderRefundInline(ReadOnlyInlineMixin, BrandScopedInline):
    """The provider's refunds of the order and what it last said of each (commerce.refunds)."""

    model = OrderRefund
    fields = ["refund_id", "amount", "status", "reason", "created_at", "updated_at"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(BrandScopedAdmin):
    """The brand's orders, read-only: they change through commerce.services (checkout, payment
    webhooks, cancel and refund), never by editing rows."""

    list_display = ["pk", "organization", "status", "total", "currency", "email", "created_at", "paid_at"]
    list_filter = ["status", ("organization", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["organization"]
    search_fields = ["email", "token", "payment_id"]
    inlines = [OrderLineInline, OrderRefundInline]
    readonly_fields = [
        "organization",
        "token",
        "user",
        "email",
        "status",
        "status_reason",
        "currency",
        "total",
        "payment_backend",
        "payment_id",
        "paid_at",
        "refunded_total",
        "refunded_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ShopSettings)
class ShopSettingsAdmin(BrandScopedAdmin):
    """Where a brand ships (the checkout refuses addresses elsewhere) and its low-stock default."""

    form = ShopSettingsForm
    list_display = ["organization", "countries", "low_stock"]
    list_select_related = ["organization"]

    @admin.display(description="Ships to")
    def countries(self, obj):
        return ", ".join(obj.shipping_countries) or "every country"

    @admin.display(description="Low-stock default", ordering="low_stock_threshold")
    def low_stock(self, obj):
        return "10 (not set)" if obj.low_stock_threshold is None else obj.low_stock_threshold


@admin.register(FlashDeal)
class FlashDealAdmin(BrandScopedAdmin):
    """The brand's flash deals and what each sold (paid units at the deal's price), read-only: hosts
    start and end them from the console (commerce.deals)."""

    list_display = [
        "product",
        "event",
        "price",
        "percent_off",
        "limit_per_customer",
        "starts_at",
        "ends_at",
        "sold",
    ]
    list_filter = ["ended_early", ("event__organization", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["product", "event"]
    search_fields = ["product__name", "event__title"]
    fields = [
        "event",
        "product",
        "price",
        "percent_off",
        "limit_per_customer",
        "starts_at",
        "ends_at",
        "ended_early",
        "created_by",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        paid = Q(order_lines__order__status=Order.Status.PAID)
        return super().get_queryset(request).annotate(sold_units=Sum("order_lines__quantity", filter=paid))

    @admin.display(description="Units sold", ordering="sold_units")
    def sold(self, deal):
        return deal.sold_units or 0

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
