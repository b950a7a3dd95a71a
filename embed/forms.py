from django import forms
from django.core.exceptions import ValidationError

from embed.models import EmbedSettings
from embed.origins import parse_origins


class EmbedSettingsForm(forms.ModelForm):
    """The studio's and the admin's form: the allow-list checked and normalised line by line."""

    class Meta:
        model = EmbedSettings
        fields = ["allowed_origins", "own_cart"]
        widgets = {"allowed_origins": forms.Textarea(attrs={"rows": 5, "spellcheck": "false"})}

    def clean_allowed_origins(self) -> str:
        try:
            return "\n".join(parse_origins(self.cleaned_data["allowed_origins"]))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
