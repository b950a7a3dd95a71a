"""The payments gateway's backends, with no network: Stripe's HTTP client is replaced by one that
records each request and answers a recorded PaymentIntent; webhooks are signed with test secrets."""

import json
import time
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import stripe

from commerce import payments
from commerce.payments import (
    FAILED,
    IGNORED,
    SUCCEEDED,
    AlreadyRefunded,
    InvalidWebhook,
    PaymentBackendError,
    PaymentNotCancelable,
    PaymentRequest,
    ProviderUnavailable,
)
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
    other = stripe_event("customer.created")
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


# A Refund and errors as Stripe answers them (docs.stripe.com/api/refunds/object, /error-codes).
REFUND = {
    "id": "re_123",
    "object": "refund",
    "amount": 2599,
    "currency": "eur",
    "payment_intent": "pi_123",
    "status": "succeeded",
}


def stripe_error(code, message, status=400, **extra):
    return status, {"error": {"type": "invalid_request_error", "code": code, "message": message, **extra}}


def stripe_backend(*responses):
    http = RecordingHTTPClient(*responses)
    return StripeBackend(api_key="sk_test_x", webhook_secret=WEBHOOK_SECRET, http_client=http), http


def test_stripe_refunds_the_payment_intent_with_the_amount_and_an_idempotency_key():
    backend, http = stripe_backend((200, REFUND))

    refund = backend.refund("pi_123", Decimal("25.99"), "EUR", idempotency_key="refund-token-1")

    assert (refund.id, refund.amount_minor, refund.currency, refund.status) == (
        "re_123",
        2599,
        "EUR",
        "succeeded",
    )
    [sent] = http.requests
    assert (sent["method"], sent["url"]) == ("post", "https://api.stripe.com/v1/refunds")
    assert sent["headers"]["Idempotency-Key"] == "refund-token-1"
    assert parse_qs(sent["data"]) == {"payment_intent": ["pi_123"], "amount": ["2599"]}


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (
            stripe_error("charge_already_refunded", "Charge ch_1 has already been refunded."),
            AlreadyRefunded,
            "refunded already",
        ),
        (
            stripe_error("amount_too_large", "Refund amount (EUR 30.00) is greater than charge amount."),
            PaymentBackendError,
            "greater than charge amount",
        ),
        (
            (429, {"error": {"type": "rate_limit_error", "message": "Too many requests"}}),
            ProviderUnavailable,
            "try again",
        ),
        (
            (200, {**REFUND, "status": "failed", "failure_reason": "expired_or_canceled_card"}),
            PaymentBackendError,
            "expired or canceled card",
        ),
    ],
    ids=["already refunded", "too much", "rate limited", "failed at once"],
)
def test_stripe_refund_errors_become_gateway_errors_with_a_reason(answer, error, message):
    backend, _ = stripe_backend(answer)

    with pytest.raises(error, match=message):
        backend.refund("pi_123", Decimal("25.99"), "EUR", idempotency_key="refund-token-1")


def test_stripe_cancels_the_payment_intent_as_abandoned():
    backend, http = stripe_backend((200, {**INTENT, "status": "canceled"}))

    assert backend.cancel("pi_123") == "canceled"

    [sent] = http.requests
    assert (sent["method"], sent["url"]) == (
        "post",
        "https://api.stripe.com/v1/payment_intents/pi_123/cancel",
    )
    assert sent["headers"]["Idempotency-Key"] == "cancel-pi_123"
    assert parse_qs(sent["data"]) == {"cancellation_reason": ["abandoned"]}


def test_stripe_cancel_of_a_canceled_intent_is_done_and_of_a_paid_one_is_refused():
    unexpected = "You cannot cancel this PaymentIntent because it has a status of {}."

    def answer(status):
        return stripe_error(
            "payment_intent_unexpected_state",
            unexpected.format(status),
            payment_intent={**INTENT, "status": status},
        )

    backend, _ = stripe_backend(
        answer("canceled"),
        answer("succeeded"),
        stripe_error("resource_missing", "No such payment_intent: 'pi_x'"),
    )

    assert backend.cancel("pi_123") == "canceled"
    with pytest.raises(PaymentNotCancelable, match="it is succeeded"):
        backend.cancel("pi_123")
    with pytest.raises(PaymentBackendError, match="No such payment_intent"):
        backend.cancel("pi_x")


def paid_test_payment(backend, reference, *, amount="25.99", currency="EUR"):
    payment = backend.create_payment(
        PaymentRequest(reference=reference, amount=Decimal(amount), currency=currency),
        idempotency_key=f"order-{reference}",
    )
    minor = minor_units(Decimal(amount), currency)
    backend.confirm(
        client_secret=payment.client_secret,
        reference=reference,
        amount_minor=minor,
        currency=currency,
        card_number=SUCCEED_CARD,
    )
    return payment


