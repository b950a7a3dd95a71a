from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from recommendations.models import OfferSettings


class OfferSettingsForm(forms.ModelForm):
    class Meta:
        model = OfferSettings
        fields = ["max_percent", "minutes"]
        labels = {"max_percent": _("Maximum discount (%)"), "minutes": _("Offer lasts (minutes)")}
        help_texts = {"max_percent": _("A viewer's personal offer is at most this much off (0: no offers).")}


class ForgetPersonForm(forms.Form):
    """Whom to forget: exactly one account's e-mail, and a confirmation."""

    email = forms.EmailField(label=_("Their account's e-mail"))
    confirm = forms.BooleanField(
        label=_("Yes, delete what the recommender knows of this person (it cannot be undone)")
    )

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        users = list(get_user_model().objects.filter(email__iexact=email)[:2])
        if len(users) != 1:
            raise forms.ValidationError(
                _("No account has this e-mail.") if not users else _("Several accounts have this e-mail.")
            )
        self.user = users[0]
        return email
