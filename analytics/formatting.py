"""Numbers and money on the analytics dashboard, written the way the active language writes them
(the studio user's, LocaleMiddleware's choice): "1,234" and "$1,234.50"
in English, "1.234" and "1.234,50 $" in German (Babel's CLDR data). Money keeps the product's
currency (its symbol's place and decimals are the locale's and the currency's: none for JPY);
amounts in several currencies are listed, never added. The JSON API keeps plain numbers."""

from __future__ import annotations

import functools
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal, format_percent
from django.conf import settings
from django.utils import translation

from liveshop.display import format_price


@functools.cache
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(translation.to_locale(language))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(translation.to_locale(settings.LANGUAGE_CODE))


def current_locale() -> Locale:
    """The Babel locale of the active language (the default language outside a request)."""
    return _locale(translation.get_language() or settings.LANGUAGE_CODE)


def number(value: int | float | Decimal | None) -> str:
    """A count with the locale's grouping: 1,234 / 1.234."""
    return format_decimal(value or 0, locale=current_locale())


def percent(ratio: float | None, digits: int = 1) -> str:
    """A share with ``digits`` decimals (0.5 -> 50.0% / 50,0%); a dash when there is nothing to
    divide by."""
    if ratio is None:
        return "—"
    pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
    return format_percent(ratio, format=pattern, locale=current_locale())


def price(amount: Decimal | int | str, currency: str) -> str:
    """``amount`` of ``currency`` as the locale writes money: $1,234.50 / 1.234,50 $ (the viewer
    pages' rule, liveshop.display.format_price, so the studio and the shop agree)."""
    return format_price(amount, currency)


def money(amounts: dict[str, Decimal]) -> str:
    """Amounts per currency, each in its own ("€5.50 + $10.00"); a dash for none."""
    return " + ".join(price(amount, currency) for currency, amount in sorted(amounts.items())) or "—"
