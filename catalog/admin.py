from django.contrib import admin
from django.db import models
from django.utils.html import format_html

from accounts.admin import BrandScopedAdmin
from catalog.forms import ProductAdminForm
from catalog.models import Product
from catalog.services import attach_product_image, remove_product_image


@admin.register(Product)
class ProductAdmin(BrandScopedAdmin):
    form = ProductAdminForm
    list_display = [
        "thumbnail_preview",
        "name",
        "sku",
        "external_id",
        "organization",
        "price_with_currency",
        "stock",
        "is_active",
    ]
    list_display_links = ["thumbnail_preview", "name"]
    list_select_related = ["organization"]
    # The changelist's queryset is scoped to the user's brands, so "related only" offers only those.
    list_filter = ["is_active", ("organization", admin.RelatedOnlyFieldListFilter), "currency"]
    search_fields = ["sku", "external_id", "name"]
    fields = [
        "organization",
        "sku",
        "external_id",
        "name",
        "description",
        ("price", "currency"),
        "stock",
        "external_url",
        "is_active",
        "image",
        "image_preview",
    ]
    readonly_fields = ["image_preview"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="Image")
    def thumbnail_preview(self, product):
        if not product.thumbnail:
            return "—"
        return format_html(
            '<img src="{}" class="liveshop-thumbnail" alt="" width="48" height="48">',
            product.thumbnail.url,
        )

    @admin.display(description="Price", ordering="price")
    def price_with_currency(self, product):
        return f"{product.price} {product.currency}"

    @admin.display(description="Preview")
    def image_preview(self, product):
        if not product.image:
            return "No image yet."
        return format_html(
            '<img src="{}" class="liveshop-preview" alt=""><br>{} x {} px',
            product.image.url,
            product.image_width or "?",
            product.image_height or "?",
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The form keeps image changes off the instance: the service stores them with a thumbnail.
        if form.image_change:
            attach_product_image(
                product=obj, content=form.image_change, filename=form.image_change.name, by=request.user
            )
        elif form.image_change is False:
            remove_product_image(product=obj, by=request.user)
