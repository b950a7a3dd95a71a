"""The studio's product form and its variants formset (catalog.studio): every SKU clash within the
brand is a form error here, never an IntegrityError at save.

A product's SKU is its default variant's (catalog.variants.ensure_default_variant keeps them
equal), so the default variant's row has no SKU field of its own; a product may not take the SKU
of one of the brand's other variants, and no two variants of the brand share one."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet, inlineformset_factory
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from catalog.forms import https_by_default
from catalog.models import Product, Variant
from catalog.variants import variant_skus_taken

SKU_TAKEN = "Another product or variant of this brand has this SKU."


class OptionsField(forms.CharField):
    """A variant's options typed as ``size=M, colour=red`` (stored as a dict)."""

    default_error_messages = {
        "invalid": _("Write options as name=value pairs, separated by commas (size=M, colour=red)."),
    }

    def prepare_value(self, value):
        if isinstance(value, dict):
            return ", ".join(f"{name}={option}" for name, option in value.items())
        return value

    def has_changed(self, initial, data) -> bool:
        try:
            return (initial or {}) != self.to_python(data)
        except ValidationError:
            return True

    def to_python(self, value) -> dict:
        text = super().to_python(value)
        options = {}
        for pair in filter(None, (part.strip() for part in text.split(","))):
            name, equals, option = (piece.strip() for piece in pair.partition("="))
            if not (equals and name and option):
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            options[name] = option
        return options


class StudioProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["name", "sku", "description", "price", "currency", "external_url", "is_active"]
        formfield_callback = https_by_default
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        labels = {
            "name": _("Name"),
            "sku": _("SKU"),
            "description": _("Description"),
            "price": _("Price"),
            "currency": _("Currency"),
            "external_url": _("Product page"),
            "is_active": _("On sale"),
        }
        help_texts = {"external_url": _("The product's page on your shop (http:// or https://).")}

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()

    def clean_sku(self):
        sku, product = self.cleaned_data["sku"], self.instance
        others = Product.objects.filter(organization_id=product.organization_id, sku=sku).exclude(
            pk=product.pk
        )
        if others.exists():
            raise ValidationError(SKU_TAKEN, code="unique")
        variant = variant_skus_taken(product.organization_id, [sku]).get(sku)
        if variant is not None:
            raise ValidationError(
                gettext("“%(sku)s” is the SKU of a variant of %(name)s.")
                % {"sku": sku, "name": variant.product.name},
                code="unique",
            )
        return sku


class StudioVariantForm(forms.ModelForm):
    options = OptionsField(required=False, help_text=_("e.g. size=M, colour=red"))
    # The stock shown when the page was drawn rides along, so a change is applied as a difference:
    # units sold while the form was open are not put back by saving it.
    stock = forms.IntegerField(min_value=0, show_hidden_initial=True)

    class Meta:
        model = Variant
        fields = ["label", "options", "sku", "price_override", "stock", "low_stock_threshold", "is_active"]
        labels = {"price_override": _("Price"), "is_active": _("On sale")}
        help_texts = {"price_override": _("Empty: the product's price.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.is_default:  # its SKU is the product's
            self.fields["sku"].required = False
            self.fields["sku"].disabled = True


class StudioVariantFormSet(BaseInlineFormSet):
    """The product's variants: SKUs unique among the rows, against the product's own SKU and
    every other variant of the brand; a variant with orders cannot be deleted (take it off sale),
    and the default one has no Delete box."""

    def clean(self):
        super().clean()
        product = self.instance
        kept = [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None) and form not in self.deleted_forms
        ]
        # Other products' SKUs are their default variants' SKUs: one query sees both.
        others = Variant.objects.filter(organization_id=product.organization_id).exclude(product=product)
        elsewhere = set(others.values_list("sku", flat=True))
        seen = {product.sku}
        for form in kept:
            if form.instance.is_default:
                continue
            sku = form.cleaned_data.get("sku")
            if sku in seen or sku in elsewhere:
                form.add_error("sku", SKU_TAKEN)
            seen.add(sku)
        deleted = [form.instance for form in self.deleted_forms if form.instance.pk]
        undeletable = [variant for variant in deleted if variant.reservations.exists()]
        if undeletable:
            names = ", ".join(variant.label or variant.sku for variant in undeletable)
            raise ValidationError(
                gettext("%(variants)s: has orders, so take it off sale instead of deleting it.")
                % {"variants": names}
            )

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if form.instance.is_default:  # the product's own variant goes with the product only
            del form.fields["DELETE"]


VariantFormSet = inlineformset_factory(
    Product, Variant, form=StudioVariantForm, formset=StudioVariantFormSet, extra=1, can_delete=True
)
