"""The show lists of the home page and a brand's page (``/b/<brand>/``): live now, upcoming and
replays, only what anyone may watch.

"Anyone may watch" is the watch rule (events.selectors.watch_rule) for a signed-out viewer: a
watchable status and not private. The lists are the same for every viewer, signed in or not, so
the anonymous page can be shared (events.views.discover); the brand's own people find their
private and unpublished shows in the studio. Each section is one bounded query."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Organization
from events import extensions
from events.models import LiveEvent

Status = LiveEvent.Status

SECTION_LIMIT = 12  # cards per section: the lists are a shop window, not an archive


@dataclass(frozen=True)
class Shows:
    """What a show list page lists, each section in its order (soonest, newest)."""

    live: list[LiveEvent] = field(default_factory=list)
    upcoming: list[LiveEvent] = field(default_factory=list)
    replays: list[dict] = field(default_factory=list)  # recordings.listings.replay_card

    @property
    def is_empty(self) -> bool:
        return not (self.live or self.upcoming or self.replays)


def public_events(organization: Organization | None = None) -> QuerySet[LiveEvent]:
    """Events whose page anyone may open (watch_rule for a signed-out viewer), with their brand."""
    events = LiveEvent.objects.filter(status__in=(Status.LIVE, Status.SCHEDULED), is_private=False)
    if organization is not None:
        events = events.filter(organization=organization)
    return events.select_related("organization")


def list_shows(organization: Organization | None = None, *, limit: int = SECTION_LIMIT) -> Shows:
    """Live shows (latest to start first), upcoming ones (soonest first) and replays (newest
    first), of one brand or all: three queries, whatever the number of shows."""
    events = public_events(organization)
    live = events.filter(status=Status.LIVE).order_by("-status_changed_at", "-id")[:limit]
    upcoming = events.filter(status=Status.SCHEDULED).order_by("scheduled_start", "id")[:limit]
    brand_id = organization.pk if organization else None
    replays = extensions.public_replays(organization_id=brand_id, limit=limit)
    return Shows(live=list(live), upcoming=list(upcoming), replays=list(replays))


def get_brand(slug: str) -> Organization:
    """The brand of a brand page; Http404 for none."""
    return get_object_or_404(Organization, slug=slug)
