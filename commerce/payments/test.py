"""The local payment provider (PAYMENT_BACKEND=test, the default): no network, test card numbers,
and events signed like Stripe's and handled by the same webhook code.

``confirm`` plays the provider's side of a card payment: it returns the signed webhook delivery
(body and headers) that the provider would POST, and the caller hands it to the webhook handler::

    4242 4242 4242 4242  succeeds
    4000 0000 0000 0002  is declined ("Your card was declined.")
    4000 0000 0000 9995  is declined ("Your card has insufficient funds.")
    4000 0025 0000 3155  needs a second step (3-D Secure); confirm again with authenticated=True

Like a real provider it remembers what happened to each payment (in Django's cache: Redis when
REDIS_URL is set, so the web and worker processes share it): a canceled payment can no longer
be paid, and a refund needs a payment that succeeded and is not refunded yet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache

from commerce.payments import signing
from commerce.payments.base import (
    CANCELED,
    FAILED,
    IGNORED,
    REQUIRES_ACTION,
    SUCCEEDED,
    AlreadyRefunded,
    InvalidWebhook,
    Payment,
    PaymentBackendError,
    PaymentEvent,
    PaymentNotCancelable,
    PaymentRequest,
    Refund,
    minor_units,
)
from liveshop import jsoninput

SIGNATURE_HEADER = "Liveshop-Signature"
SUCCEED_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
SECOND_STEP_CARD = "4000002500003155"
DECLINES = {
    DECLINE_CARD: "Your card was declined.",
    INSUFFICIENT_FUNDS_CARD: "Your card has insufficient funds.",
}
STATE_KEY = "payments-test:{}"  # the provider's memory of a payment or a refund, in Django's cache
STATE_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Delivery:
    """A webhook delivery as the provider would POST it."""

    status: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class TestPaymentBackend:
    name = "test"
    __test__ = False  # not a pytest class

    def __init__(self, *, webhook_secret: str | None = None) -> None:
        self.webhook_secret = webhook_secret or settings.PAYMENTS_TEST_WEBHOOK_SECRET

    def create_payment(self, request: PaymentRequest, *, idempotency_key: str) -> Payment:
        """A payment id derived from the key (a retry gets the same payment); no network."""
        payment_id = "tp_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        minor_units(request.amount, request.currency)  # the same check Stripe's amount needs
        return Payment(id=payment_id, client_secret=f"{payment_id}_secret_{self._mac(payment_id)}")

    def confirm(
        self,
        *,
        client_secret: str,
        reference: str,
        amount_minor: int,
        currency: str,
        card_number: str,
        authenticated: bool = False,
    ) -> Delivery:
        """The provider's answer to paying with ``card_number``: a signed delivery, or one with
        status REQUIRES_ACTION and no body until the second step. PaymentBackendError for a
        number that is not a test card or a client secret this provider did not issue."""
        payment_id = self._payment_id(client_secret)
        if self._state(payment_id).get("status") == CANCELED:
            raise PaymentBackendError("This payment was canceled; check out again.")
        card = "".join(card_number.split())
        if card == SECOND_STEP_CARD and not authenticated:
            return Delivery(status=REQUIRES_ACTION, body=b"")
        if card not in (SUCCEED_CARD, SECOND_STEP_CARD, *DECLINES):
            raise PaymentBackendError("Use a test card number (4242 4242 4242 4242 succeeds).")
        kind = FAILED if card in DECLINES else SUCCEEDED
        if kind == SUCCEEDED:
            self._remember(payment_id, status=SUCCEEDED, amount=amount_minor, currency=currency.upper())
        body = json.dumps(
            {
                "id": "tpevt_" + secrets.token_hex(12),
                "type": f"payment.{kind}",
                "payment_id": payment_id,
                "reference": reference,
                "amount": amount_minor,
                "currency": currency.lower(),
                "reason": DECLINES.get(card, ""),
            }
        ).encode()
        return Delivery(status=kind, body=body, headers={SIGNATURE_HEADER: self.sign(body)})

    def refund(self, payment_id: str, amount: Decimal, currency: str, *, idempotency_key: str) -> Refund:
        """Refund part or all of a payment that succeeded here, at once; the same key returns the
        same refund. PaymentBackendError for a payment not paid, in another currency, or for more
        than is left of it; AlreadyRefunded when nothing is left."""
        done = cache.get(STATE_KEY.format(f"refund:{idempotency_key}"))
        if done is not None:
            return Refund(**done)
        state, minor = self._state(payment_id), minor_units(amount, currency)
        if state.get("status") != SUCCEEDED:
            raise PaymentBackendError("Only a payment that succeeded can be refunded.")
        if state["currency"] != currency.upper():
            raise PaymentBackendError(f"The payment was made in {state['currency']}, not {currency.upper()}.")
        left = state["amount"] - state.get("refunded", 0)
        if left <= 0:
            raise AlreadyRefunded("This payment has been refunded already.")
        if not 0 < minor <= left:
            raise PaymentBackendError(
                "A refund must be more than zero and at most what is left of the payment."
            )
        self._remember(payment_id, **{**state, "refunded": state.get("refunded", 0) + minor})
        refund = Refund(
            id="tpre_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24],
            payment_id=payment_id,
            amount_minor=minor,
            currency=currency.upper(),
        )
        cache.set(STATE_KEY.format(f"refund:{idempotency_key}"), asdict(refund), STATE_SECONDS)
        return refund

    def cancel(self, payment_id: str) -> str:
        """Call off a payment of this provider (confirm refuses it from now on); one that
        succeeded raises PaymentNotCancelable. Idempotent."""
        if not payment_id.startswith("tp_"):
            raise PaymentBackendError("This payment was not created by the test provider.")
        if self._state(payment_id).get("status") == SUCCEEDED:
            raise PaymentNotCancelable("The payment cannot be canceled: it has succeeded.")
        self._remember(payment_id, status=CANCELED)
        return CANCELED

    def _state(self, payment_id: str) -> dict:
        return cache.get(STATE_KEY.format(payment_id)) or {}

    def _remember(self, payment_id: str, **state) -> None:
        cache.set(STATE_KEY.format(payment_id), state, STATE_SECONDS)

    def sign(self, body: bytes, *, timestamp: int | None = None) -> str:
        return signing.sign(body, self.webhook_secret, timestamp=timestamp)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """The verified event; InvalidWebhook for a missing, stale or wrong signature or a body
        that is not the provider's JSON."""
        reason = signing.verify(body, headers.get(SIGNATURE_HEADER, ""), self.webhook_secret)
        if reason:
            raise InvalidWebhook(f"{SIGNATURE_HEADER}: {reason}")
        try:
            data = jsoninput.loads(body)
            kind = str(data["type"]).removeprefix("payment.")
            return PaymentEvent(
                id=str(data["id"]),
                kind=kind if kind in (SUCCEEDED, FAILED) else IGNORED,
                payment_id=str(data["payment_id"]),
                reference=str(data.get("reference", "")),
                amount_minor=int(data["amount"]),
                currency=str(data["currency"]).upper(),
                reason=str(data.get("reason", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook(f"not a payment event: {exc}") from None

    def _mac(self, payment_id: str) -> str:
        return hmac.new(self.webhook_secret.encode(), payment_id.encode(), hashlib.sha256).hexdigest()[:32]

    def _payment_id(self, client_secret: str) -> str:
        payment_id, _, mac = client_secret.partition("_secret_")
        if not hmac.compare_digest(mac, self._mac(payment_id)):
            raise PaymentBackendError("This payment was not created by the test provider.")
        return payment_id
