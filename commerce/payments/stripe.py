"""Stripe (PAYMENT_BACKEND=stripe): a PaymentIntent per order and verified webhooks. The only
module that imports the ``stripe`` library."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

import stripe
from django.conf import settings

from commerce.payments.base import (
    CANCELED,
    FAILED,
    IGNORED,
    PROCESSING,
    REFUND_FAILED,
    REFUNDED,
    REQUIRES_ACTION,
    SUCCEEDED,
    AlreadyRefunded,
    InvalidWebhook,
    Payment,
    PaymentBackendError,
    PaymentEvent,
    PaymentNotCancelable,
    PaymentRequest,
    ProviderUnavailable,
    Refund,
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
            raise gateway_error(exc, "Stripe refused a PaymentIntent", order=request.reference) from exc
        return Payment(id=intent.id, client_secret=intent.client_secret, status=intent.status)

    def refund(self, payment_id: str, amount: Decimal, currency: str, *, idempotency_key: str) -> Refund:
        """A Refund of ``amount`` on the PaymentIntent (Stripe refunds in the payment's currency);
        the idempotency key makes a retry return the same refund. AlreadyRefunded when Stripe
        says the charge has been refunded already."""
        params = {"payment_intent": payment_id, "amount": minor_units(amount, currency)}
        try:
            refund = self.client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == "charge_already_refunded":
                raise AlreadyRefunded("This payment has been refunded already.") from exc
            raise gateway_error(exc, "Stripe refused a refund", payment=payment_id) from exc
        except stripe.StripeError as exc:
            raise gateway_error(exc, "Stripe refused a refund", payment=payment_id) from exc
        if refund.status in ("failed", "canceled"):
            reason = (refund.to_dict().get("failure_reason") or refund.status).replace("_", " ")
            raise PaymentBackendError(f"The refund failed at the payment provider: {reason}.")
        return Refund(
            id=refund.id,
            payment_id=payment_id,
            amount_minor=refund.amount,
            currency=str(refund.currency).upper(),
            status=refund.status,
        )

    def cancel(self, payment_id: str) -> str:
        """Cancel the PaymentIntent ("abandoned"), so a buyer's late attempt is refused. An intent
        already canceled counts as done; one that succeeded raises PaymentNotCancelable."""
        try:
            intent = self.client.v1.payment_intents.cancel(
                payment_id,
                params={"cancellation_reason": "abandoned"},
                options={"idempotency_key": f"cancel-{payment_id}"},
            )
        except stripe.InvalidRequestError as exc:
            body = exc.json_body if isinstance(exc.json_body, dict) else {}
            state = str(((body.get("error") or {}).get("payment_intent") or {}).get("status", ""))
            if exc.code != "payment_intent_unexpected_state":
                raise gateway_error(exc, "Stripe refused to cancel", payment=payment_id) from exc
            if state == CANCELED:
                return CANCELED
            state = state.replace("_", " ") or "past that"
            raise PaymentNotCancelable(f"The payment cannot be canceled: it is {state}.") from exc
        except stripe.StripeError as exc:
            raise gateway_error(exc, "Stripe refused to cancel", payment=payment_id) from exc
        return intent.status

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
        if str(event.type).startswith(("charge.", "refund.")):
            return refund_event(event.id, str(event.type), intent)
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


def gateway_error(exc: stripe.StripeError, message: str, **context: str) -> PaymentBackendError:
    """The gateway's error for a Stripe error, logged: ProviderUnavailable for what may pass
    (network, rate limit, Stripe's own errors), else PaymentBackendError with Stripe's message."""
    logger.warning(message, extra={**context, "error": str(exc)})
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return ProviderUnavailable("The payment provider is unavailable; try again.")
    return PaymentBackendError(exc.user_message or "The payment provider refused the request.")


def refund_event(event_id: str, event_type: str, data: dict) -> PaymentEvent:
    """charge.refunded of a charge refunded in full (from Liveshop or Stripe's dashboard):
    REFUNDED; refund.failed, or refund.updated to failed or canceled: REFUND_FAILED with the
    refund's id and reason. Partial refunds and other charge or refund events: IGNORED."""
    payment_id, currency = str(data.get("payment_intent") or ""), str(data.get("currency", "")).upper()
    if event_type == "charge.refunded" and data.get("refunded") and payment_id:
        amount = data.get("amount_refunded")
        return PaymentEvent(event_id, REFUNDED, payment_id, amount_minor=amount, currency=currency)
    failed = event_type == "refund.failed" or data.get("status") in ("failed", "canceled")
    if event_type.startswith("refund.") and failed and payment_id:
        reason = str(data.get("failure_reason") or data.get("status") or "").replace("_", " ")
        return PaymentEvent(
            event_id,
            REFUND_FAILED,
            payment_id,
            amount_minor=data.get("amount"),
            currency=currency,
            reason=reason,
            refund_id=str(data.get("id", "")),
        )
    return PaymentEvent(id=event_id, kind=IGNORED, payment_id="")
