"""Product cues from an event's highlights: each feature becomes a cue at its position in the
recording; the next highlight (another feature, or a clear) ends it. Cues set by hand (SRT
import, the timeline editor) replace all of a recording's cues at once (replace_cues).

Every highlight of the recording's stream sessions is kept. One that falls after the recording's
end (stamped by the wall clock while the encoder ran slower than real time: events.media_clock)
is clamped to the end, shown for the last LATE_CUE_MS, with a warning in the log and on the
studio's page of the recording (``ProductCue.clamped_from_ms``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from events.exceptions import InvalidCues, SrtProblem
from events.models import Highlight
from events.srt_cues import CueSpec, format_ms
from recordings.models import ProductCue, Recording
from recordings.playlists import Timeline

logger = logging.getLogger(__name__)

# A highlight after the recording's end is shown this long before the end (each of several such
# highlights, in their order, one slot earlier).
LATE_CUE_MS = 1_000


def build_cues(recording: Recording, highlights: Iterable[Highlight], timeline: Timeline) -> list[ProductCue]:
    """Unsaved cues for ``highlights`` (in time order). The viewer shows one card at a time, so
    a cue ends where the next highlight starts; a cue replaced at the same position is dropped
    (it was never on screen). The last feature stays open (``end_ms`` None: until the end).
    Highlights after the end are clamped to it (placed_positions)."""
    highlights = list(highlights)
    cues: list[ProductCue] = []
    for highlight, (position, clamped_from) in zip(
        highlights, placed_positions(highlights, timeline), strict=True
    ):
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
                    clamped_from_ms=clamped_from,
                )
            )
    return cues


def placed_positions(highlights: Sequence[Highlight], timeline: Timeline) -> list[tuple[int, int | None]]:
    """Each highlight's position in the recording and, for one after its end, where it fell
    (else None). The late ones keep their order in the last seconds: the last at the end minus
    LATE_CUE_MS, each one before it a slot earlier; closer together when the cue before them
    starts near the end, so each is on screen a while."""
    end = timeline.duration_ms
    raw = [timeline.unclamped_ms(highlight.moment) for highlight in highlights]
    placed: list[tuple[int, int | None]] = [(max(0, min(position, end)), None) for position in raw]
    late = [i for i, position in enumerate(raw) if position > end]
    if not late:
        return placed
    before = [placed[i][0] for i in range(len(raw)) if raw[i] <= end]
    step = LATE_CUE_MS if not before else min(LATE_CUE_MS, (end - max(before)) // (len(late) + 1))
    for slot, i in enumerate(late):
        placed[i] = (max(0, end - step * (len(late) - slot)), raw[i])
    return placed


@transaction.atomic
def sync_product_cues(*, recording: Recording, timeline: Timeline) -> list[ProductCue]:
    """Make the recording's highlight cues match the event's highlights made between its start
    and end, and every highlight of its stream sessions (one after its end clamped to it, with a
    warning). Idempotent: upserts by (recording, highlight) and deletes cues of highlights no
    longer in the window; cues without a highlight (imported, edited) are left alone."""
    ours = Q(created_at__lte=recording.ended_at) | Q(session__in=recording.sessions.all())
    highlights = (
        Highlight.objects.filter(ours, event_id=recording.event_id, created_at__gte=recording.started_at)
        .select_related("session")
        .order_by("created_at", "id")
    )
    cues = build_cues(recording, highlights, timeline)
    for cue in cues:
        if cue.clamped_from_ms is not None:
            logger.warning(
                "A highlight fell after the end of its recording: its cue is clamped to the end",
                extra={
                    "recording_id": recording.pk,
                    "highlight_id": cue.highlight_id,
                    "at_ms": cue.clamped_from_ms,
                    "duration_ms": timeline.duration_ms,
                    "start_ms": cue.start_ms,
                },
            )
    ProductCue.objects.filter(recording=recording, highlight__isnull=False).exclude(
        highlight_id__in=[cue.highlight_id for cue in cues]
    ).delete()
    ProductCue.objects.bulk_create(
        cues,
        update_conflicts=True,
        unique_fields=["recording", "highlight"],
        update_fields=["product", "start_ms", "end_ms", "clamped_from_ms"],
    )
    return cues


@transaction.atomic
def replace_cues(*, recording: Recording, cues: Sequence[CueSpec], by) -> list[ProductCue]:
    """Make ``cues`` the recording's product cues (SRT import, the timeline editor), if ``by``
    may edit the brand's recordings. See replace_cues_as_operator for what it writes."""
    permissions.require(by, Action.EDIT_RECORDING, recording)
    return replace_cues_as_operator(recording=recording, cues=cues)


@transaction.atomic
def replace_cues_as_operator(*, recording: Recording, cues: Sequence[CueSpec]) -> list[ProductCue]:
    """replace_cues without a user, for whoever runs manage.py (as import_products). Locks the
    recording; checks every cue (InvalidCues lists each problem, nothing is written); deletes
    ALL its cues, those made from highlights too (the editor shows and edits every cue; only
    ``ingest_recording --force`` makes highlight cues again), and creates ``cues`` in time order.
    Returns the new cues."""
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    ordered = sorted(cues, key=lambda cue: cue.start_ms)
    if problems := _cue_problems(recording, ordered):
        raise InvalidCues(problems)
    recording.cues.all().delete()
    return ProductCue.objects.bulk_create(
        ProductCue(recording=recording, product=cue.product, start_ms=cue.start_ms, end_ms=cue.end_ms)
        for cue in ordered
    )


def _cue_problems(recording: Recording, cues: Sequence[CueSpec]) -> list[SrtProblem]:
    """Every reason ``cues`` (in time order) cannot be the recording's cues."""
    problems = []
    duration = recording.duration_ms
    for index, cue in enumerate(cues):
        reasons = []
        if cue.start_ms < 0:
            reasons.append(gettext("starts before the video (%(ms)s ms)") % {"ms": cue.start_ms})
        if cue.end_ms is not None and cue.end_ms <= cue.start_ms:
            reasons.append(gettext("ends before it starts"))
        if duration is not None and (cue.start_ms >= duration or (cue.end_ms or 0) > duration):
            reasons.append(gettext("goes past the end of the video (%(end)s)") % {"end": format_ms(duration)})
        if cue.product.organization_id != recording.organization_id:
            reasons.append(
                gettext("%(sku)s is not in %(brand)s's catalogue")
                % {"sku": cue.product.sku, "brand": recording.organization}
            )
        previous = cues[index - 1] if index else None
        if previous is not None and (previous.end_ms is None or cue.start_ms < previous.end_ms):
            reasons.append(gettext("overlaps the cue before it"))
        if cue.start_ms >= 0 and not cue.line:
            at = format_ms(cue.start_ms)
            reasons = [gettext("cue at %(time)s: %(reason)s") % {"time": at, "reason": r} for r in reasons]
        problems += [SrtProblem(cue.line, reason) for reason in reasons]
    return problems
