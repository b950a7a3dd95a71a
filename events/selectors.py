"""Reads for live events: the seller dashboard's lists and the go-live panel."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from catalog.models import Product
from events.models import WATCHABLE_STATUSES, EventProduct, LiveEvent, StreamSession
from events.payloads import may_watch

Status = LiveEvent.Status

# Dashboard groups, in page order: (key, heading, statuses).
EVENT_GROUPS = (
    ("live", "Live now", (Status.LIVE,)),
    ("upcoming", "Upcoming", (Status.SCHEDULED, Status.NEEDS_CHANNEL)),
    ("past", "Past", LiveEvent.CLOSED_STATUSES),
)

# Suggested encoder settings for a STANDARD IVS channel (and the local media server): IVS wants
# a 2 s keyframe interval, constant bitrate, H.264 and AAC-LC of at most 160 kbps.
ENCODER_SETTINGS = (
    ("Video", "H.264 (x264), Main profile, constant bitrate (CBR)"),
    ("Resolution", "1280x720 at 30 fps"),
    ("Video bitrate", "3,500 kbps"),
    ("Keyframe interval", "2 s (60 frames at 30 fps); B-frames off"),
    ("Audio", "AAC-LC, 160 kbps, 48 kHz, stereo"),
)
STREAM_KEY_PLACEHOLDER = "<stream key>"


def get_watchable_event(user, **lookup) -> LiveEvent:
    """The event matching ``lookup`` if ``user`` may watch it; Http404 otherwise (a private event
    looks the same as a missing one to people outside its brand). The viewer page, its QR codes,
    stream_details and the replay pages all find their event here."""
    queryset = LiveEvent.objects.select_related("organization").filter(status__in=WATCHABLE_STATUSES)
    event = get_object_or_404(queryset, **lookup)
    if not may_watch(user, event):
        raise Http404("No such event.")
    return event


def list_events(user, *, status: str = "", organization_id: int | None = None) -> QuerySet[LiveEvent]:
    """The events of the user's brands, newest start first, with their brand and lineup size."""
    events = permissions.scope(LiveEvent.objects.all(), user, Action.VIEW)
    if status:
        events = events.filter(status=status)
    if organization_id:
        events = events.filter(organization_id=organization_id)
    return events.select_related("organization").annotate(lineup_size=Count("lineup"))


def group_events(events) -> list[tuple[str, str, list[LiveEvent]]]:
    """``events`` split into the dashboard's groups (live, upcoming soonest first, past newest
    first); empty groups are left out."""
    groups = []
    for key, heading, statuses in EVENT_GROUPS:
        members = [event for event in events if event.status in statuses]
        if key == "upcoming":
            members.sort(key=lambda event: event.scheduled_start)
        if members:
            groups.append((key, heading, members))
    return groups


def event_status_counts(user) -> dict[str, int]:
    """How many of the user's brands' events are in each status (every status is a key)."""
    counts = dict.fromkeys(Status.values, 0)
    events = permissions.scope(LiveEvent.objects.all(), user, Action.VIEW).order_by()
    counts.update(events.values_list("status").annotate(n=Count("id")))
    return counts


def list_brands(user, action: Action = Action.VIEW) -> QuerySet[Organization]:
    """The brands in which ``user`` may perform ``action``, by name."""
    return permissions.scope(Organization.objects.all(), user, action).order_by("name")


def lineup_choices(organization: Organization, event: LiveEvent | None = None) -> QuerySet[Product]:
    """Products the brand may put in a lineup: its active ones, plus any already in ``event``'s
    lineup (so editing never drops one silently), by name."""
    condition = Q(is_active=True)
    if event is not None and event.pk:
        condition |= Q(pk__in=EventProduct.objects.filter(event=event).values("product_id"))
    return Product.objects.filter(condition, organization=organization).order_by("name", "pk")


def lineup_of(event: LiveEvent) -> QuerySet[EventProduct]:
    return EventProduct.objects.filter(event=event).select_related("product")


def sessions_of(event: LiveEvent) -> QuerySet[StreamSession]:
    return StreamSession.objects.filter(event=event).order_by("-created_at")


@dataclass(frozen=True)
class GoLivePanel:
    """What an encoder needs, without the stream key (the page shows it only when revealed)."""

    ingest_url: str
    playback_url: str
    settings: tuple[tuple[str, str], ...]
    ffmpeg_command: str


def go_live_panel(event: LiveEvent) -> GoLivePanel:
    """The ingest URL, suggested settings and a ready-made ffmpeg command with a key placeholder."""
    ingest = event.ingest_url if event.ingest_url.endswith("/") else f"{event.ingest_url}/"
    command = " \\\n  ".join(
        [
            "ffmpeg -re -stream_loop -1 -i input.mp4",
            "-c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p",
            "-s 1280x720 -r 30 -g 60 -keyint_min 60 -sc_threshold 0 -bf 0",
            "-b:v 3500k -minrate 3500k -maxrate 3500k -bufsize 7000k",
            "-c:a aac -b:a 160k -ar 48000 -ac 2",
            f'-f flv "{ingest}{STREAM_KEY_PLACEHOLDER}"',
        ]
    )
    return GoLivePanel(
        ingest_url=event.ingest_url,
        playback_url=event.playback_url,
        settings=ENCODER_SETTINGS,
        ffmpeg_command=command,
    )
