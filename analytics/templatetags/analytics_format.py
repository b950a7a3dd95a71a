"""``{% load analytics_format %}``: the dashboard's numbers in the active locale
(analytics.formatting): ``{{ n|num }}``, ``{{ ratio|percent }}`` (``|percent:0`` for whole
percents), ``{{ revenue|money }}`` (amounts per currency), ``{{ amount|price:currency }}``."""

from django import template

from analytics import formatting

register = template.Library()


@register.filter
def num(value) -> str:
    return formatting.number(value)


@register.filter
def percent(ratio, digits: int = 1) -> str:
    return formatting.percent(ratio, digits=int(digits))


@register.filter
def money(amounts) -> str:
    return formatting.money(amounts or {})


@register.filter
def price(amount, currency: str) -> str:
    return formatting.price(amount, currency)


@register.filter
def minutes(ms) -> str:
    """Milliseconds as whole minutes, grouped: ``{{ watch_ms|minutes }} min``."""
    return formatting.number(int(ms or 0) // 60_000)
