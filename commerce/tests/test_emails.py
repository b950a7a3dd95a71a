import pytest
from django.core import mail
from django.urls import reverse

from commerce.emails import send_order_confirmation
from commerce.models import Order
from commerce.payments.test import SUCCEED_CARD
from commerce.tests.test_views import add, checkout, post

pytestmark = pytest.mark.django_db


def pay(client, order, card=SUCCEED_CARD):
    url = reverse("commerce:test-payment", args=[order["token"]])
    return post(client, url, {"client_secret": order["payment"]["clientSecret"], "card_number": card})


def test_a_paid_order_mails_its_buyer_one_confirmation_with_the_order_page_link(
    client, brand, make_variant, payment_backend, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://shop.example.com"
    add(client, brand, make_variant(price="12.50", currency="EUR", name="Linen shirt"), quantity=2)
    order = checkout(client, brand).json()

    with django_capture_on_commit_callbacks(execute=True):
        assert pay(client, order).json()["status"] == "paid"

    [message] = mail.outbox
    assert message.to == ["buyer@example.com"]
    assert message.subject == f"Your order at {brand.name} is confirmed"
    link = f"https://shop.example.com/orders/{order['token']}/"
    assert "2 x Linen shirt" in message.body and "€25.00" in message.body and link in message.body
    assert "Ada Buyer" in message.body and "69001 Lyon" in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html" and link in html


def test_a_redelivered_success_sends_no_second_confirmation(
    client, brand, make_variant, payment_backend, django_capture_on_commit_callbacks
):
    add(client, brand, make_variant())
    order = checkout(client, brand).json()
    url = reverse("commerce:test-payment", args=[order["token"]])
    delivery = payment_backend.confirm(
        client_secret=order["payment"]["clientSecret"],
        reference=order["token"],
        amount_minor=2000,
        currency="USD",
        card_number=SUCCEED_CARD,
    )
    webhook = reverse("commerce:payment-webhook")
    headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in delivery.headers.items()}

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = [
            client.post(webhook, delivery.body, content_type="application/json", **headers).json()["outcome"]
            for _ in range(10)
        ]
    # The task run again (a retry after a lost acknowledgement) sends nothing either.
    assert send_order_confirmation(order_id=Order.objects.get().pk) is False

    assert outcomes == ["paid"] + ["duplicate"] * 9
    assert len(mail.outbox) == 1
    assert post(client, url, {"client_secret": "x", "card_number": SUCCEED_CARD}).status_code == 400


def test_a_failed_send_marks_nothing_so_the_retry_sends_it(
    client, brand, make_variant, payment_backend, monkeypatch
):
    add(client, brand, make_variant())
    order = checkout(client, brand).json()
    pay(client, order)  # in the test's transaction: the on-commit task has not run
    paid = Order.objects.get()

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("SMTP down")

    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
        with pytest.raises(ConnectionRefusedError):
            send_order_confirmation(order_id=paid.pk)
    paid.refresh_from_db()
    assert paid.confirmation_sent_at is None

    assert send_order_confirmation(order_id=paid.pk) is True
    assert len(mail.outbox) == 1


def test_the_confirmation_is_in_the_language_the_buyer_checked_out_in(
    client, brand, make_variant, payment_backend, django_capture_on_commit_callbacks
):
    from commerce.tests.test_views import ADDRESS

    add(client, brand, make_variant(price="12.50", currency="EUR", name="Leinenhemd"), quantity=2)
    url = reverse("commerce:checkout", args=[brand.slug])
    details = {"email": "buyer@example.com", **ADDRESS}
    order = post(client, url, details, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").json()
    assert Order.objects.get(token=order["token"]).language == "de"

    with django_capture_on_commit_callbacks(execute=True):
        assert pay(client, order).json()["status"] == "paid"  # the payment's request is in English

    [message] = mail.outbox
    assert message.subject == f"Ihre Bestellung bei {brand.name} ist bestätigt"
    assert "Vielen Dank für Ihre Bestellung, Ada Buyer!" in message.body
    assert "2 x Leinenhemd" in message.body and "25,00\u00a0€" in message.body
    assert (
        '<html lang="de">' in message.alternatives[0][0]
        and "Bestellung ansehen" in message.alternatives[0][0]
    )
