"""Going live from the console's browser: who may, where the stream goes, and one browser tab
per event at a time.

The browser never holds a local event's stream key: ``publish_target`` reads it server-side for
the relay (events.services.reveal_stream_key: the host check and the reveal's log line). On IVS
the Web Broadcast SDK needs the key in the page, so ``ivs_broadcast_target`` gives it to the
brand's hosts only, answering a POST, just before the broadcast starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from broadcast.exceptions import (
    AlreadyPublishing,
    EventNotFound,
    NotAllowed,
    PublishRefused,
    WrongVideoBackend,
)
from events import services as event_services
from events.exceptions import EventError
from events.models import LiveEvent

logger = logging.getLogger(__name__)

LEASE_SECONDS = 30  # a publishing socket renews its lease every LEASE_SECONDS / 3
# IVS channel types and the Web Broadcast SDK's stream presets that fit them (IVS's limits:
# BASIC up to 480p at 1.5 Mbps; STANDARD and ADVANCED up to 1080p at 8.5 Mbps).
IVS_PRESETS = {
    "BASIC": ("BASIC_LANDSCAPE", "BASIC_PORTRAIT"),
    "STANDARD": ("STANDARD_LANDSCAPE", "STANDARD_PORTRAIT", "BASIC_FULL_HD_LANDSCAPE"),
    "ADVANCED_SD": ("BASIC_LANDSCAPE", "BASIC_PORTRAIT"),
    "ADVANCED_HD": ("STANDARD_LANDSCAPE", "STANDARD_PORTRAIT"),
}
# The local relay's presets: what the page asks the camera for, and MediaRecorder's bitrate.
LOCAL_PRESETS = (
    {
        "name": "720p",
        "label": "720p (1280x720, 2.5 Mbps)",
        "width": 1280,
        "height": 720,
        "bitrate": 2_500_000,
    },
    {"name": "480p", "label": "480p (854x480, 1.2 Mbps)", "width": 854, "height": 480, "bitrate": 1_200_000},
    {"name": "360p", "label": "360p (640x360, 800 kbps)", "width": 640, "height": 360, "bitrate": 800_000},
)


@dataclass(frozen=True)
class PublishTarget:
    event_id: int
    ingest_url: str  # rtmp://.../live/<stream key>: for the relay's command line only
    stream_key: str


def hostable_event(*, event_id: int, user) -> LiveEvent:
    """The event ``user`` may go live with: EventNotFound for none or another brand's (whose
    existence is not revealed), NotAllowed without the host role, PublishRefused when the event
    cannot go live (no channel, cancelled, ended by its host)."""
    event = LiveEvent.objects.select_related("organization").filter(pk=event_id).first()
    if event is None or not permissions.can(user, Action.VIEW, event):
        raise EventNotFound(gettext("No such event."))
    if not permissions.can(user, Action.HOST_EVENT, event):
        raise NotAllowed(gettext("Only the brand's hosts and owners can go live."))
    if not event.has_channel:
        raise PublishRefused(gettext("This event has no video channel yet."))
    if not event.may_go_live:
        raise PublishRefused(
            gettext("This event is %(status)s: it cannot go live again.")
            % {"status": event.get_status_display().lower()}
        )
    return event


def publish_target(*, event_id: int, user) -> PublishTarget:
    """Where the local relay publishes ``event_id`` for ``user`` (a host): its ingest URL with
    the key. WrongVideoBackend for an IVS event (the page uses the Web Broadcast SDK)."""
    event = hostable_event(event_id=event_id, user=user)
    if event.backend != "local":
        raise WrongVideoBackend(
            gettext("This event streams to Amazon IVS: the console uses the IVS broadcast SDK.")
        )
    try:
        key = event_services.reveal_stream_key(event=event, by=user)
    except EventError as exc:
        raise PublishRefused(str(exc)) from exc
    ingest = event.ingest_url if event.ingest_url.endswith("/") else f"{event.ingest_url}/"
    return PublishTarget(event_id=event.pk, ingest_url=f"{ingest}{key}", stream_key=key)


@dataclass(frozen=True)
class IvsTarget:
    stream_key: str
    ingest_endpoint: str  # the host name the SDK wants (no scheme, port or path)


def ivs_broadcast_target(*, event: LiveEvent, user) -> IvsTarget:
    """The stream key and ingest endpoint of an IVS event, for its hosts (the reveal is logged,
    the key never is). WrongVideoBackend for a local event: its key never leaves the server."""
    event = hostable_event(event_id=event.pk, user=user)
    if event.backend != "ivs":
        raise WrongVideoBackend(
            gettext("This event streams to the local media server: no key is needed here.")
        )
    try:
        key = event_services.reveal_stream_key(event=event, by=user)
    except EventError as exc:
        raise PublishRefused(str(exc)) from exc
    return IvsTarget(stream_key=key, ingest_endpoint=urlsplit(event.ingest_url).hostname or "")


def ivs_presets() -> tuple[str, ...]:
    return IVS_PRESETS.get(settings.IVS_CHANNEL_TYPE.upper(), IVS_PRESETS["STANDARD"])


# One tab per event ------------------------------------------------------------------------------


def _lease_key(event_id: int) -> str:
    return f"liveshop:broadcast:publishing:{event_id}"


async def claim_publishing(*, event_id: int, tab: str) -> None:
    """Take the event's publishing lease for browser tab ``tab`` (a tab reconnecting after a
    lost connection takes it back). AlreadyPublishing while another tab holds it."""
    if await cache.aadd(_lease_key(event_id), tab, LEASE_SECONDS):
        return
    holder = await cache.aget(_lease_key(event_id))
    if holder == tab:
        await cache.aset(_lease_key(event_id), tab, LEASE_SECONDS)
        return
    if holder is None and await cache.aadd(_lease_key(event_id), tab, LEASE_SECONDS):
        return  # it expired in between
    raise AlreadyPublishing(
        gettext("This event is already going live from another browser tab or window: stop it there first.")
    )


async def renew_publishing(*, event_id: int, tab: str) -> bool:
    """Extend the lease while ``tab`` holds it; False when it lost it (taken over)."""
    if await cache.aget(_lease_key(event_id)) != tab:
        return False
    await cache.aset(_lease_key(event_id), tab, LEASE_SECONDS)
    return True


async def release_publishing(*, event_id: int, tab: str) -> None:
    """Give the lease up if ``tab`` still holds it (a newer holder keeps it)."""
    if await cache.aget(_lease_key(event_id)) == tab:
        await cache.adelete(_lease_key(event_id))
