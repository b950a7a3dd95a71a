"""Compressed pages (Lighthouse's text compression, issue 16), without opening a BREACH.

BREACH reads a secret out of compressed responses' sizes when the page also reflects input the
attacker chooses. What we compress is safe to measure that way:

- only pages for signed-out visitors: their pages hold no secret but the CSRF token, which Django
  masks afresh on every response (so no two responses carry the same bytes to guess at), and
  Django's GZipMiddleware adds "Heal the Breach" random padding besides. A signed-in person's pages
  can hold a stream key, an address or an order next to a reflected query: they go uncompressed.
- only whole text responses (HTML, JSON, plain text): files and video segments (streamed, often
  already compressed, and served in ranges) and static files (WhiteNoise sends its own
  pre-compressed .br/.gz files) are left alone.
"""

from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.utils.functional import empty

COMPRESSED_TYPES = ("text/", "application/json", "application/javascript", "image/svg+xml")


class GZipMiddleware(DjangoGZipMiddleware):
    """Django's GZipMiddleware for signed-out visitors' whole text responses only (see above)."""

    def process_response(self, request, response):
        if response.streaming or not response.get("Content-Type", "").startswith(COMPRESSED_TYPES):
            return response
        if signed_in(request):
            return response
        return super().process_response(request, response)


def signed_in(request):
    """Whether the response may hold a signed-in person's data: a view that never looked at
    ``request.user`` made the same bytes for anybody, and asking here would read the session
    (one more statement on every webhook and API call for nothing)."""
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return False
    return user.is_authenticated
