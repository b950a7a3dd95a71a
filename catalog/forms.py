from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models

from catalog import images
from catalog.models import Product
from catalog.variants import variant_skus_taken

# CSV column -> model field: the product's, except ``stock``, which is the stock of the row's
# variant (the default variant on a row without one; catalog.variants). The header must name the
# required columns; the others may be left out (a new product then gets the default, an existing
# one keeps its value).
IMPORT_COLUMNS = {
    "sku": "sku",
    "name": "name",
    "description": "description",
    "price": "price",
    "currency": "currency",
    "stock": "stock",
    "external_url": "external_url",
    "active": "is_active",
    "external_id": "external_id",  # another system's id (e.g. the retail demo's UUIDs)
}
STOCK_COLUMN = "stock"
PRODUCT_IMPORT_FIELDS = [field for column, field in IMPORT_COLUMNS.items() if column != STOCK_COLUMN]
REQUIRED_IMPORT_COLUMNS = ("sku", "name", "price")
# Columns where an empty cell means "keep the current value" (or the default for a new product):
# an empty currency, stock or active flag is never meant literally.
KEEP_IF_EMPTY_COLUMNS = ("currency", "stock", "active")

TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0"})


def https_by_default(db_field, **kwargs):
    """Form fields for ``db_field``; a URL typed without a scheme gets https://."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class YesNoField(forms.Field):
    """A boolean written in a spreadsheet: yes/no, true/false, y/n or 1/0, any case."""

    default_error_messages = {"invalid": "Enter yes or no (or true/false, 1/0)."}

    def to_python(self, value):
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValidationError(self.error_messages["invalid"], code="invalid")


class ProductImportForm(forms.ModelForm):
    """One row of a product import file (its product's columns). Bound with the product it
    updates (or a new one of the brand), so model validation (ISO 4217 currency, price >= 0,
    lengths) runs too."""

    is_active = YesNoField(label="active")

    class Meta:
        model = Product
        fields = PRODUCT_IMPORT_FIELDS
        formfield_callback = https_by_default

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()


class ProductAdminForm(forms.ModelForm):
    """The admin's product form. A new or cleared image is left off the instance and kept in
    ``image_change`` (an upload, ``False`` for "clear", ``None`` for no change), because the
    admin stores it through catalog.services, which also makes the thumbnail."""

    class Meta:
        model = Product
        fields = [*PRODUCT_IMPORT_FIELDS, "organization", "image"]
        formfield_callback = https_by_default

    def clean_image(self):
        image = self.cleaned_data.get("image")
        if isinstance(image, UploadedFile):
            images.check_image(image, filename=image.name)
        return image

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        sku = cleaned.get("sku")
        variant = variant_skus_taken(organization.pk, [sku]).get(sku) if organization and sku else None
        if variant is not None:
            self.add_error("sku", f"“{sku}” is the SKU of a variant of {variant.product.name}.")
        image = cleaned.pop("image", None)
        self.image_change = image if "image" in self.changed_data else None
        return cleaned


class NewProductAdminForm(ProductAdminForm):
    """The admin's add form: a new product's stock too (its default variant's; afterwards the
    variants inline edits every variant's stock)."""

    stock = forms.IntegerField(min_value=0, initial=0, help_text="Units in stock (its default variant's).")
