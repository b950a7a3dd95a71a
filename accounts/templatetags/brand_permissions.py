"""``{% load brand_permissions %}``: ask accounts.permissions from a template, e.g. whether to show
the studio's Orders link: ``{% if user|can_anywhere:"manage_orders" %}``."""

from django import template

from accounts import permissions
from accounts.permissions import Action

register = template.Library()


@register.filter
def can_anywhere(user, action: str) -> bool:
    """May ``user`` perform ``action`` (an Action value) in at least one brand?"""
    return permissions.can_in_any(user, Action(action))


@register.simple_tag
def may(user, action: str, obj) -> bool:
    """``{% may user "manage_orders" event as sees_orders %}``: can(user, action, obj)."""
    return permissions.can(user, Action(action), obj)
