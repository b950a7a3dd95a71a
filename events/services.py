"""Writes for live events: one function per use case, called by every entry point (dashboard,
admin, commands, webhooks). Network calls to the video backend run outside transactions.

Permissions: a service that takes ``by`` (the user acting) checks it first with
accounts.permissions.require, whoever calls it; there is no unchecked twin. A service for the
system alone (webhooks, tasks, the media server, manage.py) takes no ``by`` and its name says so
(``..._as_operator``, or the system event it handles); tests/test_permission_convention.py holds
every services module to this."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from catalog.models import Product
from events import extensions, media_clock, realtime, timed_metadata
from events.exceptions import ChannelUnavailable, EventNotEditable, ProductNotInBrand, ProductNotInLineup
from events.models import SLUG_TAKEN, EventProduct, Highlight, LiveEvent, StreamSession
from events.payloads import highlight_payload, studio_highlight_payload
from events.realtime import broadcast_to_event_on_commit
from liveshop import crypto
from liveshop.video import VideoBackendError, get_video_backend
from liveshop.video.base import LATENCY_LOW

logger = logging.getLogger(__name__)

Status = LiveEvent.Status


def _unique_slug(title: str, organization) -> str:
    """A free address for a new event of ``organization`` (slugs are unique within a brand)."""
    base = slugify(title)[:70] or "event"
    slug, n = base, 2
    while LiveEvent.objects.filter(organization=organization, slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def set_lineup(*, event: LiveEvent, products: Sequence[Product], by) -> LiveEvent:
    """Replace the event's lineup with ``products`` in that order. Every product must belong to
    the event's brand (ProductNotInBrand otherwise; nothing is written)."""
    permissions.require(by, Action.MANAGE_EVENTS, event)
    foreign = [p for p in products if p.organization_id != event.organization_id]
    if foreign:
        names = ", ".join(p.sku for p in foreign)
        raise ProductNotInBrand(
            gettext("Not in %(brand)s's catalogue: %(skus)s.") % {"brand": event.organization, "skus": names}
        )
    current = list(EventProduct.objects.filter(event=event).values_list("product_id", flat=True))
    if current == [p.pk for p in products]:
        return event
    EventProduct.objects.filter(event=event).delete()
    EventProduct.objects.bulk_create(
        EventProduct(event=event, product=product, position=i) for i, product in enumerate(products, 1)
    )
    broadcast_to_event_on_commit(event.pk, "lineup.changed", {"eventId": event.pk})
    return event


def create_event(
    *,
    organization,
    title: str,
    scheduled_start: datetime,
    by,
    slug: str = "",
    description: str = "",
    is_private: bool = False,
    is_recorded: bool = True,
    products: Sequence[Product] = (),
) -> LiveEvent:
    """Save the event with its lineup, then provision its channel. When the backend fails the
    event stays "needs channel" with the reason (retry with ``provision_channel``): an event is
    never left half-provisioned."""
    permissions.require(by, Action.MANAGE_EVENTS, organization)
    with transaction.atomic():
        event = LiveEvent(
            organization=organization,
            title=title,
            slug=slug or _unique_slug(title, organization),
            description=description,
            scheduled_start=scheduled_start,
            is_private=is_private,
            is_recorded=is_recorded,
            status=Status.NEEDS_CHANNEL,
            created_by=by,
        )
        event.full_clean()
        _save_unique(event)
        set_lineup(event=event, products=products, by=by)
    return provision_channel(event=event, by=by)


def provision_channel(*, event: LiveEvent, by) -> LiveEvent:
    """Create the event's video channel if it has none. Stores the channel's ids and URLs (and
    the stream key, encrypted, when the backend does not keep it) in one write; on a backend
    error records the reason and leaves the event "needs channel"."""
    permissions.require(by, Action.MANAGE_EVENTS, event)
    if event.has_channel:
        return event
    if event.is_closed:
        raise EventNotEditable(
            gettext("A %(status)s event gets no channel.") % {"status": event.get_status_display().lower()}
        )
    backend = get_video_backend()
    try:
        channel = backend.create_channel(
            f"{event.organization.slug}-{event.pk}",
            latency=LATENCY_LOW,
            record=event.is_recorded,
            private=event.is_private,
        )
    except VideoBackendError as exc:
        logger.warning("Channel provisioning failed", extra={"event_id": event.pk, "error": str(exc)})
        event.provisioning_error = str(exc)
        event.save(update_fields=["provisioning_error", "updated_at"])
        return event
    try:
        with transaction.atomic():
            event = LiveEvent.objects.select_for_update().get(pk=event.pk)
            event.backend = backend.name
            event.channel_id = channel.id
            event.ingest_url = channel.ingest_url
            event.playback_url = channel.playback_url
            _store_stream_key(event, backend, channel.stream_key)
            event.provisioning_error = ""
            if event.status == Status.NEEDS_CHANNEL:
                event.status = Status.SCHEDULED
            event.save()
    except Exception:
        backend.delete_channel(channel.id)  # never leave an orphan channel behind
        raise
    return event