@pytest.mark.django_db  # its refund events go to the webhook handler (no order of ours: ignored)
def test_the_test_provider_refunds_a_paid_payment_once_per_key_and_never_more_than_was_paid():
    backend = TestPaymentBackend(webhook_secret="local")
    unpaid = backend.create_payment(
        PaymentRequest(reference=f"u{time.time_ns()}", amount=Decimal("5"), currency="EUR"),
        idempotency_key=f"k{time.time_ns()}",
    )
    payment = paid_test_payment(backend, f"r{time.time_ns()}")

    with pytest.raises(PaymentBackendError, match="succeeded"):
        backend.refund(unpaid.id, Decimal("5"), "EUR", idempotency_key="refund-unpaid")
    with pytest.raises(PaymentBackendError, match="made in EUR"):
        backend.refund(payment.id, Decimal("1"), "USD", idempotency_key=f"refund-{payment.id}-usd")
    with pytest.raises(PaymentBackendError, match="at most"):
        backend.refund(payment.id, Decimal("30"), "EUR", idempotency_key=f"refund-{payment.id}-30")
    refund = backend.refund(payment.id, Decimal("25.99"), "EUR", idempotency_key=f"refund-{payment.id}")
    again = backend.refund(payment.id, Decimal("25.99"), "EUR", idempotency_key=f"refund-{payment.id}")
    assert refund == again and (refund.amount_minor, refund.status) == (2599, "succeeded")
    with pytest.raises(AlreadyRefunded):
        backend.refund(payment.id, Decimal("1"), "EUR", idempotency_key=f"refund-{payment.id}-more")


def test_the_test_provider_refuses_to_take_a_canceled_payment_and_to_cancel_a_paid_one():
    backend = TestPaymentBackend(webhook_secret="local")
    reference = f"c{time.time_ns()}"
    payment = backend.create_payment(
        PaymentRequest(reference=reference, amount=Decimal("5"), currency="USD"),
        idempotency_key=f"order-{reference}",
    )

    assert backend.cancel(payment.id) == backend.cancel(payment.id) == "canceled"
    with pytest.raises(PaymentBackendError, match="canceled"):
        backend.confirm(
            client_secret=payment.client_secret,
            reference=reference,
            amount_minor=500,
            currency="USD",
            card_number=SUCCEED_CARD,
        )
    paid = paid_test_payment(backend, f"p{time.time_ns()}")
    with pytest.raises(PaymentNotCancelable):
        backend.cancel(paid.id)


CHARGE = {
    "id": "ch_123",
    "object": "charge",
    "amount": 2599,
    "amount_refunded": 2599,
    "currency": "eur",
    "payment_intent": "pi_123",
    "refunded": True,
}


def stripe_object_event(event_type, data, event_id="evt_r1"):
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": data}})


@pytest.mark.parametrize(
    ("event_type", "data", "expected"),
    [
        ("refund.created", {**REFUND, "status": "pending"}, ("pending", "")),
        ("refund.updated", REFUND, ("succeeded", "")),
        ("charge.refund.updated", {**REFUND, "status": "requires_action"}, ("pending", "")),
        (
            "refund.failed",
            {**REFUND, "status": "failed", "failure_reason": "expired_or_canceled_card"},
            ("failed", "expired or canceled card"),
        ),
        ("refund.updated", {**REFUND, "status": "canceled"}, ("failed", "")),
    ],
    ids=["pending", "succeeded", "requires-action", "failed", "canceled"],
)
def test_stripe_refund_events_carry_the_refund_and_its_status(event_type, data, expected):
    backend = StripeBackend(api_key="sk_test_x", webhook_secret=WEBHOOK_SECRET)
    body = stripe_object_event(event_type, data)

    event = backend.parse_webhook(body.encode(), signed(body))

    [refund] = event.refunds
    assert (event.kind, event.payment_id) == (payments.REFUND, "pi_123")
    assert (refund.id, refund.amount_minor, refund.currency, refund.status, refund.reason) == (
        "re_123",
        2599,
        "EUR",
        *expected,
    )


def test_a_partial_refund_from_stripes_dashboard_is_read_from_charge_refunded():
    listed = {**CHARGE, "amount_refunded": 500, "refunded": False}
    listed["refunds"] = {"object": "list", "has_more": False, "data": [{**REFUND, "amount": 500}]}
    body = stripe_object_event("charge.refunded", listed)
    backend, http = stripe_backend()

    event = backend.parse_webhook(body.encode(), signed(body))

    assert [(r.id, r.amount_minor, r.status) for r in event.refunds] == [("re_123", 500, "succeeded")]
    assert (event.kind, http.requests) == (payments.REFUND, [])  # listed in the event: nothing asked


def test_charge_refunded_without_its_refunds_asks_stripe_for_them():
    page = {
        "object": "list",
        "url": "/v1/refunds",
        "has_more": False,
        "data": [{**REFUND, "amount": 500}, {**REFUND, "id": "re_2", "amount": 300, "status": "pending"}],
    }
    body = stripe_object_event("charge.refunded", {**CHARGE, "amount_refunded": 800, "refunded": False})
    backend, http = stripe_backend((200, page))

    event = backend.parse_webhook(body.encode(), signed(body))

    assert [(r.id, r.amount_minor, r.status) for r in event.refunds] == [
        ("re_123", 500, "succeeded"),
        ("re_2", 300, "pending"),
    ]
    [sent] = http.requests
    assert sent["method"] == "get" and sent["url"].startswith("https://api.stripe.com/v1/refunds?")
    assert parse_qs(sent["url"].split("?", 1)[1]) == {"charge": ["ch_123"], "limit": ["100"]}
    down = (500, {"error": {"type": "api_error", "message": "down"}})
    unavailable, _ = stripe_backend(down, down, down)  # the library tries 3 times
    with pytest.raises(ProviderUnavailable):
        unavailable.parse_webhook(body.encode(), signed(body))


def test_a_connected_accounts_refund_event_is_not_ours():
    body = json.dumps(
        {
            "id": "evt_c",
            "object": "event",
            "type": "refund.updated",
            "account": "acct_1",
            "data": {"object": REFUND},
        }
    )

    event = StripeBackend(api_key="sk_test_x", webhook_secret=WEBHOOK_SECRET).parse_webhook(
        body.encode(), signed(body)
    )

    assert (event.kind, event.refunds) == (IGNORED, ())
