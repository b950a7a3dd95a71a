"""Invitations to private events: the brand invites e-mail addresses or shares invite links (with
an expiry and a use limit, revocable); invited viewers watch like the brand's own people.

``is_invited`` is the invitation half of the one watchability rule (accounts.permissions.may_watch),
which the viewer page, the stream_details API, the viewer socket and the replay all call. A
revoked link or a removed invitation takes access away at the next request or socket connect.

Secrets (invite link tokens, sign-in links) are random, shown or e-mailed once, and stored only as
keyed hashes; they never go into a log record, a message or another viewer's payload."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext

from accounts import permissions
from accounts import services as accounts
from accounts.permissions import Action
from events.exceptions import EventNotPrivate, InviteLinkInvalid
from events.models import Invitation, InviteLink, LiveEvent
from liveshop import crypto
from liveshop.tasks import enqueue_on_commit
from liveshop.video import (
    BackendUnavailable,
    RevokesViewerSessions,
    Throttled,
    VideoBackendError,
    get_video_backend,
)

logger = logging.getLogger(__name__)

MAX_EMAILS_PER_REQUEST = 200
MAX_LINK_DAYS = 90
MAX_LINK_USES = 10_000
INVITATION_SIGN_IN_TTL = timedelta(days=7)  # the link in an invitation e-mail
CONTINUE_SALT = "events.invitations.continue"
CONTINUE_MAX_AGE = 24 * 3600


# Reads ------------------------------------------------------------------------------------------


def active_invitations(event: LiveEvent) -> QuerySet[Invitation]:
    """The event's invitations that grant access: not removed, not through a withdrawn link."""
    return Invitation.objects.filter(event=event, revoked_at__isnull=True).filter(
        Q(link__isnull=True) | Q(link__revoked_at__isnull=True)
    )


def is_invited(user, event: LiveEvent) -> bool:
    """Whether ``user`` holds an invitation to ``event``: one naming them, or one for their e-mail
    address that nobody has claimed yet (accounts are made by the brand or by a one-time link to
    that address, so an account's address is its owner's)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    who = Q(user=user)
    email = accounts.normalise_email(user.email or "")
    if email:
        who |= Q(user__isnull=True, email=email)
    return active_invitations(event).filter(who).exists()


def list_invitations(event: LiveEvent) -> QuerySet[Invitation]:
    """The studio's list: everyone invited and not removed (those of withdrawn links included)."""
    return Invitation.objects.filter(event=event, revoked_at__isnull=True).select_related("user", "link")


def list_invite_links(event: LiveEvent) -> QuerySet[InviteLink]:
    return InviteLink.objects.filter(event=event)


def watch_path(event: LiveEvent) -> str:
    return reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})


def invite_url(token: str) -> str:
    """The shareable link: the secret after "#", so no server log or Referer ever holds it."""
    return f"{settings.SITE_URL.rstrip('/')}{reverse('viewer:invite')}#{token}"


