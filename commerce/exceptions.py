"""Errors the commerce services raise; each message is safe to show the buyer. Views map them to
HTTP answers (commerce.views.ERROR_STATUS): SoldOut to 409, the others to 400 or 404."""

from __future__ import annotations

from django.utils.translation import gettext


class CommerceError(Exception):
    """Base class of commerce's expected failures."""


class VariantUnavailable(CommerceError):
    """The variant does not exist, is not for sale, or belongs to another brand."""


class CurrencyMismatch(CommerceError):
    """A cart (and so an order) holds one currency; the variant is priced in another."""


class InvalidQuantity(CommerceError):
    pass


class EmptyCart(CommerceError):
    pass


class SoldOut(CommerceError):
    """Not enough stock left for a line (another buyer took it first): HTTP 409."""

    def __init__(self, sku: str, name: str):
        self.sku = sku
        super().__init__(gettext("Sold out: %(name)s has no stock left for this quantity.") % {"name": name})


class OrderNotCancelable(CommerceError):
    pass


class DealRefused(CommerceError):
    """A flash deal the console asked for breaks a rule (commerce.deals): the reason says which."""


class DealLimitReached(CommerceError):
    """A line would take a buyer past a flash deal's limit per customer: HTTP 409."""


class RefundRefused(CommerceError):
    """A refund amount that cannot be given back (nothing, more than is left, finer than the coin)."""
