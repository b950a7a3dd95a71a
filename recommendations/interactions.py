"""What the local recommender learns from, read per brand from what Liveshop already records:
purchases (paid orders' lines), adds to cart (cart lines) and what viewers' players reported
(analytics.ViewerInteraction: cards clicked, added to the cart). People are keyed the same way the
Personalize backend names them (``viewer_key``): ``user:<id>`` when signed in; an anonymous cart
is its own person (``cart:<id>``), an order without an account its e-mail's keyed hash, an
anonymous viewer analytics' keyed viewer hash (``viewer:<hash>``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery

from accounts.models import Organization
from analytics.models import ViewerInteraction
from commerce.models import CartLine, Order, OrderLine
from recommendations.learning import Interaction
from recommendations.models import ForgottenPerson, PersonalOffer


def brand_interactions(organization: Organization, *, since=None) -> Iterator[Interaction]:
    """Every interaction at ``organization`` (after ``since``, a datetime, when given), except
    those of people it forgot (ForgottenPerson)."""
    forgotten = set(
        ForgottenPerson.objects.filter(organization=organization).values_list("person", flat=True)
    )
    for interaction in _every_interaction(organization, since):
        if interaction.user not in forgotten:
            yield interaction


def _every_interaction(organization: Organization, since) -> Iterator[Interaction]:
    lines = (
        OrderLine.objects.filter(order__organization=organization, order__status=Order.Status.PAID)
        .exclude(variant=None)
        .filter(**({"order__paid_at__gt": since} if since else {}))
        .values_list("order__user_id", "order__email", "variant__product_id", "order__paid_at")
    )
    for user_id, email, product_id, paid_at in lines.iterator(chunk_size=2000):
        if paid_at is not None:
            yield Interaction(_person(user_id, email), str(product_id), paid_at.timestamp(), "purchase")
    added = CartLine.objects.filter(
        cart__organization=organization, **({"added_at__gt": since} if since else {})
    )
    added = added.values_list("cart__user_id", "cart_id", "variant__product_id", "added_at")
    for user_id, cart_id, product_id, added_at in added.iterator(chunk_size=2000):
        who = f"user:{user_id}" if user_id else f"cart:{cart_id}"
        yield Interaction(who, str(product_id), added_at.timestamp(), "add_to_cart")

    reported = ViewerInteraction.objects.filter(
        organization=organization,
        kind__in=(ViewerInteraction.Kind.CLICK, ViewerInteraction.Kind.ADD_TO_CART),
        **({"last_at__gt": since} if since else {}),
    ).values_list("user_id", "viewer", "product_id", "last_at", "kind")
    for user_id, viewer, product_id, last_at, kind in reported.iterator(chunk_size=2000):
        who = f"user:{user_id}" if user_id else f"viewer:{viewer}"
        yield Interaction(who, str(product_id), last_at.timestamp(), kind)
    yield from _offers(organization, since)


def _offers(organization: Organization, since) -> Iterator[Interaction]:
    """Personal offers made (offer_shown) and bought at their price (offer_taken: a paid order of
    that viewer with the product while the offer ran)."""
    taken = (
        OrderLine.objects.filter(
            Q(order__user_id=OuterRef("user_id"), order__user__isnull=False)
            | Q(order__cart_id=OuterRef("cart_id")),
            order__status=Order.Status.PAID,
            order__created_at__gte=OuterRef("created_at"),
            order__created_at__lt=OuterRef("expires_at"),
            variant__product_id=OuterRef("product_id"),
        )
        .order_by("order__paid_at")
        .values("order__paid_at")[:1]
    )
    offers = PersonalOffer.objects.filter(organization=organization).annotate(taken_at=Subquery(taken))
    rows = offers.values_list("user_id", "cart_id", "product_id", "created_at", "taken_at")
    for user_id, cart_id, product_id, created_at, taken_at in rows.iterator(chunk_size=2000):
        who = f"user:{user_id}" if user_id else f"cart:{cart_id}"
        if since is None or created_at > since:
            yield Interaction(who, str(product_id), created_at.timestamp(), "offer_shown")
        if taken_at is not None and (since is None or taken_at > since):
            yield Interaction(who, str(product_id), taken_at.timestamp(), "offer_taken")


def people_of(user) -> list[str]:
    """Every key ``user`` may be known by here: signed in, and by their e-mail on guest orders."""
    keys = [f"user:{user.pk}"]
    if user.email:
        keys.append(_person(None, user.email))
    return keys


def _person(user_id: int | None, email: str) -> str:
    if user_id:
        return f"user:{user_id}"
    digest = hmac.new(settings.SECRET_KEY.encode(), email.strip().lower().encode(), hashlib.sha256)
    return f"email:{digest.hexdigest()[:24]}"


def viewer_key(user) -> str | None:
    """How backends name a viewer: signed-in users only (anonymous viewers get related products,
    which need no identity, and no personal ranking)."""
    return f"user:{user.pk}" if getattr(user, "is_authenticated", False) else None
