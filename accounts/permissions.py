"""Who may do what with a brand's things: the one place that decides.

Views, admin classes, consumers and services call these functions; nothing else checks roles.
A brand-owned model names the path to its organization in ``organization_field``
(``"organization"`` by default, ``"event__organization"`` for a model one hop away), so the same
helpers scope any of them.

Most actions follow the user's role in the brand. An action whose answer also depends on the
object (``WATCH``: anyone may watch a public event) has an object rule, registered by the app that
owns the model in its ``AppConfig.ready()`` (events registers the watch rule), so this module
imports no app above it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization

Role = Membership.Role


class Action(StrEnum):
    VIEW = "view"  # see the brand's products, events and recordings in the dashboard and admin
    EDIT_CATALOG = "edit_catalog"  # add and change products
    DELETE_CATALOG = "delete_catalog"
    MANAGE_EVENTS = "manage_events"  # create, edit, cancel events; set the lineup
    HOST_EVENT = "host_event"  # go live, see the stream key, feature products
    EDIT_RECORDING = "edit_recording"  # place, import and export a recording's or video's product cues
    MODERATE_CHAT = "moderate_chat"  # hide messages, time out, ban and unban viewers, slow mode
    READ_MODERATION_LOG = "read_moderation_log"  # who moderated what, when (owners only)
    EXPORT_CHAT = "export_chat"  # download an event's chat as CSV (owners only)
    MANAGE_MEMBERS = "manage_members"
    MANAGE_ORDERS = "manage_orders"  # see (buyers' details), cancel and refund the brand's orders
    VIEW_ANALYTICS = "view_analytics"  # the shows' viewers, watch time, sales (owners and hosts)
    MANAGE_EMBED = "manage_embed"  # the embeddable player: sites allowed to frame it, own cart (owners only)
    EDIT_BRAND = "edit_brand"  # the brand's own settings: its time zone (owners only)
    WATCH = "watch"  # watch an event (page, stream_details, socket, replay): an object rule decides


# What a refused person reads (a 403 page, a form's error, a command's output), one per action.
REFUSALS: dict[Action, str] = {
    Action.VIEW: _("You may not see this brand's studio."),
    Action.EDIT_CATALOG: _("You may not add or change this brand's products."),
    Action.DELETE_CATALOG: _("You may not delete this brand's products."),
    Action.MANAGE_EVENTS: _("You may not create or change this brand's events."),
    Action.HOST_EVENT: _("You may not host this brand's shows."),
    Action.EDIT_RECORDING: _("You may not edit the product cues of this brand's recordings and videos."),
    Action.MODERATE_CHAT: _("You may not moderate this brand's chats."),
    Action.READ_MODERATION_LOG: _("You may not read this brand's moderation log."),
    Action.EXPORT_CHAT: _("You may not export this brand's chats."),
    Action.MANAGE_MEMBERS: _("You may not manage this brand's people."),
    Action.MANAGE_ORDERS: _("You may not manage this brand's orders."),
    Action.VIEW_ANALYTICS: _("You may not see this brand's analytics."),
    Action.MANAGE_EMBED: _("You may not change this brand's embedded player."),
    Action.EDIT_BRAND: _("You may not change this brand's settings."),
    Action.WATCH: _("You may not watch this show."),
}

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.HOST: frozenset(
        {
            Action.VIEW,
            Action.EDIT_CATALOG,
            Action.MANAGE_EVENTS,
            Action.HOST_EVENT,
            Action.EDIT_RECORDING,
            Action.MODERATE_CHAT,
            Action.MANAGE_ORDERS,
            Action.VIEW_ANALYTICS,
        }
    ),
    Role.MODERATOR: frozenset({Action.VIEW, Action.MODERATE_CHAT}),
}

_CACHE_ATTR = "_liveshop_roles"

ObjectRule = Callable[[object, Model], bool]
_object_rules: dict[tuple[Action, type], ObjectRule] = {}


def register_rule(action: Action, model: type[Model], rule: ObjectRule) -> None:
    """Let ``rule(user, obj)`` decide ``action`` on ``model``'s objects (called from the owning
    app's AppConfig.ready(); registering again replaces it)."""
    _object_rules[(action, model)] = rule


def roles_of(user) -> dict[int, str]:
    """The user's role in each brand, by organization id; read once per user object."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    roles = getattr(user, _CACHE_ATTR, None)
    if roles is None:
        # No ordering: Membership's (brand name, username) would join both tables to sort a dict.
        memberships = Membership.objects.filter(user=user).order_by()
        roles = dict(memberships.values_list("organization_id", "role"))
        setattr(user, _CACHE_ATTR, roles)
    return roles


def organization_ids(user, action: Action = Action.VIEW) -> list[int]:
    """Ids of the brands in which ``user`` may perform ``action``."""
    return [org_id for org_id, role in roles_of(user).items() if action in ROLE_ACTIONS[role]]


def is_superuser(user) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def organization_id_of(obj: Model) -> int | None:
    """The id of the brand that owns ``obj`` (an Organization is its own brand)."""
    if isinstance(obj, Organization):
        return obj.pk
    path = getattr(type(obj), "organization_field", "organization")
    target = obj
    for part in path.split("__")[:-1]:
        target = getattr(target, part)
        if target is None:
            return None
    return getattr(target, f"{path.split('__')[-1]}_id")


def can(user, action: Action, obj: Model | Organization) -> bool:
    """May ``user`` perform ``action`` on ``obj`` (a brand-owned object or a brand)? The object's
    rule decides where one is registered (register_rule); the role does otherwise."""
    rule = _object_rules.get((action, type(obj)))
    if rule is not None:
        return rule(user, obj)
    if is_superuser(user):
        return True
    org_id = organization_id_of(obj)
    role = roles_of(user).get(org_id)
    return role is not None and action in ROLE_ACTIONS[role]


def may_watch(user, event: Model) -> bool:
    """``can(user, Action.WATCH, event)``: the one watchability rule of the viewer page,
    stream_details, the viewer socket and the replay (events.selectors.watch_rule)."""
    return can(user, Action.WATCH, event)


def can_in_any(user, action: Action) -> bool:
    """May ``user`` perform ``action`` in at least one brand?"""
    return is_superuser(user) or bool(organization_ids(user, action))


def require(user, action: Action, obj: Model) -> None:
    """Raise PermissionDenied unless ``can(user, action, obj)``."""
    if not can(user, action, obj):
        raise PermissionDenied(str(REFUSALS[Action(action)]))  # in the language of the request


def scope(queryset: QuerySet, user, action: Action = Action.VIEW) -> QuerySet:
    """Narrow ``queryset`` of a brand-owned model to the brands where ``user`` may ``action``."""
    if is_superuser(user):
        return queryset
    path = getattr(queryset.model, "organization_field", "organization")
    return queryset.filter(**{f"{path}__in": organization_ids(user, action)})


def get_for_user_or_404(queryset: QuerySet, user, action: Action = Action.VIEW, **lookups) -> Model:
    """One object of the user's brands: 404 for another brand's (its existence is not revealed),
    403 when the user sees it but may not perform ``action``."""
    obj = get_object_or_404(scope(queryset, user, Action.VIEW), **lookups)
    require(user, action, obj)
    return obj
