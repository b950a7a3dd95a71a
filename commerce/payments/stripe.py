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
    REFUND,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
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
# Events whose object is a Refund (the newer refund.* and the classic charge.refund.updated).
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
# A Stripe Refund's status as ours: requires_action waits on the buyer, like pending.
REFUND_STATUSES = {
    "pending": REFUND_PENDING,
    "requires_action": REFUND_PENDING,
    "succeeded": REFUND_SUCCEEDED,
    "failed": REFUND_FAILED,
    "canceled": REFUND_FAILED,
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
        return as_refund(refund.to_dict(), payment_id)

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
        if getattr(event, "account", None):  # a connected account's event: our payments are the platform's
            return PaymentEvent(id=event.id, kind=IGNORED, payment_id="")
        if str(event.type) in (*REFUND_EVENTS, "charge.refunded"):
            return self._refund_event(event.id, str(event.type), intent)
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

    def _refund_event(self, event_id: str, event_type: str, data: dict) -> PaymentEvent:
        """REFUND with the refund(s) the event tells about: a Refund event's refund as it is
        now; charge.refunded's every refund of the charge (full or partial, from Liveshop or the
        dashboard), from the event when it lists them all, else read from Stripe (the charge's
        ``refunds`` is not in events since API version 2022-11-15). ProviderUnavailable when that
        read fails (the webhook answers 503 and Stripe delivers again)."""
        payment_id = str(data.get("payment_intent") or "")
        if not payment_id:
            return PaymentEvent(id=event_id, kind=IGNORED, payment_id="")
        if event_type in REFUND_EVENTS:
            refunds = [{**data, "status": "failed"} if event_type == "refund.failed" else data]
        else:
            refunds = self._charge_refunds(data)
        return PaymentEvent(
            id=event_id,
            kind=REFUND,
            payment_id=payment_id,
            refunds=tuple(as_refund(refund, payment_id) for refund in refunds),
        )

    def _charge_refunds(self, charge: dict) -> list[dict]:
        listed = charge.get("refunds") or {}
        if isinstance(listed, dict) and "data" in listed and not listed.get("has_more"):
            return list(listed["data"])
        try:
            page = self.client.v1.refunds.list(params={"charge": charge["id"], "limit": 100})
        except stripe.StripeError as exc:
            raise gateway_error(exc, "Stripe refused to list refunds", charge=charge.get("id", "")) from exc
        return [refund.to_dict() for refund in page.auto_paging_iter()]


def gateway_error(exc: stripe.StripeError, message: str, **context: str) -> PaymentBackendError:
    """The gateway's error for a Stripe error, logged: ProviderUnavailable for what may pass
    (network, rate limit, Stripe's own errors), else PaymentBackendError with Stripe's message."""
    logger.warning(message, extra={**context, "error": str(exc)})
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return ProviderUnavailable("The payment provider is unavailable; try again.")
    return PaymentBackendError(exc.user_message or "The payment provider refused the request.")


def as_refund(data: dict, payment_id: str) -> Refund:
    """Our Refund for a Stripe Refund object (its status mapped: REFUND_STATUSES)."""
    reason = str(data.get("failure_reason") or "").replace("_", " ")
    return Refund(
        id=str(data.get("id", "")),
        payment_id=payment_id,
        amount_minor=int(data.get("amount") or 0),
        currency=str(data.get("currency", "")).upper(),
        status=REFUND_STATUSES.get(str(data.get("status")), REFUND_PENDING),
        reason=reason,
    )
