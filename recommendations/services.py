"""Related products beside the featured one, the same way on every page (``recommend_for``), and
training the local model (``train_brand``)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from analytics.models import ViewerInteraction
from catalog.models import Product, Variant
from commerce.models import Order, OrderLine
from recommendations import learning
from recommendations.backends import get_recommender
from recommendations.backends.local import LocalRecommender
from recommendations.exceptions import RecommenderUnavailable
from recommendations.interactions import brand_interactions, people_of, viewer_key
from recommendations.models import ForgottenPerson, PersonalOffer, StreamCursor, TrainedModel

logger = logging.getLogger(__name__)

RELATED = 6  # products in the "related" row
# Ask the backend for more than the row shows: some are filtered out (sold out, bought, inactive).
OVERFETCH = 4


def recommend_for(*, user, product: Product, n: int = RELATED) -> list[Product]:
    """Up to ``n`` products related to ``product``, best first: active, in stock, of the same
    brand, not ``product`` and not bought by ``user`` already. When the backend cannot answer
    (no campaign, throttled, unreachable) the brand's popular products stand in (logged)."""
    organization_id = product.organization_id
    backend = get_recommender()
    try:
        ids = backend.related(
            organization_id=organization_id,
            product_id=str(product.pk),
            viewer=viewer_key(user),
            n=n * OVERFETCH,
        )
    except RecommenderUnavailable as exc:
        logger.warning("Recommender unavailable, popular products instead: %s", exc)
        ids = []
    chosen = _available(organization_id, _ids(ids), user=user, exclude=product.pk)
    if len(chosen) < n:
        popular = _popular_ids(organization_id)
        extra = _available(
            organization_id, popular, user=user, exclude=product.pk, skip={p.pk for p in chosen}
        )
        chosen += extra
    return chosen[:n]


def without_bought(*, user, products: list[Product]) -> list[Product]:
    """``products`` less those ``user`` bought (a paid order): one query. For the related row of
    a signed-in viewer built from the shared answer (recommendations.views)."""
    bought = set(
        OrderLine.objects.filter(
            order__user=user,
            order__status=Order.Status.PAID,
            variant__product_id__in=[p.pk for p in products],
        ).values_list("variant__product_id", flat=True)
    )
    return [product for product in products if product.pk not in bought]


def bought_product_ids(*, user, brand_slug: str) -> list[int]:
    """The products of the brand ``brand_slug`` that ``user`` bought (a paid order), in id order:
    one query. A signed-in viewer's page fetches them once and leaves them out of the shared
    related row itself (static/js/viewer/related.js), so its per-card requests are everyone's."""
    return sorted(
        OrderLine.objects.filter(
            order__user=user, order__status=Order.Status.PAID, order__organization__slug=brand_slug
        )
        .values_list("variant__product_id", flat=True)
        .distinct()
    )


def related_depends_on_viewer() -> bool:
    """Whether the backend's related products differ per viewer (Personalize: userId and its
    purchase filter); the local model's do not, so every viewer may start from one answer."""
    return not isinstance(get_recommender(), LocalRecommender)


def _ids(values) -> list[int]:
    return [int(value) for value in values if str(value).isdigit()]


def _popular_ids(organization_id: int) -> list[int]:
    """The local model's popularity order (the cold-start answer), else the newest products."""
    backend = get_recommender()
    local = backend if isinstance(backend, LocalRecommender) else _fallback()
    popular = _ids(local.model(organization_id).popular)
    if popular:
        return popular
    return list(
        Product.objects.filter(organization_id=organization_id, is_active=True)
        .order_by("-created_at")
        .values_list("pk", flat=True)[:50]
    )


@functools.cache
def _fallback() -> LocalRecommender:
    """The local model's popular products, when another backend is configured."""
    return LocalRecommender()


