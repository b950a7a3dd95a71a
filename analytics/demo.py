"""A little history for ``make demo``: an earlier Northwind show (ended last week) with viewers,
featured products and card clicks, so the studio's analytics have a curve to show before the
demo show has had any viewer. Idempotent: an existing history is left as it is."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from analytics.models import Source, ViewerInteraction, WatchMinute
from events.models import Highlight, LiveEvent

SLUG = "northwind-autumn-preview"
VIEWERS = 60
MINUTES = 40


@transaction.atomic
def seed_show_history(*, brand, products, host) -> LiveEvent:
    """The ended show ``SLUG`` of ``brand`` with its highlights and roll-ups (made once)."""
    start = (timezone.now() - timedelta(days=7)).replace(second=0, microsecond=0)
    event, created = LiveEvent.objects.get_or_create(
        organization=brand,
        slug=SLUG,
        defaults={
            "title": "Northwind Autumn Preview",
            "description": "Last week's show: the autumn layers, live.",
            "scheduled_start": start,
            "status": LiveEvent.Status.ENDED,
            "status_changed_at": start + timedelta(minutes=MINUTES),
            "is_recorded": False,
            "created_by": host,
        },
    )
    if not created or WatchMinute.objects.filter(event=event).exists():
        return event
    rng = random.Random(17)
    highlights = []
    for i, product in enumerate(products[:5]):
        highlight = Highlight.objects.create(event=event, product=product, featured_by=host)
        Highlight.objects.filter(pk=highlight.pk).update(created_at=start + timedelta(minutes=4 + i * 7))
        highlight.created_at = start + timedelta(minutes=4 + i * 7)
        highlights.append(highlight)
    minutes, interactions = [], []
    for v in range(VIEWERS):
        viewer = hashlib.sha256(f"demo-viewer-{v}".encode()).hexdigest()[:32]
        arrive = int(abs(rng.gauss(3, 4)))
        stay = max(2, int(rng.expovariate(1 / 18)))
        base = {"stream": f"live:{event.pk}", "organization": brand, "event": event, "source": Source.LIVE}
        for m in range(arrive, min(MINUTES, arrive + stay)):
            when = start + timedelta(minutes=m)
            minutes.append(WatchMinute(**base, viewer=viewer, minute=when, watched_ms=60_000))
        for highlight in highlights:
            at = highlight.created_at
            if not start + timedelta(minutes=arrive) <= at < start + timedelta(minutes=arrive + stay):
                continue
            kinds = (
                ["impression"] + ["click"] * (rng.random() < 0.35) + ["add_to_cart"] * (rng.random() < 0.12)
            )
            for kind in kinds:
                interactions.append(
                    ViewerInteraction(
                        **base, viewer=viewer, kind=kind, product=highlight.product, highlight=highlight,
                        moment=f"h{highlight.pk}", count=1, first_at=at, last_at=at,
                    )
                )  # fmt: skip
    WatchMinute.objects.bulk_create(minutes)
    ViewerInteraction.objects.bulk_create(interactions)
    return event