def sign_in_url(token: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{reverse('sign-in-link')}#{token}"


# Writes: the studio -----------------------------------------------------------------------------


def _check_private(event: LiveEvent) -> None:
    if not event.is_private:
        raise EventNotPrivate(
            gettext("Only private events take invitations: a public event is open to everyone.")
        )


@transaction.atomic
def invite_emails(*, event: LiveEvent, emails: Iterable[str], by) -> list[Invitation]:
    """Invite each address (already-invited ones are skipped) and, after commit, e-mail each new
    one a one-time sign-in link to the event. Returns the new invitations."""
    permissions.require(by, Action.MANAGE_EVENTS, event)
    _check_private(event)
    wanted = list(dict.fromkeys(accounts.normalise_email(e) for e in emails if e.strip()))
    rows = Invitation.objects.filter(event=event, email__in=wanted)
    rows.filter(revoked_at__isnull=False).update(revoked_at=None)  # invited again: welcome back
    known = set(rows.values_list("email", flat=True))
    created = []
    for email in wanted:
        if email in known:
            continue
        invitation = Invitation(event=event, email=email, created_by=by)
        invitation.full_clean()
        invitation.save()
        created.append(invitation)
    letters = [_invitation_letter(event, invitation.email) for invitation in created]
    transaction.on_commit(lambda: _send_all(letters))
    return created


@transaction.atomic
def remove_invitation(*, invitation: Invitation, by) -> None:
    """Take one invited viewer's access away (at their next request or socket connect); an invite
    link they still hold does not bring them back. Idempotent."""
    permissions.require(by, Action.MANAGE_EVENTS, invitation.event)
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    holders = get_user_model().objects.filter(email__iexact=invitation.email) if invitation.email else []
    user_ids = {invitation.user_id} | {user.pk for user in holders}
    _cut_off_playback_on_commit(invitation.event, user_ids - {None})


@transaction.atomic
def create_invite_link(
    *, event: LiveEvent, by, expires_at: datetime, max_uses: int, label: str = ""
) -> tuple[InviteLink, str]:
    """A new invite link; returns it and its secret (shown to the host once, stored hashed)."""
    permissions.require(by, Action.MANAGE_EVENTS, event)
    _check_private(event)
    now = timezone.now()
    if not now < expires_at <= now + timedelta(days=MAX_LINK_DAYS):
        raise InviteLinkInvalid(
            gettext("An invite link expires in the future, within %(days)s days.") % {"days": MAX_LINK_DAYS}
        )
    if not 1 <= max_uses <= MAX_LINK_USES:
        raise InviteLinkInvalid(
            gettext("An invite link may be used 1 to %(max)s times.")
            % {"max": number_format(MAX_LINK_USES, force_grouping=True)}
        )
    token = secrets.token_urlsafe(24)
    link = InviteLink(
        event=event,
        label=label,
        token_digest=crypto.digest(token),
        expires_at=expires_at,
        max_uses=max_uses,
        created_by=by,
    )
    link.full_clean()
    link.save()
    return link, token


@transaction.atomic
def revoke_invite_link(*, link: InviteLink, by) -> InviteLink:
    """Stop the link and take access away from everyone who joined through it. Idempotent."""
    permissions.require(by, Action.MANAGE_EVENTS, link.event)
    InviteLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    link.refresh_from_db(fields=["revoked_at"])
    _cut_off_playback_on_commit(link.event, set(link.invitations.values_list("user_id", flat=True)) - {None})
    return link


def _cut_off_playback_on_commit(event: LiveEvent, user_ids: set[int]) -> None:
    """After commit: every socket of the event is asked to resync, so a removed viewer's open
    socket gets no snapshot and is closed at once (the others just get theirs again); and a task
    asks the video service to end these users' private playback (their tokens would otherwise
    play until they expire, up to 10 minutes)."""
    if not user_ids or not event.is_private:
        return
    from events import realtime

    topic = realtime.event_group_name(event.pk)
    transaction.on_commit(lambda: realtime.publish(topic, realtime.RESYNC))
    if not event.has_channel:
        return
    enqueue_on_commit("events.tasks.revoke_playback_task", event.pk, sorted(user_ids))


def revoke_playback(*, event_id: int, user_ids: list[int]) -> int:
    """End the private playback of each of these users who may no longer watch the event (IVS:
    StartViewerSessionRevocation; nothing on backends that sign nothing). Idempotent; returns how
    many were revoked. Throttled and BackendUnavailable propagate for the task to retry."""
    from accounts.permissions import may_watch
    from events.playback import viewer_id

    backend = get_video_backend()
    event = LiveEvent.objects.select_related("organization").filter(pk=event_id).first()
    if event is None or not event.has_channel or not isinstance(backend, RevokesViewerSessions):
        return 0
    revoked = 0
    for user in get_user_model().objects.filter(pk__in=user_ids).order_by("pk"):
        if may_watch(user, event):
            continue
        try:
            backend.revoke_viewer_sessions(event.channel_id, viewer_id(user))
        except (Throttled, BackendUnavailable):
            raise
        except VideoBackendError:  # e.g. the channel is gone: nothing plays on it any more
            logger.warning("Viewer playback not revoked", extra={"event_id": event.pk}, exc_info=True)
            continue
        revoked += 1
    return revoked


# Writes: invited viewers ------------------------------------------------------------------------


def find_invite_link(token: str) -> InviteLink:
    """The usable link with this secret, or InviteLinkInvalid saying why it is not."""
    link = (
        InviteLink.objects.select_related("event__organization")
        .filter(token_digest=crypto.digest(token))
        .first()
    )
    return _usable(link)


def get_usable_link(link_id: int) -> InviteLink:
    """The link with this id if it may still be used; InviteLinkInvalid otherwise."""
    return _usable(InviteLink.objects.select_related("event__organization").filter(pk=link_id).first())


def _usable(link: InviteLink | None) -> InviteLink:
    if link is None or not link.event.is_private or not link.event.is_watchable:
        raise InviteLinkInvalid(gettext("This invite link is not valid. Check that you copied all of it."))
    if link.revoked_at is not None:
        raise InviteLinkInvalid(gettext("This invite link was withdrawn by the brand."))
    if link.expires_at <= timezone.now():
        raise InviteLinkInvalid(gettext("This invite link has expired. Ask the brand for a new one."))
    if link.use_count >= link.max_uses:
        raise InviteLinkInvalid(gettext("This invite link has been used as many times as the brand allowed."))
    return link


@transaction.atomic
def accept_invite_link(*, link_id: int, user) -> LiveEvent:
    """Invite ``user`` through the link and return its event. Someone who may already watch uses
    nothing; otherwise one use is taken with a conditional UPDATE, so concurrent visitors can
    never take more uses than the limit. Raises InviteLinkInvalid."""
    from accounts.permissions import may_watch

    event = get_usable_link(link_id).event
    if may_watch(user, event):
        return event
    if _removed(event, user):
        raise InviteLinkInvalid(gettext("The brand has withdrawn your invitation to this show."))
    try:
        with transaction.atomic():
            Invitation.objects.create(event=event, user=user, link_id=link_id, joined_at=timezone.now())
    except IntegrityError:
        return event  # the same user's concurrent request invited them: no second use
    taken = InviteLink.objects.filter(
        pk=link_id, revoked_at__isnull=True, expires_at__gt=timezone.now(), use_count__lt=F("max_uses")
    ).update(use_count=F("use_count") + 1)
    if not taken:  # someone else took the last use meanwhile: the invitation is rolled back
        raise InviteLinkInvalid(gettext("This invite link has been used as many times as the brand allowed."))
    return event


def _removed(event: LiveEvent, user) -> bool:
    """Whether the brand removed this person's invitation (by account or by address)."""
    who = Q(user=user)
    email = accounts.normalise_email(user.email or "")
    if email:
        who |= Q(email=email)
    return Invitation.objects.filter(who, event=event, revoked_at__isnull=False).exists()


def record_visit(*, event: LiveEvent, user) -> None:
    """Mark the user's e-mail invitation as joined (the studio's "who joined"). Idempotent: one
    conditional UPDATE, nothing when there is no unclaimed invitation for their address."""
    email = accounts.normalise_email(getattr(user, "email", "") or "")
    if not email or not getattr(user, "is_authenticated", False):
        return
    if Invitation.objects.filter(event=event, user=user).exists():
        return
    try:
        with transaction.atomic():
            Invitation.objects.filter(event=event, user__isnull=True, email=email).update(
                user=user, joined_at=timezone.now()
            )
    except IntegrityError:
        pass  # a concurrent request claimed it first


def continue_token(*, link_id: int, email: str) -> str:
    """A signed note "this address may use invite link N", carried by the sign-in link's next URL
    (bound to the address: useless to anyone signed in as someone else)."""
    return signing.dumps({"l": link_id, "e": accounts.normalise_email(email)}, salt=CONTINUE_SALT)


def link_id_from_continue(value: str, *, user) -> int | None:
    try:
        data = signing.loads(value, salt=CONTINUE_SALT, max_age=CONTINUE_MAX_AGE)
    except signing.BadSignature:
        return None
    email = accounts.normalise_email(getattr(user, "email", "") or "")
    return data["l"] if email and data.get("e") == email else None


def send_invite_sign_in_link(*, link: InviteLink, email: str) -> None:
    """E-mail ``email`` a one-time sign-in link that ends by accepting ``link``. Quietly does
    nothing when the address must use its password or has too many open links (the page says
    the same either way, so it tells nobody which addresses have accounts)."""
    path = f"{reverse('viewer:invite-continue')}?c={continue_token(link_id=link.pk, email=email)}"
    _send_sign_in(email=email, event=link.event, next_url=path, ttl=accounts.SIGN_IN_LINK_TTL)


def send_invited_sign_in_link(*, email: str) -> None:
    """E-mail a fresh one-time link to an invited address (its invitation's link has expired).
    Quietly nothing for an address without an invitation to a watchable private event."""
    email = accounts.normalise_email(email)
    invitation = (
        Invitation.objects.filter(email=email, event__is_private=True)
        .filter(Q(user__isnull=True) | Q(user__email__iexact=email))
        .select_related("event__organization")
        .order_by("-created_at")
        .first()
    )
    if invitation is None or not invitation.event.is_watchable:
        return
    event = invitation.event
    _send_sign_in(email=email, event=event, next_url=watch_path(event), ttl=accounts.SIGN_IN_LINK_TTL)


def _send_sign_in(*, email: str, event: LiveEvent, next_url: str, ttl: timedelta) -> None:
    """The sign-in link's e-mail, written in the language of the page it was asked on."""
    try:
        _, token = accounts.create_sign_in_link(email=email, next_url=next_url, ttl=ttl)
    except accounts.SignInLinkRefused:
        logger.info("No sign-in link sent", extra={"event_id": event.pk})
        return
    context = {"event": event, "sign_in_url": sign_in_url(token), "minutes": int(ttl.total_seconds() // 60)}
    subject = gettext("Your sign-in link for %(title)s") % {"title": event.title}
    letter = Letter(subject, render_to_string("emails/sign_in_link.txt", context), email, event.pk)
    transaction.on_commit(lambda: _send_all([letter]))


@dataclass(frozen=True)
class Letter:
    """An e-mail written (in the active language) when it was decided on, sent after commit."""

    subject: str
    body: str
    to: str
    event_id: int


def _invitation_letter(event: LiveEvent, email: str) -> Letter:
    """The invitation, in the language of the studio page the brand invited from (the invitee's
    own is not known), its time in the brand's time zone."""
    context = {
        "event": event,
        "watch_url": f"{settings.SITE_URL.rstrip('/')}{watch_path(event)}",
        "new_link_url": f"{settings.SITE_URL.rstrip('/')}{reverse('viewer:invite-sign-in')}",
    }
    try:
        _, token = accounts.create_sign_in_link(
            email=email, next_url=watch_path(event), ttl=INVITATION_SIGN_IN_TTL
        )
    except accounts.SignInLinkRefused:
        pass  # the brand's own people, or a flooded mailbox: the e-mail says to log in
    else:
        context["sign_in_url"] = sign_in_url(token)
    subject = gettext("You're invited: %(title)s (%(brand)s)") % {
        "title": event.title,
        "brand": event.organization.name,
    }
    with timezone.override(event.organization.zone):
        body = render_to_string("emails/invitation.txt", context)
    return Letter(subject, body, email, event.pk)


def _send_all(letters: list[Letter]) -> None:
    for letter in letters:
        try:
            send_mail(letter.subject, letter.body, None, [letter.to])
        except Exception:  # one bad address must not stop the others; the log names no secret
            logger.warning("Invitation e-mail not sent", extra={"event_id": letter.event_id})
