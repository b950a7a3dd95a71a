"""The Content-Security-Policy of every page (django-csp's middleware, our directives).

Scripts and styles come from our origin only (and STATIC_URL's, when the static files are on the
CDN): no inline <script>, no event-handler attributes, no <style> elements or style attributes
(page data travels as ``json_script`` JSON, which is not executed; our scripts are ES modules,
static/js). The players are our own static files; the IVS
player compiles WebAssembly in a worker ('wasm-unsafe-eval'), hls.js transmuxes in one, both
started from our static files (worker-src 'self'; blob: only when the static files are on another
origin, where the players build their workers from blobs), and both feed the <video> through Media
Source Extensions (media-src blob:). Video and images may also come from the media origins the
settings name: the local media server, the S3 bucket or its CloudFront domain, IVS playback
(``*.live-video.net``) and ``LIVESHOP_CSP_EXTRA_ORIGINS``.

The directives are built per request from the current settings (cached), so a test or a process
that changes the media server's URL gets a policy that names it, and the socket's ws:/wss: origin
is the request's own host (older Safari does not let 'self' cover websockets).
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from csp.constants import NONE, SELF, WASM_UNSAFE_EVAL
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import DisallowedHost

IVS_PLAYBACK_ORIGIN = "https://*.live-video.net"
BLOB, DATA = "blob:", "data:"
# Stripe.js and its Payment Element (the viewer shop's checkout when PAYMENT_BACKEND=stripe) come
# from Stripe's origins, as Stripe requires; only the pages that carry the shop
# (templates/events/watch/_shop.html, also in the embed page) allow them. The embed pages' framing
# (frame-ancestors) is embed.framing's, per brand; every other page keeps 'none'.
SHOP_PAGES = frozenset(
    {
        *("viewer:watch", "replays:event", "replays:event-recording", "replays:video"),
        *("embed:watch", "embed:replay", "embed:replay-recording", "embed:video"),
    }
)
STRIPE_SOURCES = {
    "script-src": ("https://js.stripe.com",),
    "frame-src": ("https://js.stripe.com", "https://hooks.stripe.com"),
    "connect-src": ("https://api.stripe.com",),
}
# The IVS Web Broadcast SDK (the host console's "Go live from this browser" for an IVS event) starts
# a worker from a blob, posts its WebRTC offer to the channel's ingest on port 4443
# (https://<id>.webrtc.live-video.net:4443/v1/offer: a host source without a port allows only 443)
# and reports to broadcast.stats.live-video.net. Only a page that carries the SDK allows them: the
# panel says so (allow_ivs_broadcast), as it renders.
IVS_BROADCAST_SOURCES = {
    "worker-src": (BLOB,),
    "connect-src": (IVS_PLAYBACK_ORIGIN, "https://*.live-video.net:4443"),
}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, or "" for a relative or empty one."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def s3_origins(bucket: str, region: str | None) -> list[str]:
    """Where a bucket's objects and presigned POSTs are reached without a custom domain."""
    if not bucket:
        return []
    origins = [f"https://{bucket}.s3.amazonaws.com"]
    if region:
        origins.append(f"https://{bucket}.s3.{region}.amazonaws.com")
    return origins


def media_origins() -> list[str]:
    """The origins video, thumbnails, product images and uploads may come from besides our own."""
    found = [origin(settings.MEDIA_URL), origin(settings.STATIC_URL)]
    if settings.VIDEO_BACKEND == "ivs":
        found.append(IVS_PLAYBACK_ORIGIN)
    elif settings.VIDEO_BACKEND == "local":
        found.append(origin(settings.MEDIA_SERVER_PUBLIC_URL))
    if settings.AWS_STORAGE_BUCKET_NAME:
        if settings.AWS_CLOUDFRONT_DOMAIN:
            found.append(f"https://{settings.AWS_CLOUDFRONT_DOMAIN}")
        found.append(origin(settings.AWS_S3_ENDPOINT_URL or ""))
        # Uploads go straight to the bucket (a presigned POST), whatever serves the media.
        for bucket in {settings.AWS_STORAGE_BUCKET_NAME, settings.AWS_RECORDINGS_BUCKET_NAME}:
            found += s3_origins(bucket, settings.AWS_S3_REGION_NAME)
    found += settings.LIVESHOP_CSP_EXTRA_ORIGINS
    return list(dict.fromkeys(o for o in found if o))


