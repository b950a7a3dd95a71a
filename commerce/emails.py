"""The buyer's confirmation e-mail: queued when an order becomes paid (after commit, by
commerce.services), sent once by the task, whatever the payment provider redelivers."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from commerce.models import Order
from commerce.payloads import order_display

logger = logging.getLogger(__name__)


def order_page_url(order: Order) -> str:
    """The order page's absolute URL (its token is the secret: only the buyer gets it)."""
    return f"{settings.SITE_URL.rstrip('/')}{reverse('commerce:order-page', args=[order.token])}"


@transaction.atomic
def send_order_confirmation(*, order_id: int) -> bool:
    """Send the paid order's confirmation to its buyer, once: the order row is locked, and
    ``confirmation_sent_at`` is set in the same transaction, so a second call (a redelivered
    event, a retried task) sends nothing. A failed send raises and marks nothing (the task
    retries). Returns whether it sent."""
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(pk=order_id, status=Order.Status.PAID, confirmation_sent_at=None)
        .exclude(email="")
        .first()
    )
    if order is None:
        return False
    with translation.override(order.language or settings.LANGUAGE_CODE):  # the buyer's page's
        context = {**order_display(order), "order_url": order_page_url(order)}
        message = EmailMultiAlternatives(
            subject=gettext("Your order at %(shop)s is confirmed") % {"shop": order.organization.name},
            body=render_to_string("emails/order_confirmation.txt", context),
            to=[order.email],
        )
        message.attach_alternative(render_to_string("emails/order_confirmation.html", context), "text/html")
    message.send()
    order.confirmation_sent_at = timezone.now()
    order.save(update_fields=["confirmation_sent_at"])
    logger.info("Order confirmation sent", extra={"order": order.pk})
    return True
