"""Template tags for sharing a show (templates/events/_share_meta.html): the absolute URLs that
Open Graph and Twitter cards need, built from the request (the shared page cache keys pages by
scheme and host, events.page_cache.key_of)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from django import template
from django.db.models.fields.files import FieldFile

register = template.Library()

# Query keys of a signed URL (CloudFront, S3): a credential, never put where link previews keep it.
SIGNED_QUERY_KEYS = {"signature", "x-amz-signature", "policy", "key-pair-id", "x-amz-credential"}


def is_signed(url: str) -> bool:
    return any(key.lower() in SIGNED_QUERY_KEYS for key, _ in parse_qsl(urlsplit(url).query))


@register.simple_tag(takes_context=True)
def share_image(context, *candidates) -> str:
    """The first of ``candidates`` (URLs or image files) that is set and unsigned, as an absolute
    URL; "" when none is."""
    for candidate in candidates:
        url = candidate.url if isinstance(candidate, FieldFile) and candidate else candidate
        if isinstance(url, str) and url and not is_signed(url):
            return context["request"].build_absolute_uri(url)
    return ""


@register.simple_tag(takes_context=True)
def canonical_url(context) -> str:
    """This page's absolute URL without its query string."""
    request = context["request"]
    return request.build_absolute_uri(request.path)
