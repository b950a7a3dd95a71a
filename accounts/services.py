"""Writes for accounts: viewers' sign-ups, and one-time sign-in links (e-mailed to viewers invited
to private events).

A link's secret is random, e-mailed once and stored only as a keyed hash (liveshop.crypto.digest);
it works once (a conditional UPDATE claims it, so two clicks cannot both sign in) and only before
it expires. It signs in viewer accounts only: an address belonging to a brand's people, staff or a
superuser must log in with its password (and the login throttle), so a mailbox never becomes a
way around them."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from accounts import permissions
from accounts.models import Membership, Organization, SignInLink
from accounts.permissions import Action
from liveshop import crypto

SIGN_IN_LINK_TTL = timedelta(minutes=30)
MAX_OPEN_LINKS_PER_EMAIL = 5  # unused, unexpired links at once: more is someone flooding a mailbox


class SignInLinkRefused(Exception):
    """No link may be made for this address now (a staff account, or too many open links)."""


class SignInLinkInvalid(Exception):
    """The link is unknown, used or expired; the message is safe to show."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def may_sign_in_by_link(email: str) -> bool:
    """Whether a one-time link may sign ``email`` in: no account yet, or exactly one active viewer
    account (not staff, not a superuser, in no brand)."""
    users = list(get_user_model().objects.filter(email__iexact=normalise_email(email))[:2])
    if not users:
        return True
    if len(users) > 1:
        return False
    user = users[0]
    return (
        user.is_active
        and not user.is_staff
        and not user.is_superuser
        and not Membership.objects.filter(user=user).exists()
    )


@transaction.atomic
def create_sign_in_link(
    *, email: str, next_url: str, ttl: timedelta = SIGN_IN_LINK_TTL
) -> tuple[SignInLink, str]:
    """A new one-time link for ``email`` that leads to ``next_url`` (a local path) once used.
    Returns the row and the secret, which only goes into the e-mail. Raises SignInLinkRefused."""
    email = normalise_email(email)
    if not may_sign_in_by_link(email):
        raise SignInLinkRefused(gettext("This address signs in with its password."))
    now = timezone.now()
    if SignInLink.objects.filter(email=email, used_at__isnull=True, expires_at__gt=now).count() >= (
        MAX_OPEN_LINKS_PER_EMAIL
    ):
        raise SignInLinkRefused(gettext("Too many sign-in links were sent to this address; use one of them."))
    token = secrets.token_urlsafe(32)
    link = SignInLink(email=email, token_digest=crypto.digest(token), next_url=next_url, expires_at=now + ttl)
    link.full_clean()
    link.save()
    return link, token


@transaction.atomic
def use_sign_in_link(*, token: str):
    """Claim the link (once: a conditional UPDATE) and return ``(user, next_url)``; the address's
    viewer account is created on first use. Raises SignInLinkInvalid."""
    digest = crypto.digest(token)
    now = timezone.now()
    claimed = SignInLink.objects.filter(token_digest=digest, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now
    )
    if not claimed:
        raise SignInLinkInvalid(
            gettext("This sign-in link has expired or was already used. Ask for a new one.")
        )
    link = SignInLink.objects.get(token_digest=digest)
    if not may_sign_in_by_link(link.email):
        raise SignInLinkInvalid(gettext("This address signs in with its password: use the login page."))
    return _viewer_account(link.email), link.next_url


def _viewer_account(email: str):
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user
    base = slugify(email.split("@")[0])[:100] or "viewer"
    for _ in range(5):
        username = f"{base}-{secrets.token_hex(3)}"
        try:
            with transaction.atomic():
                user = User(username=username, email=email)
                user.set_unusable_password()
                user.save()
                return user
        except IntegrityError:
            continue  # the random suffix was taken: try another
    raise SignInLinkInvalid(gettext("Could not create your account; try again."))


class SignUpRefused(Exception):
    """No account may be made for this address (it has one already); the message is safe to show."""


@transaction.atomic
def sign_up_viewer(*, email: str, display_name: str, password: str):
    """A new viewer account (no brand, not staff): its e-mail is its login name too, its display
    name goes in ``first_name`` (what chat shows). The caller validated the password (the form
    runs Django's validators). Raises SignUpRefused for an address that has an account."""
    User = get_user_model()
    email = normalise_email(email)
    if User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
        raise SignUpRefused(gettext("An account with this e-mail address exists already: log in instead."))
    user = User(username=email, email=email, first_name=display_name, is_staff=False)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same address signing up twice at once
        raise SignUpRefused(
            gettext("An account with this e-mail address exists already: log in instead.")
        ) from None
    return user


@transaction.atomic
def set_time_zone(*, organization: Organization, time_zone: str, by) -> Organization:
    """The brand's time zone (an IANA name: ValidationError otherwise, nothing written), in which
    the studio shows and takes its times from now on; the stored times (UTC) do not move. Owners
    only (Action.EDIT_BRAND)."""
    permissions.require(by, Action.EDIT_BRAND, organization)
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    organization.time_zone = time_zone
    organization.full_clean()
    organization.save(update_fields=["time_zone"])
    return organization
