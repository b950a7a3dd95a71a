"""``/oembed/?url=<event page or video page>``: the oEmbed answer (https://oembed.com, JSON, type
"rich") that lets a CMS turn a pasted show or video link into the embedded player. The event page
and a published video's page name it in a ``<link rel="alternate" type="application/json+oembed">``
(templates/embed/_oembed_link.html).

Only public pages of this site are answered: anything else is a 4xx with the reason (400 for a
malformed request, 404 for an address that is not a public show or published video here, 501 for
a format other than JSON, as the spec asks)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib.auth.models import AnonymousUser
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import patch_cache_control
from django.utils.html import format_html
from django.views import View

from embed import selectors
from events.selectors import get_watchable_event
from events.templatetags.sharing import is_signed
from recordings.models import Recording
from recordings.views.replay import poster_url

DEFAULT_WIDTH, DEFAULT_HEIGHT = 640, 900  # the player, its card and the lineup's first row
MIN_WIDTH = 200
EMBEDDABLE = {"viewer:watch", "embed:watch"}
EMBEDDABLE_VIDEOS = {"replays:video", "embed:video"}
CACHE_AGE = 300


def _refused(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _size(request, name: str, default: int) -> int | None:
    """``maxwidth`` / ``maxheight`` capping ``default``; None when not a positive number."""
    raw = request.GET.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < MIN_WIDTH:
        return None
    return min(default, int(raw))


class OEmbedView(View):
    def get(self, request):
        url = request.GET.get("url", "").strip()
        if not url:
            return _refused(
                400, "Give the page's address: ?url=https://…/e/<brand>/<show>/ or …/v/<brand>/<video>/"
            )
        if request.GET.get("format", "json") != "json":
            return _refused(501, "Only format=json is offered.")
        width, height = _size(request, "maxwidth", DEFAULT_WIDTH), _size(request, "maxheight", DEFAULT_HEIGHT)
        if width is None or height is None:
            return _refused(400, f"maxwidth and maxheight are whole numbers of pixels, at least {MIN_WIDTH}.")
        found = self.page_at(request, url)
        if found is None:
            return _refused(404, "That address is not a public show or published video on this site.")
        answer = oembed_video if isinstance(found, Recording) else oembed
        response = JsonResponse(answer(request, found, width, height))
        patch_cache_control(response, public=True, max_age=CACHE_AGE)
        return response

    def page_at(self, request, url: str):
        """The public event or published video ``url`` (its page or embed page on this site)
        shows, or None."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or parts.netloc.lower() != request.get_host().lower():
            return None
        try:
            match = resolve(parts.path or "/")
        except Resolver404:
            return None
        if match.view_name in EMBEDDABLE_VIDEOS:
            try:
                return selectors.get_embeddable_video(match.kwargs["brand"], match.kwargs["slug"])
            except Recording.DoesNotExist:
                return None
        if match.view_name not in EMBEDDABLE:
            return None
        try:
            # As a stranger sees it: a CMS's server asks, and the embed is for anyone.
            return get_watchable_event(
                AnonymousUser(), organization__slug=match.kwargs["brand"], slug=match.kwargs["slug"]
            )
        except Http404:
            return None


def oembed(request, event, width: int, height: int) -> dict:
    """The oEmbed "rich" answer: a frame of the embed page, sized as the consumer allows."""
    answer = rich(request, "embed:watch", event.organization, event.slug, event.title, width, height)
    if event.thumbnail and not is_signed(event.thumbnail.url):  # a signed URL is a credential
        answer["thumbnail_url"] = request.build_absolute_uri(event.thumbnail.url)
    return answer


def oembed_video(request, video: Recording, width: int, height: int) -> dict:
    """The same for a published uploaded video: its embed page, and the poster the brand picked
    (or the video's own frame) as the thumbnail."""
    title = video.title or video.slug
    answer = rich(request, "embed:video", video.organization, video.slug, title, width, height)
    poster = poster_url(video, None)
    if poster and not is_signed(poster):
        answer["thumbnail_url"] = request.build_absolute_uri(poster)
    return answer


def rich(request, route: str, brand, slug: str, title: str, width: int, height: int) -> dict:
    src = request.build_absolute_uri(reverse(route, kwargs={"brand": brand.slug, "slug": slug}))
    html = format_html(
        '<iframe src="{}" width="{}" height="{}" title="{}" loading="lazy" allowfullscreen '
        'allow="autoplay; fullscreen; picture-in-picture; clipboard-write; web-share"></iframe>',
        src,
        width,
        height,
        f"{title} · {brand.name}",
    )
    return {
        "version": "1.0",
        "type": "rich",
        "provider_name": "Liveshop",
        "provider_url": request.build_absolute_uri("/"),
        "title": title,
        "author_name": brand.name,
        "author_url": request.build_absolute_uri(reverse("viewer:brand", kwargs={"brand": brand.slug})),
        "html": str(html),
        "width": width,
        "height": height,
        "cache_age": CACHE_AGE,
    }
