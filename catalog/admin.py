from django.contrib import admin
from django.db import models
from django.db.models import Q, Sum
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from accounts.admin import BrandScopedAdmin, BrandScopedInline
from accounts.permissions import Action
from catalog.forms import NewProductAdminForm, ProductAdminForm
from catalog.models import Product, Variant
from catalog.services import attach_product_image, remove_product_image
from catalog.variants import ensure_default_variant, stock_changed_on_commit


class VariantFormSet(BaseInlineFormSet):
    """SKUs unique within the brand, checked here (the form knows no brand): against each other,
    the product's own SKU (its default variant's) and the brand's other variants."""

    def clean(self):
        super().clean()
        product = self.instance
        rows = [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None) and not form.cleaned_data.get("DELETE")
        ]
        seen: set[str] = set()
        for form in rows:
            sku, variant = form.cleaned_data.get("sku"), form.instance
            taken = Variant.objects.filter(organization_id=product.organization_id, sku=sku).exclude(
                pk__in=[row.instance.pk for row in rows if row.instance.pk]
            )
            if variant.is_default and sku != product.sku:
                form.add_error("sku", "The default variant's SKU is the product's: change that instead.")
            elif sku in seen or (sku == product.sku and not variant.is_default) or taken.exists():
                form.add_error("sku", "Another variant of this brand has this SKU.")
            seen.add(sku)


class VariantInline(BrandScopedInline):
    """The product's variants (sizes, colours), each with its SKU, price override and stock. The
    default variant (the product's own SKU) is made when the product is saved."""

    model = Variant
    formset = VariantFormSet
    fields = ["label", "sku", "price_override", "stock", "low_stock_threshold", "is_active", "is_default"]
    readonly_fields = ["is_default"]
    extra = 0

    def has_add_permission(self, request, obj=None):
        return self._may(request, Action.EDIT_CATALOG, obj)

    def has_change_permission(self, request, obj=None):
        return self._may(request, Action.EDIT_CATALOG, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, Action.EDIT_CATALOG, obj)


@admin.register(Product)
class ProductAdmin(BrandScopedAdmin):
    form = ProductAdminForm
    inlines = [VariantInline]
    list_display = [
        "thumbnail_preview",
        "name",
        "sku",
        "external_id",
        "organization",
        "price_with_currency",
        "stock_total",
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
        "external_url",
        "is_active",
        "image",
        "image_preview",
    ]
    readonly_fields = ["image_preview"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        active = Q(variants__is_active=True)
        return super().get_queryset(request).annotate(stock_total=Sum("variants__stock", filter=active))

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:  # a new product's stock is its default variant's, made on save
            kwargs["form"] = NewProductAdminForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None:
            return fields
        price = fields.index(("price", "currency"))
        return [*fields[: price + 1], "stock", *fields[price + 1 :]]

    @admin.display(description="Stock", ordering="stock_total")
    def stock_total(self, product):
        """Units across the product's active variants."""
        return product.stock_total or 0

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
        ensure_default_variant(product=obj, stock=form.cleaned_data.get("stock"))
        if change:  # its card changed (active, price): the viewers' stock frames say so too
            stock_changed_on_commit([obj.pk])
        # The form keeps image changes off the instance: the service stores them with a thumbnail.
        if form.image_change:
            attach_product_image(
                product=obj, content=form.image_change, filename=form.image_change.name, by=request.user
            )
        elif form.image_change is False:
            remove_product_image(product=obj, by=request.user)

    def save_formset(self, request, form, formset, change):
        # A new variant takes its product's brand (the SKU is unique per brand).
        for variant in formset.save(commit=False):
            variant.organization_id = variant.product.organization_id
            variant.save()
        for variant in formset.deleted_objects:
            if not variant.is_default:
                variant.delete()
        formset.save_m2m()
        if formset.has_changed():  # stock, or which variants are on sale: tell the viewers
            stock_changed_on_commit([form.instance.pk])
