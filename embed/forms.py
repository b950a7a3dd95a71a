from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from embed.models import EmbedSettings
from embed.origins import parse_origins


class EmbedSettingsForm(forms.ModelForm):
    """The studio's and the admin's form: the allow-list checked and normalised line by line."""

    class Meta:
        model = EmbedSettings
        fields = ["allowed_origins", "own_cart"]
        widgets = {"allowed_origins": forms.Textarea(attrs={"rows": 5, "spellcheck": "false"})}
        labels = {"allowed_origins": _("Allowed sites"), "own_cart": _("My own cart")}
        help_texts = {
            "allowed_origins": _("One site a line, like https://shop.example.com or https://*.example.com."),
            "own_cart": _("Add to cart sends the product's SKU to your site instead of Liveshop's checkout."),
        }

    def clean_allowed_origins(self) -> str:
        try:
            return "\n".join(parse_origins(self.cleaned_data["allowed_origins"]))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
