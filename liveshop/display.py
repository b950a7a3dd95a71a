"""What every viewer page shows the same way, live or replay: prices for the first paint and QR
codes of Buy links. Pure functions of their arguments (no request, no database)."""

from __future__ import annotations

import io
from decimal import Decimal

import segno

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "INR": "₹"}
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX", "XAF", "XOF"}


def format_price(price: str | Decimal, currency: str) -> str:
    """A readable price for the first paint (the page's script re-formats it in the viewer's locale)."""
    amount = Decimal(price)
    text = f"{amount:,.0f}" if currency in ZERO_DECIMAL_CURRENCIES else f"{amount:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def qr_svg(text: str) -> bytes:
    """A scalable SVG QR code (dark on white, so it scans on any background)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=1, border=2, omitsize=True, xmldecl=False, dark="#1d1b22", light="#fff"
    )
    return out.getvalue()