def _store_stream_key(event: LiveEvent, backend, stream_key: str) -> None:
    if backend.stores_stream_keys:
        event.stream_key_encrypted = event.stream_key_digest = ""
    else:
        event.stream_key_encrypted = crypto.encrypt(stream_key)
        event.stream_key_digest = crypto.digest(stream_key)


@transaction.atomic
def update_event(*, event: LiveEvent, by, products: Sequence[Product] | None = None, **fields) -> LiveEvent:
    """Change title, slug, description, start time or thumbnail, and the lineup when ``products``
    is given, together or not at all. Privacy and recording are fixed once the channel exists
    (IVS cannot update a live channel; a new event is clearer)."""
    permissions.require(by, Action.MANAGE_EVENTS, event)
    if event.is_closed:
        raise EventNotEditable(
            gettext("This event is %(status)s; it can no longer change.")
            % {"status": event.get_status_display().lower()}
        )
    allowed = {"title", "slug", "description", "scheduled_start", "thumbnail"}
    if not event.has_channel:
        allowed |= {"is_private", "is_recorded"}
    changed = [name for name, value in fields.items() if name in allowed and getattr(event, name) != value]
    for name in changed:
        setattr(event, name, fields[name])
    event.full_clean()
    _save_unique(event, update_fields=[*changed, "updated_at"])
    if products is not None:
        set_lineup(event=event, products=products, by=by)
    return event


def _save_unique(event: LiveEvent, **kwargs) -> None:
    """Save, turning a slug taken by a concurrent request into the same error full_clean gives."""
    try:
        with transaction.atomic():
            event.save(**kwargs)
    except IntegrityError as exc:
        raise ValidationError({"slug": SLUG_TAKEN}) from exc


def reveal_stream_key(*, event: LiveEvent, by) -> str:
    """The stream key, for the event brand's hosts and owners only (read from IVS, or decrypted
    from the row). The reveal is logged; the key never is."""
    permissions.require(by, Action.HOST_EVENT, event)
    if not event.has_channel:
        raise ChannelUnavailable(gettext("This event has no channel yet."))
    logger.info("Stream key revealed", extra={"event_id": event.pk, "user_id": by.pk})
    if event.stream_key_encrypted:
        try:
            return crypto.decrypt(event.stream_key_encrypted)
        except ValueError as exc:
            raise ChannelUnavailable(
                gettext(
                    "The stored stream key cannot be read (LIVESHOP_ENCRYPTION_KEYS changed); rotate the key."
                )
            ) from exc
    try:
        return get_video_backend().get_stream_key(event.channel_id)
    except VideoBackendError as exc:
        raise ChannelUnavailable(str(exc)) from exc


def rotate_stream_key(*, event: LiveEvent, by) -> str:
    """Revoke the current key (a live encoder using it is cut off) and return the new one."""
    permissions.require(by, Action.HOST_EVENT, event)
    if not event.has_channel:
        raise ChannelUnavailable(gettext("This event has no channel yet."))
    new_key = _revoke_key(event)
    logger.info("Stream key rotated", extra={"event_id": event.pk, "user_id": by.pk})
    return new_key


def _revoke_key(event: LiveEvent) -> str:
    """Rotate the key, store the new one, then stop the stream again: an encoder that
    reconnected with the old key before the new one was stored is cut off too."""
    backend = get_video_backend()
    try:
        new_key = backend.rotate_stream_key(event.channel_id)
        _store_stream_key(event, backend, new_key)
        event.save(update_fields=["stream_key_encrypted", "stream_key_digest", "updated_at"])
        backend.stop_stream(event.channel_id)
    except VideoBackendError as exc:
        raise ChannelUnavailable(str(exc)) from exc
    return new_key


