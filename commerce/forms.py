"""The checkout's details (JSON from the checkout sheet, checked field by field), and the brand's
shop settings in the admin."""

from __future__ import annotations

from django import forms
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from commerce.countries import COUNTRIES
from commerce.models import MAX_LOW_STOCK_THRESHOLD, ShopSettings


class CheckoutForm(forms.Form):
    """The buyer's e-mail, name and shipping address; ``countries`` are the brand's (the ISO codes
    it ships to: commerce.selectors.shipping_countries)."""

    email = forms.EmailField(max_length=254, error_messages={"required": _("Enter your e-mail address.")})
    full_name = forms.CharField(max_length=200, error_messages={"required": _("Enter your name.")})
    address_line1 = forms.CharField(
        max_length=200, error_messages={"required": _("Enter your street address.")}
    )
    address_line2 = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=100, error_messages={"required": _("Enter your town or city.")})
    postal_code = forms.CharField(max_length=20, required=False)
    region = forms.CharField(max_length=100, required=False)
    country = forms.ChoiceField(error_messages={"required": _("Choose your country.")})

    def __init__(self, data, *, countries: list[str]):
        super().__init__({key: value for key, value in data.items() if isinstance(value, str)})
        self.fields["country"].choices = [(code, COUNTRIES[code]) for code in countries]
        self.fields["country"].error_messages["invalid_choice"] = _(
            "This shop does not ship to that country (choose one from the list)."
        )

    def field_errors(self) -> dict[str, str]:
        """The first message of each invalid field, by field name."""
        return {name: errors[0] for name, errors in self.errors.items()}


class ShopSettingsForm(forms.ModelForm):
    shipping_countries = forms.MultipleChoiceField(
        choices=sorted(COUNTRIES.items(), key=lambda item: item[1]),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text="The countries the brand ships to (hold Ctrl or ⌘ to choose several); none: every country.",
    )

    class Meta:
        model = ShopSettings
        fields = ["organization", "shipping_countries", "low_stock_threshold"]


def _at_most() -> str:
    """The threshold's upper limit, written in the language and locale of the request ("10,000")."""
    return gettext("Enter at most %(max)s.") % {
        "max": number_format(MAX_LOW_STOCK_THRESHOLD, force_grouping=True)
    }


class LowStockDefaultForm(forms.Form):
    """The studio's low-stock default: a whole number from 0 to MAX_LOW_STOCK_THRESHOLD, or empty."""

    low_stock_threshold = forms.IntegerField(
        label=_("Say “only N left” at or under"),
        required=False,
        min_value=0,
        max_value=MAX_LOW_STOCK_THRESHOLD,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "10"}),
        help_text=_(
            "For every variant without its own threshold. Empty: 10; 0: never say how many are left."
        ),
        error_messages={
            "invalid": _("Enter a whole number of units, like 5."),
            "min_value": _("Enter 0 or more (0: never say how many are left)."),
            "max_value": lazy(_at_most, str)(),
        },
    )
