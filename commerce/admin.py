from django.contrib import admin

from accounts.admin import BrandScopedAdmin, BrandScopedInline, ReadOnlyInlineMixin
from commerce.models import Order, OrderLine


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
