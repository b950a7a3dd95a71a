"""Product cues from an event's highlights: each feature becomes a cue at its position in the
recording; the next highlight (another feature, or a clear) ends it."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from events.models import Highlight
from recordings.models import ProductCue, Recording
from recordings.playlists import Timeline


def build_cues(recording: Recording, highlights: Iterable[Highlight], timeline: Timeline) -> list[ProductCue]:
    """Unsaved cues for ``highlights`` (in time order). The viewer shows one card at a time, so
    a cue ends where the next highlight starts; a cue replaced at the same position is dropped
    (it was never on screen). The last feature stays open (``end_ms`` None: until the end)."""
    cues: list[ProductCue] = []
    for highlight in highlights:
        position = timeline.position_ms(highlight.created_at)
        if cues and cues[-1].end_ms is None:
            if position > cues[-1].start_ms:
                cues[-1].end_ms = position
            else:
                cues.pop()
        if highlight.product_id is not None:
            cues.append(
                ProductCue(
                    recording=recording,
                    product_id=highlight.product_id,
                    highlight=highlight,
                    start_ms=position,
                )
            )
    return cues


@transaction.atomic
def sync_product_cues(*, recording: Recording, timeline: Timeline) -> list[ProductCue]:
    """Make the recording's highlight cues match the event's highlights made between its start
    and end. Idempotent: upserts by (recording, highlight) and deletes cues of highlights no
    longer in the window; cues without a highlight (imported, edited) are left alone."""
    highlights = Highlight.objects.filter(
        event_id=recording.event_id,
        created_at__gte=recording.started_at,
        created_at__lte=recording.ended_at,
    ).order_by("created_at", "id")
    cues = build_cues(recording, highlights, timeline)
    ProductCue.objects.filter(recording=recording, highlight__isnull=False).exclude(
        highlight_id__in=[cue.highlight_id for cue in cues]
    ).delete()
    ProductCue.objects.bulk_create(
        cues,
        update_conflicts=True,
        unique_fields=["recording", "highlight"],
        update_fields=["product", "start_ms", "end_ms"],
    )
    return cues
