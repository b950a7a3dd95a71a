"""A brand's time zone (Organization.time_zone, issue 16): the IANA names Python's zoneinfo knows.
The studio shows and takes a brand's times (a show's start) in its zone; the database keeps UTC."""

from __future__ import annotations

import functools
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DEFAULT_TIME_ZONE = "UTC"


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine's tz database has (the tzdata package where there is
    none), sorted; "localtime" and the like are not places a brand can be."""
    return tuple(sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC"))


def time_zone_choices() -> list[tuple[str, str]]:
    """The form's choices: each zone as its own name ("Europe/Berlin")."""
    return [(name, name.replace("_", " ")) for name in time_zone_names()]


def validate_time_zone(value: str) -> None:
    """Refuse a name that is not an IANA time zone ("Berlin", "CET+1")."""
    if value not in time_zone_names():
        raise ValidationError(
            _("“%(value)s” is not a time zone (e.g. Europe/Berlin, America/New_York)."),
            code="invalid_time_zone",
            params={"value": value},
        )


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    """The zone named ``name``, or UTC for a name this machine does not know (a row written by a
    machine with a newer tz database)."""
    try:
        return zoneinfo.ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)