def static_origins() -> list[str]:
    """Where our own scripts, styles and fonts come from besides our origin: STATIC_URL's origin
    when the static files are on a CDN (LIVESHOP_STATIC_STORAGE=cdn)."""
    found = origin(settings.STATIC_URL)
    return [found] if found else []


def worker_sources() -> list[str]:
    """Where workers may come from: our origin, and blobs when STATIC_URL names another origin (a
    worker script must be same-origin, so the IVS player and hls.js then start theirs from a blob)."""
    return [SELF, BLOB] if origin(settings.STATIC_URL) else [SELF]


def chat_origins() -> list[str]:
    """IVS Chat's messaging endpoint (CHAT_BACKEND=ivs: signed-in people's chat, chat/panel.html),
    or the stand-in a test names in IVS_CHAT_MESSAGING_URL."""
    if settings.CHAT_BACKEND == "local":
        return []
    stand_in = origin(getattr(settings, "IVS_CHAT_MESSAGING_URL", ""))
    return [stand_in or f"wss://edge.ivschat.{settings.IVS_REGION}.amazonaws.com"]


def allow_ivs_broadcast(request) -> None:
    """``request``'s page carries the IVS Web Broadcast SDK (broadcast/templatetags/golive.py)."""
    request.liveshop_ivs_broadcast = True


def loads_ivs_broadcast(request) -> bool:
    return getattr(request, "liveshop_ivs_broadcast", False)


def loads_stripe(request) -> bool:
    """Whether ``request``'s page may load Stripe.js: a shop page, with Stripe as the provider."""
    match = getattr(request, "resolver_match", None)
    return settings.PAYMENT_BACKEND == "stripe" and match is not None and match.view_name in SHOP_PAGES


@functools.cache
def _directives(
    media: tuple[str, ...],
    workers: tuple[str, ...],
    socket_origins: tuple[str, ...],
    report_uri: str,
    stripe: bool = False,
    static: tuple[str, ...] = (),
    ivs_broadcast: bool = False,
) -> dict:
    directives = {
        "default-src": [SELF],
        "script-src": [SELF, *static, WASM_UNSAFE_EVAL],
        "style-src": [SELF, *static],
        "img-src": [SELF, DATA, BLOB, *media],
        "media-src": [SELF, BLOB, *media],
        "connect-src": [SELF, *socket_origins, *media],
        "worker-src": list(workers),
        "font-src": [SELF, *static],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
    extra = [STRIPE_SOURCES] * stripe + [IVS_BROADCAST_SOURCES] * ivs_broadcast
    for sources in extra:
        for directive, origins in sources.items():
            found = directives.get(directive, [SELF])
            directives[directive] = [*found, *(o for o in origins if o not in found)]
    if report_uri:
        directives["report-uri"] = [report_uri]
    return directives


def directives(request) -> dict:
    """The policy's directives for ``request`` (django-csp's DIRECTIVES shape)."""
    try:
        host = request.get_host()
    except DisallowedHost:  # the 400 answering a bad Host header: no socket either
        socket_origins = ()
    else:
        socket_origins = (f"wss://{host}",) if request.is_secure() else (f"ws://{host}", f"wss://{host}")
    socket_origins = (*socket_origins, *chat_origins())
    return _directives(
        tuple(media_origins()),
        tuple(worker_sources()),
        socket_origins,
        settings.LIVESHOP_CSP_REPORT_URI,
        loads_stripe(request),
        tuple(static_origins()),
        loads_ivs_broadcast(request),
    )


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with our directives, enforced, or only reported when
    ``LIVESHOP_CSP_REPORT_ONLY`` is on. A view may still adjust them with django-csp's decorators."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if parts.config is None and report_only == settings.LIVESHOP_CSP_REPORT_ONLY:
            parts.config = directives(request)
        return parts
