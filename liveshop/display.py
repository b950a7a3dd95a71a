"""What every viewer page shows the same way, live or replay: prices for the first paint and QR
codes of Buy links. Pure functions of their arguments (no request, no database)."""

from __future__ import annotations

import functools
import io
import re
from decimal import Decimal

import segno
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django.utils import translation

# CLDR's currency spacing, as the browser's Intl.NumberFormat applies it and Babel does not: a
# symbol that ends (or starts) with a letter is kept apart from the digits ("CHF 9.50").
_LETTER_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)")
_DIGIT_THEN_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])")


def format_price(price: str | Decimal, currency: str, *, language: str | None = None) -> str:
    """A price in ``language``'s locale (default: the request's, LocaleMiddleware's choice) in
    its own ``currency``, by CLDR (Babel): "$1,234.50" in English, "1.234,50 $" in German, as the
    page's script (static/js/lib/card.js, Intl.NumberFormat) re-draws it in the viewer's locale."""
    text = format_currency(Decimal(price), currency, locale=_locale(language or translation.get_language()))
    text = _LETTER_THEN_DIGIT.sub("\u00a0", text, count=1)
    return _DIGIT_THEN_LETTER.sub("\u00a0", text, count=1)


@functools.lru_cache(maxsize=64)
def _locale(language: str | None) -> Locale:
    try:
        return Locale.parse(translation.to_locale(language or "en"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def qr_svg(text: str) -> bytes:
    """A scalable SVG QR code (dark on white, so it scans on any background)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=1, border=2, omitsize=True, xmldecl=False, dark="#1d1b22", light="#fff"
    )
    return out.getvalue()
