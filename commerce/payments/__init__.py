"""The payments gateway: ``get_payment_backend()`` returns the backend named by PAYMENT_BACKEND
(``test`` by default: the local provider of the demo and tests; ``stripe`` in production)."""

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from commerce.payments.base import (
    CANCELED,
    FAILED,
    IGNORED,
    PROCESSING,
    REFUND,
    REFUND_FAILED,
    REFUND_KINDS,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
    REQUIRES_ACTION,
    SUCCEEDED,
    AlreadyRefunded,
    InvalidWebhook,
    Payment,
    PaymentBackend,
    PaymentBackendError,
    PaymentEvent,
    PaymentNotCancelable,
    PaymentRequest,
    ProviderUnavailable,
    Refund,
    minor_units,
)

BACKENDS = {
    "test": "commerce.payments.test.TestPaymentBackend",
    "stripe": "commerce.payments.stripe.StripeBackend",
}

__all__ = [
    "CANCELED",
    "FAILED",
    "IGNORED",
    "PROCESSING",
    "REFUND",
    "REFUND_FAILED",
    "REFUND_KINDS",
    "REFUND_PENDING",
    "REFUND_SUCCEEDED",
    "REQUIRES_ACTION",
    "SUCCEEDED",
    "AlreadyRefunded",
    "InvalidWebhook",
    "Payment",
    "PaymentBackend",
    "PaymentBackendError",
    "PaymentEvent",
    "PaymentNotCancelable",
    "PaymentRequest",
    "ProviderUnavailable",
    "Refund",
    "get_payment_backend",
    "minor_units",
]


@functools.cache
def get_payment_backend() -> PaymentBackend:
    """The configured backend, built on first use; tests call ``cache_clear()`` after changing
    the setting."""
    name = settings.PAYMENT_BACKEND
    return import_string(BACKENDS.get(name, name))()
