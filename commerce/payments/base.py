"""The payments gateway's contract: one small protocol, frozen dataclasses, gateway errors.

Backends never see models or requests: a checkout hands them a PaymentRequest (amount in minor
units, computed by the server) and the webhook view hands them the raw body and headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, runtime_checkable

# Currencies without minor units (docs.stripe.com/currencies): an amount of 500 JPY is 500.
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELED = "canceled"
PROCESSING = "processing"
REQUIRES_ACTION = "requires_action"
IGNORED = "ignored"
# The provider's word on one or more refunds of a payment (PaymentEvent.refunds), made from
# Liveshop or from its dashboard, whatever their status.
REFUND = "refund"
REFUND_KINDS = (REFUND,)
# A refund's status (Refund.status): pending until the money moves; failed (or canceled) ends it,
# also after it had succeeded (a card refund the bank sent back).
REFUND_PENDING = "pending"
REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED = "failed"


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's smallest unit, as payment providers count money."""
    code = currency.upper()
    exponent = 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    return int((amount * (10**exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class PaymentRequest:
    reference: str  # our order's token: the provider returns it in its events
    amount: Decimal
    currency: str
    description: str = ""
    email: str = ""


@dataclass(frozen=True)
class Payment:
    """A payment the provider created: ``client_secret`` is for the buyer's browser only."""

    id: str
    client_secret: str = field(repr=False)
    status: str = "requires_payment_method"
    redirect_url: str = ""


@dataclass(frozen=True)
class Refund:
    """Money the provider gives back for a payment: ``status`` is REFUND_SUCCEEDED, or
    REFUND_PENDING for a refund that settles later (its outcome then arrives as a webhook event),
    or REFUND_FAILED (with ``reason``)."""

    id: str
    payment_id: str
    amount_minor: int
    currency: str
    status: str = REFUND_SUCCEEDED
    reason: str = ""


@dataclass(frozen=True)
class PaymentEvent:
    """A verified webhook event: ``kind`` is one of SUCCEEDED, FAILED, CANCELED, PROCESSING,
    REQUIRES_ACTION, REFUND (``refunds``: each refund of the payment it tells about, with its
    status then) or IGNORED (a type we do not act on)."""

    id: str
    kind: str
    payment_id: str
    reference: str = ""
    amount_minor: int | None = None
    currency: str = ""
    reason: str = ""
    refunds: tuple[Refund, ...] = ()


class PaymentBackendError(Exception):
    """The provider failed or refused; the message is safe to show (it holds no secret)."""


class InvalidWebhook(PaymentBackendError):
    """A webhook that is not verifiably the provider's (signature, timestamp) or not readable."""


class ProviderUnavailable(PaymentBackendError):
    """The provider could not be reached or answered with its own error (network, rate limit,
    5xx): the same call may succeed later."""


class PaymentNotCancelable(PaymentBackendError):
    """The payment has succeeded, so it cannot be canceled any more (refund it instead)."""


class AlreadyRefunded(PaymentBackendError):
    """The payment was refunded in full already (e.g. from the provider's dashboard)."""


@runtime_checkable
class PaymentBackend(Protocol):
    name: str

    def create_payment(self, request: PaymentRequest, *, idempotency_key: str) -> Payment:
        """Create the provider's payment for an order (one per order: the key makes a retry
        return the same payment)."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """The verified event in ``body``; InvalidWebhook with a reason otherwise."""
        ...

    def refund(self, payment_id: str, amount: Decimal, currency: str, *, idempotency_key: str) -> Refund:
        """Give ``amount`` of a succeeded payment back to the buyer (the key makes a retry return
        the same refund, never a second one). AlreadyRefunded when nothing is left to refund."""
        ...

    def cancel(self, payment_id: str) -> str:
        """Call off a payment that has not succeeded, so the buyer can no longer pay it; returns
        its status ("canceled"). Idempotent; PaymentNotCancelable once it has succeeded."""
        ...
