"""Writes of the embed app: a brand's embed settings."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Organization
from accounts.permissions import Action, require
from embed.models import EmbedSettings
from embed.origins import parse_origins


@transaction.atomic
def update_embed_settings(
    *, organization: Organization, allowed_origins: str, own_cart: bool, by
) -> EmbedSettings:
    """Replace the brand's allowed sites (one a line; ValidationError names each bad line, and
    nothing is written then) and its "my own cart" setting. Owners only (Action.MANAGE_EMBED)."""
    require(by, Action.MANAGE_EMBED, organization)
    return _save(organization, parse_origins(allowed_origins), own_cart)


@transaction.atomic
def allow_origin_as_operator(*, organization: Organization, origin: str) -> EmbedSettings:
    """Add one site to the brand's allow-list (manage.py allow_embed_origin; make demo). Idempotent."""
    current = EmbedSettings.objects.select_for_update().filter(organization=organization).first()
    origins = parse_origins("\n".join([*(current.origins if current else []), origin]))
    return _save(organization, origins, current.own_cart if current else False)


def _save(organization: Organization, origins: list[str], own_cart: bool) -> EmbedSettings:
    settings_, _ = EmbedSettings.objects.select_for_update().get_or_create(organization=organization)
    settings_.allowed_origins = "\n".join(origins)
    settings_.own_cart = own_cart
    settings_.full_clean()
    settings_.save(update_fields=["allowed_origins", "own_cart", "updated_at"])
    return settings_
