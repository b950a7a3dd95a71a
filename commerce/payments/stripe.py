"""Stripe (PAYMENT_BACKEND=stripe): a PaymentIntent per order and verified webhooks. The only
module that imports the ``stripe`` library."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import stripe
from django.conf import settings

from commerce.payments.base import (
    CANCELED,
    FAILED,
    IGNORED,
    PROCESSING,
    REQUIRES_ACTION,
    SUCCEEDED,
    InvalidWebhook,
    Payment,
    PaymentBackendError,
    PaymentEvent,
    PaymentRequest,
    minor_units,
)

logger = logging.getLogger(__name__)

EVENT_KINDS = {
    "payment_intent.succeeded": SUCCEEDED,
    "payment_intent.payment_failed": FAILED,
    "payment_intent.canceled": CANCELED,
    "payment_intent.processing": PROCESSING,
    "payment_intent.requires_action": REQUIRES_ACTION,
}


class StripeBackend:
    name = "stripe"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        webhook_secret: str | None = None,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self.webhook_secret = webhook_secret or settings.STRIPE_WEBHOOK_SECRET
        self.client = stripe.StripeClient(
            api_key or settings.STRIPE_SECRET_KEY, http_client=http_client, max_network_retries=2
        )

    def create_payment(self, request: PaymentRequest, *, idempotency_key: str) -> Payment:
        """One PaymentIntent (automatic payment methods: the Payment Element); the idempotency
        key makes a retried checkout get the same intent back from Stripe."""
        params = {
            "amount": minor_units(request.amount, request.currency),
            "currency": request.currency.lower(),
            "automatic_payment_methods": {"enabled": True},
            "metadata": {"order": request.reference},
        }
        if request.description:
            params["description"] = request.description[:1000]
        if request.email:
            params["receipt_email"] = request.email
        try:
            intent = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            logger.warning(
                "Stripe refused a PaymentIntent", extra={"order": request.reference, "error": str(exc)}
            )
            raise PaymentBackendError(
                exc.user_message or "The payment provider is unavailable; try again."
            ) from exc
        return Payment(id=intent.id, client_secret=intent.client_secret, status=intent.status)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """The event, verified with stripe.Webhook.construct_event (signature and 5-minute
        tolerance); InvalidWebhook with the reason otherwise."""
        try:
            event = stripe.Webhook.construct_event(body, headers.get("Stripe-Signature"), self.webhook_secret)
        except stripe.SignatureVerificationError as exc:
            raise InvalidWebhook(f"Stripe-Signature: {exc.user_message or exc}") from None
        except ValueError as exc:
            raise InvalidWebhook(f"not a Stripe event: {exc}") from None
        intent = event.data.object.to_dict()
        if not str(event.type).startswith("payment_intent."):
            return PaymentEvent(id=event.id, kind=IGNORED, payment_id="")
        error = intent.get("last_payment_error") or {}
        return PaymentEvent(
            id=event.id,
            kind=EVENT_KINDS.get(event.type, IGNORED),
            payment_id=intent["id"],
            reference=(intent.get("metadata") or {}).get("order", ""),
            amount_minor=intent.get("amount"),
            currency=str(intent.get("currency", "")).upper(),
            reason=error.get("message", ""),
        )
