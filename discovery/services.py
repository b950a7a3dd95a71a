"""Writes and side effects of product discovery: settings, one analysed frame, auto features."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts import permissions
from accounts.permissions import Action
from discovery import payloads, selectors
from discovery.detectors import DetectorError, get_detector
from discovery.models import AutoFeature, EventDiscovery
from discovery.tracker import Outcome, Tracker
from events import realtime
from events.exceptions import EventError
from events.models import Highlight, LiveEvent
from events.services import feature_product

logger = logging.getLogger(__name__)

# Automatic mode never replaces a card a person put up within this many seconds (issue 19).
MANUAL_GRACE_SECONDS = 30
# At most one automatic feature per this many seconds per event: far under the in-band cue
# limit (IVS PutMetadata: 5 calls/s per channel), and no card flicker between two products.
AUTO_MIN_GAP_SECONDS = 5


def new_tracker() -> Tracker:
    return Tracker(
        threshold=settings.DISCOVERY_THRESHOLD,
        consecutive=settings.DISCOVERY_CONSECUTIVE,
        resuggest=settings.DISCOVERY_RESUGGEST_SECONDS,
        dwell=settings.DISCOVERY_AUTO_DWELL,
    )


@transaction.atomic
def update_discovery_settings(*, event: LiveEvent, by, enabled: bool, auto_feature: bool) -> EventDiscovery:
    """Switch the event's detector and its automatic mode (hosts and owners). Automatic features
    are made in ``by``'s name from then on. Consoles hear the change after commit. Idempotent."""
    permissions.require(by, Action.HOST_EVENT, event)
    entry, _ = EventDiscovery.objects.select_for_update().get_or_create(event=event)
    entry.enabled = enabled
    entry.auto_feature = auto_feature and enabled
    entry.auto_by = by if entry.auto_feature else None
    entry.full_clean()
    entry.save(update_fields=["enabled", "auto_feature", "auto_by", "updated_at"])
    realtime.broadcast_to_studio_on_commit(
        event.pk, "discovery.settings", {"enabled": entry.enabled, "autoFeature": entry.auto_feature}
    )
    return entry


def analyse_frame(
    *, event: LiveEvent, frame: np.ndarray, tracker: Tracker, now: float, at: datetime
) -> Outcome:
    """Match one sampled frame, tell the consoles about new suggestions (with a thumbnail of the
    frame, which is not kept), and feature automatically when due. ``now`` is the sampler's
    monotonic clock (the tracker's), ``at`` the wall time. DetectorError propagates (the sampler
    reports it in the status)."""
    detections = get_detector().detect(
        frame, organization_id=event.organization_id, candidates=selectors.candidates_for(event)
    )
    outcome = tracker.observe(detections, now)
    products = selectors.products_by_id(d.product_id for d in outcome.on_screen)
    if outcome.suggest:
        frame_thumbnail = payloads.thumbnail(frame)
        for detection in outcome.suggest:
            payload = payloads.suggestion(
                detection, products[detection.product_id], at=at.isoformat(), frame_thumbnail=frame_thumbnail
            )
            realtime.broadcast_to_studio(event.pk, "discovery.suggestion", payload)
    if outcome.dwelled:
        auto_feature(event=event, detection=outcome.dwelled[0], at=at)
    outcome.products = products
    return outcome


def auto_feature(*, event: LiveEvent, detection, at: datetime) -> Highlight | None:
    """Feature ``detection``'s product through feature_product when the event is in automatic
    mode, it is in the lineup and not on the card already, no person featured anything within
    MANUAL_GRACE_SECONDS and no automatic feature was made within AUTO_MIN_GAP_SECONDS. None when
    it does not (or may not: the host who switched it on lost the role)."""
    entry = selectors.settings_of(event)
    if not (entry.enabled and entry.auto_feature and entry.auto_by_id and detection.in_lineup):
        return None
    latest = Highlight.objects.filter(event=event).order_by("-created_at", "-id").first()
    if latest is not None:
        if latest.product_id == detection.product_id:
            return None
        is_auto = AutoFeature.objects.filter(highlight=latest).exists()
        grace = AUTO_MIN_GAP_SECONDS if is_auto else MANUAL_GRACE_SECONDS
        if at - latest.created_at < timedelta(seconds=grace):
            return None
    product = selectors.products_by_id([detection.product_id])[detection.product_id]
    try:
        with transaction.atomic():
            highlight = feature_product(event=event, product=product, by=entry.auto_by)
            AutoFeature.objects.create(event=event, highlight=highlight, score=detection.score)
    except (EventError, PermissionDenied) as exc:
        logger.info("Automatic feature refused", extra={"event_id": event.pk, "reason": str(exc)[:200]})
        return None
    return highlight


def report_status(event_id: int, **status) -> None:
    """The consoles' "what the detector is doing" line (payloads.status)."""
    realtime.broadcast_to_studio(event_id, "discovery.status", payloads.status(**status))


__all__ = [
    "DetectorError",
    "analyse_frame",
    "auto_feature",
    "new_tracker",
    "report_status",
    "update_discovery_settings",
]
