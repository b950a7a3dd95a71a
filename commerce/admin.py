from django.contrib import admin

from accounts.admin import BrandScopedAdmin, BrandScopedInline, ReadOnlyInlineMixin
from commerce.forms import ShopSettingsForm
from commerce.models import Order, OrderLine, ShopSettings


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
    ]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(BrandScopedAdmin):
    """The brand's orders, read-only: they change through commerce.services (checkout, payment
    webhooks, cancel and refund), never by editing rows."""

    list_display = ["pk", "organization", "status", "total", "currency", "email", "created_at", "paid_at"]
    list_filter = ["status", ("organization", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["organization"]
    search_fields = ["email", "token", "payment_id"]
    inlines = [OrderLineInline]
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
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ShopSettings)
class ShopSettingsAdmin(BrandScopedAdmin):
    """Where a brand ships (the checkout refuses addresses elsewhere)."""

    form = ShopSettingsForm
    list_display = ["organization", "countries"]
    list_select_related = ["organization"]

    @admin.display(description="Ships to")
    def countries(self, obj):
        return ", ".join(obj.shipping_countries) or "every country"
