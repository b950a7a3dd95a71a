"""Template filters for recordings: ``{{ recording.duration_ms|media_time }}`` -> ``12:34``."""

from django import template

from recordings.payloads import media_time as _media_time

register = template.Library()


@register.filter
def media_time(ms: int | None) -> str:
    return "" if ms is None else _media_time(ms)
