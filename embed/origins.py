"""Web origins a brand lets frame its player: parsing, normalising and matching.

An allowed site is an origin (``https://shop.example.com``, ``http://localhost:8000``) or every
subdomain of one (``https://*.example.com``), exactly as a Content-Security-Policy source
expression names it; nothing else (no path, query, credentials, ``;`` or space) ever reaches the
``frame-ancestors`` header, so a stored value can never inject another directive."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

MAX_ORIGINS = 20
HOST = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, or ValidationError saying what is wrong."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise ValidationError(
            gettext("“%(text)s” is not a web address: write it like https://shop.example.com.")
            % {"text": text}
        )
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in {"", "/"}:
        raise ValidationError(
            gettext("“%(text)s”: only the site (scheme and host) is needed, without a path.") % {"text": text}
        )
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(gettext("“%(text)s” has an invalid port.") % {"text": text}) from None
    if not (HOST.match(host) or IPV4.match(host)) or (host.startswith("*.") and host.count(".") < 2):
        raise ValidationError(gettext("“%(text)s” does not name a valid host.") % {"text": text})
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")


def parse_origins(text: str) -> list[str]:
    """One origin a line (blank lines and duplicates dropped), or ValidationError listing every
    bad line by number."""
    found, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(normalise_origin(line))
        except ValidationError as exc:
            errors.append(
                gettext("Line %(number)s: %(error)s") % {"number": number, "error": exc.messages[0]}
            )
    if errors:
        raise ValidationError(errors)
    unique = list(dict.fromkeys(found))
    if len(unique) > MAX_ORIGINS:
        raise ValidationError(
            gettext("At most %(max)s sites; ask us if you need more.") % {"max": MAX_ORIGINS}
        )
    return unique


def matches(allowed: str, origin: str) -> bool:
    """Whether ``origin`` (as a browser reports it) is ``allowed`` (an origin or a ``*.`` one)."""
    if "://*." not in allowed:
        return allowed == origin
    scheme, suffix = allowed.split("://*", 1)  # suffix: ".example.com[:port]"
    return (
        origin.startswith(f"{scheme}://")
        and origin.endswith(suffix)
        and len(origin) > len(scheme) + 3 + len(suffix)
    )