END_REASON_HOST = "ended by host"


def end_event(*, event: LiveEvent, by) -> LiveEvent:
    """End the show: revoke the stream key (encoders reconnect on their own after a plain stop),
    stop the stream, close open sessions and tell viewers. Also for an event whose stream
    already dropped, so its encoder cannot come back. Idempotent."""
    permissions.require(by, Action.HOST_EVENT, event)
    if event.ended_by_host_at is not None:
        return event
    if event.status not in (Status.LIVE, Status.SCHEDULED, Status.ENDED):
        raise EventNotEditable(
            gettext("A %(status)s event cannot be ended.") % {"status": event.get_status_display().lower()}
        )
    if event.has_channel:
        _revoke_key(event)  # a network call: outside the transaction
    with transaction.atomic():
        # The event's row first, as the media server's and IVS's stream news lock it
        # (stream_state.apply_stream_event) before its sessions: the other order deadlocked.
        LiveEvent.objects.select_for_update().filter(pk=event.pk).values_list("pk", flat=True).first()
        now = timezone.now()
        StreamSession.objects.filter(event=event, ended_at=None).update(
            ended_at=now, end_reason=END_REASON_HOST
        )
        event.status = Status.ENDED
        event.status_changed_at = event.ended_by_host_at = now
        event.save(update_fields=["status", "status_changed_at", "ended_by_host_at", "updated_at"])
        broadcast_to_event_on_commit(event.pk, "stream.state", {"status": event.status})
    return event


def cancel_event(*, event: LiveEvent, by) -> LiveEvent:
    """Cancel an event that has not gone live, deleting its channel. Idempotent."""
    permissions.require(by, Action.MANAGE_EVENTS, event)
    if event.status == Status.CANCELLED:
        return event
    if event.status in (Status.LIVE, Status.ENDED):
        raise EventNotEditable(
            gettext("Only an event that has not gone live can be cancelled; end it instead.")
        )
    _delete_channel(event)
    event.status = Status.CANCELLED
    event.status_changed_at = timezone.now()
    event.channel_id = event.ingest_url = event.playback_url = ""
    event.stream_key_encrypted = event.stream_key_digest = ""
    event.save(
        update_fields=[
            "status",
            "status_changed_at",
            "channel_id",
            "ingest_url",
            "playback_url",
            "stream_key_encrypted",
            "stream_key_digest",
            "updated_at",
        ]
    )
    broadcast_to_event_on_commit(event.pk, "stream.state", {"status": event.status})
    return event


def delete_event(*, event: LiveEvent, by) -> None:
    """Delete the event and its channel. Refused while live. Idempotent on the channel."""
    permissions.require(by, Action.MANAGE_EVENTS, event)
    if event.is_live:
        raise EventNotEditable(gettext("End the live stream before deleting the event."))
    _delete_channel(event)
    event.delete()


def _delete_channel(event: LiveEvent) -> None:
    if not event.has_channel:
        return
    try:
        get_video_backend().delete_channel(event.channel_id)
    except VideoBackendError as exc:
        raise ChannelUnavailable(str(exc)) from exc


# A second click on the same product within this window is the same feature (double click).
DOUBLE_CLICK_SECONDS = 2


@transaction.atomic
def feature_product(
    *, event: LiveEvent, product: Product, by, stream_offset_ms: int | None = None
) -> Highlight:
    """Show ``product`` to the event's viewers. Locks the event; writes a Highlight with its
    offset into the live stream session (``stream_offset_ms`` when the caller knows the moment
    exactly, as a pre-recorded show's media clock does; else the stream's media time where the
    media server knows it, asked before the lock: events.media_clock; else now minus the
    session's start);
    after commit sends the in-band cue (when live) and broadcasts the card. Featuring before
    going live shows the card and records no cue. A repeat of the newest highlight within
    DOUBLE_CLICK_SECONDS returns it unchanged."""
    permissions.require(by, Action.HOST_EVENT, event)
    media_ms = media_clock.media_time_ms(event) if stream_offset_ms is None else None
    event = _locked(event)
    if event.is_closed:
        raise EventNotEditable(
            gettext("This event is %(status)s.") % {"status": event.get_status_display().lower()}
        )
    if product.organization_id != event.organization_id:
        raise ProductNotInBrand(
            gettext("%(sku)s is not in %(brand)s's catalogue.")
            % {"sku": product.sku, "brand": event.organization}
        )
    now = timezone.now()
    state = _feature_state(event, product, now)
    if not state["in_lineup"]:
        raise ProductNotInLineup(gettext("%(name)s is not in this event's lineup.") % {"name": product.name})
    if (
        state["latest_id"] is not None
        and state["latest_product_id"] == product.pk
        and (now - state["latest_at"]).total_seconds() < DOUBLE_CLICK_SECONDS
    ):
        return Highlight.objects.get(pk=state["latest_id"])
    return _highlight(
        event=event,
        product=product,
        by=by,
        now=now,
        stream_offset_ms=stream_offset_ms,
        media_ms=media_ms,
        session=(state["session_id"], state["session_started_at"]),
        deals=None if state["deal_may_run"] else {},
    )