def _available(organization_id: int, ids: list[int], *, user, exclude: int, skip=()) -> list[Product]:
    """``ids``' products a viewer may be shown, in the order of ``ids``, in one query."""
    wanted = [pk for pk in dict.fromkeys(ids) if pk != exclude and pk not in skip]
    if not wanted:
        return []
    in_stock = Variant.objects.filter(product=OuterRef("pk"), is_active=True, stock__gt=0)
    products = Product.objects.filter(pk__in=wanted, organization_id=organization_id, is_active=True).filter(
        Exists(in_stock)
    )
    if getattr(user, "is_authenticated", False):
        bought = OrderLine.objects.filter(
            order__user=user, order__status=Order.Status.PAID, variant__product=OuterRef("pk")
        )
        products = products.exclude(Exists(bought))
    found = {product.pk: product for product in products.prefetch_related("variants")}
    return [found[pk] for pk in wanted if pk in found]


def train_brand(
    *, organization: Organization, progress: Callable[[int, int], None] | None = None
) -> TrainedModel:
    """Train ``organization``'s local model from its interactions and store it (served by every
    process within LocalRecommender.MODEL_SECONDS)."""
    interactions = list(brand_interactions(organization))
    model = learning.train(interactions, progress=progress)
    with transaction.atomic():
        trained, _ = TrainedModel.objects.update_or_create(
            organization=organization,
            defaults={
                "trained_at": timezone.now(),
                "interactions": len(interactions),
                "products": len(model.neighbours),
                "data": model.to_json(),
            },
        )
    local = get_recommender()
    if isinstance(local, LocalRecommender):
        local.forget(organization.pk)  # this process serves the new model at once
    return trained


def train_all(*, progress: Callable[[str], None] | None = None) -> int:
    """Train every brand that has products; the scheduled task and ``train_recommender``."""
    count = 0
    for organization in Organization.objects.filter(products__isnull=False).distinct().order_by("pk"):
        trained = train_brand(organization=organization)
        count += 1
        if progress:
            progress(f"{organization}: {trained.interactions} interactions, {trained.products} products")
    return count


def forget_person(*, organization: Organization, user, by) -> int:
    """Delete ``user``'s interactions at ``organization`` (privacy): their reported clicks and
    adds (analytics) and personal offers go; their paid orders stay (the brand's accounts) but
    are never learned from or streamed again. Retrains the brand's model at once. Owners only.
    How many rows went."""
    permissions.require(by, Action.MANAGE_MEMBERS, organization)
    return forget_person_as_operator(organization=organization, user=user)


def forget_person_as_operator(*, organization: Organization, user) -> int:
    """forget_person without a permission check: ``manage.py forget_viewer``."""
    with transaction.atomic():
        deleted, _ = ViewerInteraction.objects.filter(organization=organization, user=user).delete()
        PersonalOffer.objects.filter(organization=organization, user=user).delete()
        for person in people_of(user):
            ForgottenPerson.objects.get_or_create(organization=organization, person=person)
    train_brand(organization=organization)
    return deleted


def stream_to_personalize(*, events=None) -> int:
    """Send every brand's interactions since the last run to Personalize's event tracker
    (RECOMMENDER_BACKEND=personalize with PERSONALIZE_TRACKING_ID); nothing otherwise. A brand's
    cursor moves only after its events went, so a failed run is retried whole (eventIds dedupe)."""
    from django.conf import settings

    from recommendations.backends.personalize import PersonalizeEvents

    if settings.RECOMMENDER_BACKEND != "personalize" or not settings.PERSONALIZE_TRACKING_ID:
        return 0
    events = events or PersonalizeEvents()
    sent = 0
    for organization in Organization.objects.filter(products__isnull=False).distinct().order_by("pk"):
        cursor = StreamCursor.objects.filter(organization=organization).first()
        now = timezone.now()
        new = list(brand_interactions(organization, since=cursor.sent_until if cursor else None))
        if new:
            sent += events.put(new)
        StreamCursor.objects.update_or_create(organization=organization, defaults={"sent_until": now})
    return sent
