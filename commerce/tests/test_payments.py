"""The payments gateway's backends, with no network: Stripe's HTTP client is replaced by one that
records each request and answers a recorded PaymentIntent; webhooks are signed with test secrets."""

import json
import time
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import stripe

from commerce.payments import FAILED, IGNORED, SUCCEEDED, InvalidWebhook, PaymentBackendError, PaymentRequest
from commerce.payments.base import minor_units
from commerce.payments.stripe import StripeBackend
from commerce.payments.test import DECLINE_CARD, SECOND_STEP_CARD, SUCCEED_CARD, TestPaymentBackend

WEBHOOK_SECRET = "whsec_test_secret"


class RecordingHTTPClient(stripe.HTTPClient):
    """Records what the stripe library would send and answers ``responses`` in turn."""

    name = "recording"

    def __init__(self, *responses):
        super().__init__()
        self.requests = []
        self.responses = list(responses)

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        self.requests.append(
            {"method": method, "url": url, "headers": dict(headers or {}), "data": post_data}
        )
        status, body = self.responses.pop(0)
        return json.dumps(body), status, {}

    def close(self):
        pass


INTENT = {
    "id": "pi_123",
    "object": "payment_intent",
    "amount": 2599,
    "currency": "eur",
    "client_secret": "pi_123_secret_abc",
    "status": "requires_payment_method",
    "metadata": {"order": "token-1"},
}


def stripe_event(event_type, **intent):
    return json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": event_type,
            "data": {"object": {**INTENT, **intent}},
        }
    )


def signed(payload, secret=WEBHOOK_SECRET, timestamp=None):
    return {
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
            payload, secret, timestamp=timestamp or int(time.time())
        )
    }


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("25.99", "EUR", 2599), ("500", "JPY", 500), ("1.234", "KWD", 1234), ("0.10", "usd", 10)],
)
def test_minor_units_follow_each_currencys_exponent(amount, currency, minor):
    assert minor_units(Decimal(amount), currency) == minor


def test_stripe_creates_one_payment_intent_with_the_server_amount_and_an_idempotency_key():
    http = RecordingHTTPClient((200, INTENT))
    backend = StripeBackend(api_key="sk_test_x", webhook_secret=WEBHOOK_SECRET, http_client=http)

    payment = backend.create_payment(
        PaymentRequest(reference="token-1", amount=Decimal("25.99"), currency="EUR", email="a@example.com"),
        idempotency_key="order-token-1",
    )

    assert (payment.id, payment.client_secret) == ("pi_123", "pi_123_secret_abc")
    [sent] = http.requests
    assert (sent["method"], sent["url"]) == ("post", "https://api.stripe.com/v1/payment_intents")
    assert sent["headers"]["Idempotency-Key"] == "order-token-1"
    assert parse_qs(sent["data"]) == {
        "amount": ["2599"],
        "currency": ["eur"],
        "automatic_payment_methods[enabled]": ["true"],
        "metadata[order]": ["token-1"],
        "receipt_email": ["a@example.com"],
    }


def test_stripe_errors_become_gateway_errors():
    error = {"error": {"type": "invalid_request_error", "message": "Amount must be at least 50 cents"}}
    backend = StripeBackend(api_key="sk_test_x", http_client=RecordingHTTPClient((400, error)))

    with pytest.raises(PaymentBackendError):
        backend.create_payment(
            PaymentRequest(reference="t", amount=Decimal("0.10"), currency="USD"), idempotency_key="k"
        )


def test_stripe_webhook_events_are_verified_and_mapped():
    backend = StripeBackend(api_key="sk_test_x", webhook_secret=WEBHOOK_SECRET)
    succeeded = stripe_event("payment_intent.succeeded", status="succeeded")
    failed = stripe_event(
        "payment_intent.payment_failed", last_payment_error={"message": "Your card was declined."}
    )

    event = backend.parse_webhook(succeeded.encode(), signed(succeeded))
    assert (event.kind, event.payment_id, event.reference, event.amount_minor, event.currency) == (
        SUCCEEDED,
        "pi_123",
        "token-1",
        2599,
        "EUR",
    )
    assert backend.parse_webhook(failed.encode(), signed(failed)).reason == "Your card was declined."
    other = stripe_event("charge.refunded")
    assert backend.parse_webhook(other.encode(), signed(other)).kind == IGNORED


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": "nonsense"},
        signed(stripe_event("payment_intent.succeeded"), secret="whsec_other"),
        signed(stripe_event("payment_intent.succeeded"), timestamp=int(time.time()) - 600),
    ],
    ids=["missing", "unparsable", "wrong secret", "stale"],
)
def test_stripe_webhooks_without_a_valid_signature_are_refused(headers):
    backend = StripeBackend(api_key="sk_test_x", webhook_secret=WEBHOOK_SECRET)

    with pytest.raises(InvalidWebhook, match="Stripe-Signature"):
        backend.parse_webhook(stripe_event("payment_intent.succeeded").encode(), headers)


def test_the_test_provider_succeeds_declines_and_asks_for_a_second_step(settings):
    backend = TestPaymentBackend(webhook_secret="local")
    payment = backend.create_payment(
        PaymentRequest(reference="r", amount=Decimal("5"), currency="USD"), idempotency_key="order-r"
    )
    pay = {"client_secret": payment.client_secret, "reference": "r", "amount_minor": 500, "currency": "USD"}

    ok = backend.confirm(**pay, card_number="4242 4242 4242 4242")
    declined = backend.confirm(**pay, card_number=DECLINE_CARD)
    first = backend.confirm(**pay, card_number=SECOND_STEP_CARD)
    second = backend.confirm(**pay, card_number=SECOND_STEP_CARD, authenticated=True)

    assert backend.parse_webhook(ok.body, ok.headers).kind == SUCCEEDED
    assert backend.parse_webhook(declined.body, declined.headers).reason == "Your card was declined."
    assert declined.status == FAILED
    assert (first.status, first.body) == ("requires_action", b"")
    assert backend.parse_webhook(second.body, second.headers).payment_id == payment.id
    assert (
        backend.create_payment(
            PaymentRequest(reference="r", amount=Decimal("5"), currency="USD"), idempotency_key="order-r"
        ).id
        == payment.id
    )
    with pytest.raises(InvalidWebhook, match="does not match"):
        backend.parse_webhook(ok.body.replace(b"500", b"100"), ok.headers)
    with pytest.raises(PaymentBackendError):
        backend.confirm(**{**pay, "client_secret": "tp_x_secret_forged"}, card_number=SUCCEED_CARD)