# What featuring reads from the locked event row: what may have changed since the caller loaded it.
_LOCKED_FIELDS = ("status", "channel_id", "slug")


def _locked(event: LiveEvent) -> LiveEvent:
    """``event`` with its row locked (FOR UPDATE) and its status, channel and slug read again; a
    copy, the caller's object is left as it was. A fixed statement: the ORM's full reload cost
    ~1 ms of CPU to build on the click's path, this ~0.1."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"{_LOCK_SQL}{lock}", [event.pk])
        row = cursor.fetchone()
    if row is None:
        raise LiveEvent.DoesNotExist(gettext("The event no longer exists."))
    locked = copy.copy(event)
    for name, value in zip(_LOCKED_FIELDS, row, strict=True):
        setattr(locked, name, value)
    return locked


# Names from the model; the id is a parameter.
_LOCK_SQL = f"SELECT {', '.join(_LOCKED_FIELDS)} FROM {LiveEvent._meta.db_table} WHERE id = %s"  # noqa: S608


def _feature_state(event: LiveEvent, product: Product, now: datetime) -> dict:
    """What featuring needs to know besides the event, in one round trip: whether ``product`` is
    in the lineup, the newest highlight (id, product, time), the open stream session (id,
    start) and whether a flash deal may run in the event at ``now`` (events.extensions.
    card_deal_probe: when none can, the card reads no deals after commit, where every round trip
    waits on the cue's thread for the interpreter). Read after the event's lock is granted, as
    its own statement: its snapshot holds every highlight committed before that (a subquery of
    the locking statement would not), and no deal starts meanwhile (starting one locks the event
    too). A fixed statement: the ORM queries it replaces cost ~2.5 ms of CPU to build, this ~0.2.
    """
    sql, params = _FEATURE_STATE_SQL, [event.pk, product.pk] + [event.pk] * 5
    probe = extensions.card_deal_probe(event.pk, now)
    sql, params = (f"{sql}, {probe[0]}", params + list(probe[1])) if probe else (f"{sql}, 1", params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    keys = ("in_lineup", "latest_id", "latest_product_id", "latest_at", "session_id", "session_started_at")
    state = dict(zip((*keys, "deal_may_run"), row, strict=True))
    for key in ("latest_at", "session_started_at"):  # SQLite (the demo) answers naive UTC
        value = state[key]
        if isinstance(value, str):
            value = parse_datetime(value)
        if value is not None and timezone.is_naive(value):
            state[key] = timezone.make_aware(value, UTC)
    return state


_LATEST = f"FROM {Highlight._meta.db_table} WHERE event_id = %s ORDER BY created_at DESC, id DESC LIMIT 1"
_OPEN_SESSION = (
    f"FROM {StreamSession._meta.db_table} WHERE event_id = %s AND ended_at IS NULL"
    " AND started_at IS NOT NULL ORDER BY started_at DESC LIMIT 1"
)
_LINEUP = f"FROM {EventProduct._meta.db_table} WHERE event_id = %s AND product_id = %s"
# Table names from the models; every value is a parameter.
_FEATURE_STATE_SQL = (
    f"SELECT EXISTS(SELECT 1 {_LINEUP}),"
    f" (SELECT id {_LATEST}), (SELECT product_id {_LATEST}), (SELECT created_at {_LATEST}),"
    f" (SELECT id {_OPEN_SESSION}), (SELECT started_at {_OPEN_SESSION})"
)


def _open_sessions(event):
    """The event's started, not ended stream sessions, newest start first."""
    return StreamSession.objects.filter(event=event, ended_at=None, started_at__isnull=False).order_by(
        "-started_at"
    )


@transaction.atomic
def clear_highlight(*, event: LiveEvent, by) -> Highlight:
    """Take the product card down (a highlight without a product, cued like the others)."""
    permissions.require(by, Action.HOST_EVENT, event)
    media_ms = media_clock.media_time_ms(event)
    event = LiveEvent.objects.select_for_update().get(pk=event.pk)
    if event.is_closed:
        raise EventNotEditable(
            gettext("This event is %(status)s.") % {"status": event.get_status_display().lower()}
        )
    latest = event.highlights.first()
    if latest is None or latest.is_clear:
        return latest or _highlight(event=event, product=None, by=by, now=timezone.now(), media_ms=media_ms)
    return _highlight(event=event, product=None, by=by, now=timezone.now(), media_ms=media_ms)


def _highlight(
    *,
    event: LiveEvent,
    product: Product | None,
    by,
    now,
    stream_offset_ms: int | None = None,
    media_ms: int | None = None,
    session: tuple[int | None, datetime | None] | None = None,
    deals: dict | None = None,
) -> Highlight:
    """``session``: the open stream session's (id, started_at) when the caller has read it;
    ``media_ms``: the stream's media time (events.media_clock), used when plausible; ``deals``:
    the event's running deals when known (``{}``: none can run), else the card reads them."""
    if session is None:
        session = _open_sessions(event).values_list("pk", "started_at").first() or (None, None)
    session_id, session_started_at = session
    live = event.is_live and session_id is not None
    origin_ms = None  # the encoder's clock at the session's offset 0, when it stamped
    if live and stream_offset_ms is None:
        stamp = media_clock.session_stamp(
            event_id=event.pk, session=(session_id, session_started_at), media_ms=media_ms, now=now
        )
        stream_offset_ms, origin_ms = stamp.offset_ms, stamp.origin_ms
    highlight = Highlight.objects.create(
        event=event,
        product=product,
        session_id=session_id if live else None,
        featured_by=by,
        offset_ms=max(0, stream_offset_ms) if live else None,
        cue_state=Highlight.CueState.PENDING if live else Highlight.CueState.NOT_LIVE,
    )
    message = "product.cleared" if product is None else "product.featured"
    # After commit, in this order: the cue leaves (timing-critical: built now, it needs nothing
    # more from the database), then the card is built (the flash deal and the variants: reads
    # the cue no longer waits for) and goes to the viewers (thousands of sockets: their publish
    # also bumps the event's shared-page version), then to the consoles. Consoles still hear of
    # the highlight before any cue.state frame about it: the cue thread holds those until their
    # frame has gone.
    if live:
        timed_metadata.send_cue_on_commit(highlight, console_frame_follows=True)
    transaction.on_commit(lambda: _announce(highlight, message, cued=live, deals=deals, origin_ms=origin_ms))
    return highlight


def _announce(
    highlight: Highlight, message: str, *, cued: bool, deals: dict | None = None, origin_ms: int | None = None
) -> None:
    """Publish a committed highlight to the event's viewers, then its consoles: the card built
    once for both, with the product's flash deal if one runs (one query, so a viewer's card never
    shows a deal's end that did not happen) and its variants (kept on the product: the view's
    answer reuses them). Viewers first: the fan-out to thousands of sockets starts the moment the
    card is built; a host's console is one socket, and its answer to the click carries the card.
    Viewers also get ``mediaOriginMs``, the encoder's clock at the session's offset 0 (null when
    the wall clock stamped it): a live page maps the highlight to its video's timestamps by it."""
    product = highlight.product
    try:
        if product is None:
            deals = None
        else:
            if deals is None:
                deals = extensions.card_deals(highlight.event_id)
            prefetch_related_objects([product], "variants")
        card = highlight_payload(highlight, deals=deals)
        realtime.broadcast_to_event(highlight.event_id, message, {**card, "mediaOriginMs": origin_ms})
        realtime.broadcast_to_studio(
            highlight.event_id, message, studio_highlight_payload(highlight, card=card)
        )
    finally:
        if cued:
            timed_metadata.console_frame_sent(highlight.pk)
