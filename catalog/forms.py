from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models

from catalog import images
from catalog.models import Product

# CSV column -> model field. The header must name the required columns; the others may be left
# out (a new product then gets the default, an existing one keeps its value).
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
    """One row of a product import file. Bound with the product it updates (or a new one of the
    brand), so model validation (ISO 4217 currency, stock and price >= 0, lengths) runs too."""

    is_active = YesNoField(label="active")

    class Meta:
        model = Product
        fields = list(IMPORT_COLUMNS.values())
        formfield_callback = https_by_default

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()


class ProductAdminForm(forms.ModelForm):
    """The admin's product form. A new or cleared image is left off the instance and kept in
    ``image_change`` (an upload, ``False`` for "clear", ``None`` for no change), because the
    admin stores it through catalog.services, which also makes the thumbnail."""

    class Meta:
        model = Product
        fields = [*IMPORT_COLUMNS.values(), "organization", "image"]
        formfield_callback = https_by_default

    def clean_image(self):
        image = self.cleaned_data.get("image")
        if isinstance(image, UploadedFile):
            images.check_image(image, filename=image.name)
        return image

    def clean(self):
        cleaned = super().clean()
        image = cleaned.pop("image", None)
        self.image_change = image if "image" in self.changed_data else None
        return cleaned
