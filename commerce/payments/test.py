"""The local payment provider (PAYMENT_BACKEND=test, the default): no network, test card numbers,
and events signed like Stripe's and handled by the same webhook code.

``confirm`` plays the provider's side of a card payment: it returns the signed webhook delivery
(body and headers) that the provider would POST, and the caller hands it to the webhook handler::

    4242 4242 4242 4242  succeeds
    4000 0000 0000 0002  is declined ("Your card was declined.")
    4000 0000 0000 9995  is declined ("Your card has insufficient funds.")
    4000 0025 0000 3155  needs a second step (3-D Secure); confirm again with authenticated=True
    4000 0000 0000 7726  succeeds; its refunds stay pending until settled (settle_refund)
    4000 0000 0000 5126  succeeds; its refunds succeed, and fail when settled (the bank sent the
                         money back), as Stripe's test cards of those numbers do

Refunds send their events like Stripe's (refund.created, then refund.updated or refund.failed
when settled), signed, to this site's webhook code after the caller's transaction commits
(commerce.tasks.deliver_test_webhook_task): a refund from Liveshop and one made "at the provider"
(calling ``refund`` directly, like Stripe's dashboard) take the same path as in production.

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
from django.db import transaction

from commerce.payments import signing
from commerce.payments.base import (
    CANCELED,
    FAILED,
    IGNORED,
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
    Refund,
    minor_units,
)
from liveshop import jsoninput

SIGNATURE_HEADER = "Liveshop-Signature"
SUCCEED_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
SECOND_STEP_CARD = "4000002500003155"
PENDING_REFUND_CARD = "4000000000007726"
FAILING_REFUND_CARD = "4000000000005126"
SUCCEEDING_CARDS = (SUCCEED_CARD, SECOND_STEP_CARD, PENDING_REFUND_CARD, FAILING_REFUND_CARD)
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
        if card not in (*SUCCEEDING_CARDS, *DECLINES):
            raise PaymentBackendError("Use a test card number (4242 4242 4242 4242 succeeds).")
        kind = FAILED if card in DECLINES else SUCCEEDED
        if kind == SUCCEEDED:
            self._remember(
                payment_id, status=SUCCEEDED, amount=amount_minor, currency=currency.upper(), card=card
            )
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
        """Refund part or all of a payment that succeeded here: succeeded at once, or pending
        (PENDING_REFUND_CARD) until settle_refund; its refund.created event follows after commit.
        The same key returns the same refund (no second event). PaymentBackendError for a payment
        not paid, in another currency, or for more than is left of it (pending refunds count);
        AlreadyRefunded when nothing is left."""
        key = f"{payment_id}:{idempotency_key}"  # one payment's key: a key reused elsewhere is new
        done = cache.get(STATE_KEY.format(f"refund:{key}"))
        if done is not None:
            return Refund(**{**done, "status": self._refund_state(done["id"]).get("status", done["status"])})
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
        pending = state.get("card") == PENDING_REFUND_CARD
        refund = Refund(
            id="tpre_" + hashlib.sha256(key.encode()).hexdigest()[:24],
            payment_id=payment_id,
            amount_minor=minor,
            currency=currency.upper(),
            status=REFUND_PENDING if pending else REFUND_SUCCEEDED,
        )
        cache.set(STATE_KEY.format(f"refund:{key}"), asdict(refund), STATE_SECONDS)
        self._remember_refund(refund)
        self.post(self.refund_delivery("refund.created", refund))
        return refund

    def settle_refund(self, refund_id: str) -> Delivery:
        """The provider's later word on a refund, posted after commit like refund(): a pending
        refund succeeds; a refund of a FAILING_REFUND_CARD payment fails (its amount can be
        refunded again). Returns the delivery; PaymentBackendError for an unknown refund."""
        known = self._refund_state(refund_id)
        if not known:
            raise PaymentBackendError("No such refund at the test provider.")
        payment = self._state(known["payment_id"])
        fails = payment.get("card") == FAILING_REFUND_CARD and known["status"] != REFUND_FAILED
        refund = Refund(**{**known, "status": REFUND_FAILED if fails else REFUND_SUCCEEDED})
        if fails:
            refund = Refund(**{**asdict(refund), "reason": "expired or canceled card"})
            self._remember(
                known["payment_id"], **{**payment, "refunded": payment["refunded"] - refund.amount_minor}
            )
        if known["status"] == REFUND_PENDING or fails:
            self._remember_refund(refund)
        delivery = self.refund_delivery("refund.failed" if fails else "refund.updated", refund)
        self.post(delivery)
        return delivery

    def refund_delivery(self, event_type: str, refund: Refund) -> Delivery:
        """The signed delivery of a refund event, as this provider POSTs it."""
        body = json.dumps(
            {
                "id": "tpevt_" + secrets.token_hex(12),
                "type": event_type,
                "payment_id": refund.payment_id,
                "refund": {
                    "id": refund.id,
                    "amount": refund.amount_minor,
                    "currency": refund.currency.lower(),
                    "status": refund.status,
                    "reason": refund.reason,
                },
            }
        ).encode()
        return Delivery(status=refund.status, body=body, headers={SIGNATURE_HEADER: self.sign(body)})

    def post(self, delivery: Delivery) -> None:
        """Send ``delivery`` to this site's webhook once the caller's transaction commits, by a
        task (imported here: the gateway itself never touches orders)."""
        from commerce import tasks

        body, headers = delivery.body.decode(), dict(delivery.headers)
        transaction.on_commit(lambda: tasks.deliver_test_webhook_task.delay(body, headers))

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

    def _refund_state(self, refund_id: str) -> dict:
        return cache.get(STATE_KEY.format(f"re:{refund_id}")) or {}

    def _remember_refund(self, refund: Refund) -> None:
        cache.set(STATE_KEY.format(f"re:{refund.id}"), asdict(refund), STATE_SECONDS)

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
            if str(data["type"]).startswith("refund."):
                return self._refund_event(data)
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

    def _refund_event(self, data: dict) -> PaymentEvent:
        refund = data["refund"]
        status = str(refund["status"])
        if status not in (REFUND_PENDING, REFUND_SUCCEEDED, REFUND_FAILED):
            raise ValueError(f"unknown refund status {status!r}")
        payment_id = str(data["payment_id"])
        found = Refund(
            id=str(refund["id"]),
            payment_id=payment_id,
            amount_minor=int(refund["amount"]),
            currency=str(refund["currency"]).upper(),
            status=status,
            reason=str(refund.get("reason", "")),
        )
        return PaymentEvent(id=str(data["id"]), kind=REFUND, payment_id=payment_id, refunds=(found,))

    def _mac(self, payment_id: str) -> str:
        return hmac.new(self.webhook_secret.encode(), payment_id.encode(), hashlib.sha256).hexdigest()[:32]

    def _payment_id(self, client_secret: str) -> str:
        payment_id, _, mac = client_secret.partition("_secret_")
        if not hmac.compare_digest(mac, self._mac(payment_id)):
            raise PaymentBackendError("This payment was not created by the test provider.")
        return payment_id
