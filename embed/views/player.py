"""The embeddable player's pages: the loader script, an event's page and its replay in a shop's
frame, a brand's next show, and a brand's published uploaded video.

The embed pages are the event page and the replay page themselves (events.views.viewer's
EventWatchView, recordings.views.replay's EventReplayView, imported as the views they are rather
than rebuilt: the player, card, lineup, chat and shop stay the same code) in frame templates
without Liveshop's top bar, plus the bridge (static/js/embed/bridge.js) that talks to the shop's
page. Only these responses may be framed, and only by the brand's allowed sites
(embed.framing)."""

from __future__ import annotations

from django.http import Http404, HttpResponseNotFound
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views import View

from accounts.models import Organization
from embed import framing, selectors
from embed.protocol import PROTOCOL_VERSION
from events import page_cache
from events.listings import get_brand, list_shows
from events.models import LiveEvent
from events.selectors import get_watchable_event
from events.views.discover import serve_list_page, show_context
from events.views.viewer import EventWatchView
from recordings.models import Recording
from recordings.views.replay import EventReplayView, render_replay

LOADER_MAX_AGE = 300  # seconds: /embed.js is a fixed address on shops' pages, so briefly cached


def loader(request):
    """``/embed.js``: the loader (static/js/embed.js) at a fixed address shops can paste; it
    redirects to the static file (hashed and long-cached in production)."""
    response = redirect(static("js/embed.js"))
    patch_cache_control(response, public=True, max_age=LOADER_MAX_AGE)
    return response


class EmbedWatchView(EventWatchView):
    """``/embed/e/<brand>/<event>/``: the event page for a shop's frame. Shared between anonymous
    viewers like the event page, under its own key."""

    template_name = "embed/watch.html"

    def get(self, request, brand: str, slug: str):
        response = page_cache.serve(
            request,
            page_cache.key_of("embed-page", request, brand, slug),
            find_event=lambda: get_watchable_event(request.user, organization__slug=brand, slug=slug),
            build=lambda event: self.render_page(request, event),
        )
        return framing.allow_framing(response, selectors.allowed_origins_of_brand(brand))

    def extra_context(self, request, event: LiveEvent) -> dict:
        return {"embed": embed_config(event)}


class EmbedReplayView(EventReplayView):
    """``/embed/e/<brand>/<event>/replay/[<recording>/]``: the ended show's replay in a frame; a
    show without a ready replay goes to its embed page."""

    template_name = "embed/replay.html"
    live_page = "embed:watch"
    framed = True  # a zero-copy (always signed) replay's files: a signed query (cdn.signed_query)

    def get(self, request, brand: str, slug: str, recording_id: int | None = None):
        response = super().get(request, brand, slug, recording_id)
        return framing.allow_framing(response, selectors.allowed_origins_of_brand(brand))

    def extra_context(self, event: LiveEvent) -> dict:
        return {"embed": embed_config(event)}


class EmbedVideoView(View):
    """``/embed/v/<brand>/<video>/``: a brand's published uploaded video for a shop's frame: the
    video page itself (recordings.views.replay.render_replay: the same player, product cards at
    their cues, chapters and lineup, the brand's picked poster) in the frame template. Only a
    published, ready video: anything else is a 404 with the reason, never framed."""

    def get(self, request, brand: str, slug: str):
        try:
            video = selectors.get_embeddable_video(brand, slug)
        except Recording.DoesNotExist as refused:
            # The reason in the answer (Django's 404 page would hide it); not framed: DENY stays.
            return HttpResponseNotFound(str(refused), content_type="text/plain; charset=utf-8")
        qr = reverse("replays:video-qr", kwargs={"brand": brand, "slug": slug, "product_id": 0})
        response = render_replay(
            request,
            video,
            event=None,
            campaign=video.slug,
            qr=qr,
            template="embed/replay.html",
            extra={"embed": embed_config(None, video.organization, video=video)},
            framed=True,  # its files are private media: signed query, not cookies (cdn.signed_query)
        )
        patch_cache_control(response, private=True, no_store=True)  # the signature is per page
        return framing.allow_framing(response, selectors.get_embed_settings(video.organization_id).origins)


def embed_config(
    event: LiveEvent | None, organization: Organization | None = None, *, video: Recording | None = None
) -> dict:
    """What the bridge needs: who may frame it (the parent's origin is checked against this
    before any message is sent or accepted), the cart mode and the protocol's version; for an
    event's page, a brand's uploaded ``video``, or a brand's show list (``event`` None)."""
    organization = event.organization if event is not None else organization
    settings_ = selectors.get_embed_settings(organization.pk)
    config = {
        "v": PROTOCOL_VERSION,
        "allowedOrigins": settings_.origins,
        "ownCart": settings_.own_cart,
        "brand": organization.name,
        "eventId": None,
        "event": None,
        "title": f"{organization.name}'s shows",
        "videoId": None,
        "video": None,
    }
    if video is not None:
        title = video.title or video.slug
        config.update(videoId=video.pk, video=f"{organization.slug}/{video.slug}", title=title)
    if event is not None:
        config.update(eventId=event.pk, event=f"{organization.slug}/{event.slug}", title=event.title)
    return config


class EmbedShowsView(View):
    """``/embed/b/<brand>/shows/``: the brand's shows (live, upcoming, replays) for
    ``data-liveshop-view="shows"``; a show opens in the same frame (the bridge keeps its link
    there). Shared between anonymous viewers like the brand page, under its own key."""

    def get(self, request, brand: str):
        key = page_cache.key_of("embed-brand", request, brand)
        response = serve_list_page(request, key, lambda: self.render_page(request, brand))
        return framing.allow_framing(response, selectors.allowed_origins_of_brand(brand))

    def render_page(self, request, brand: str):
        organization = get_brand(brand)
        shows = show_context(request, list_shows(organization))
        context = {"organization": organization, "embed": embed_config(None, organization), **shows}
        return render(request, "embed/shows.html", context)


class EmbedBrandView(View):
    """``/embed/b/<brand>/``: the brand's next show (live now, else the soonest upcoming, else the
    latest ended one with its replay), for ``data-liveshop-brand``. A redirect keeps the frame's
    ``#parent=`` (a redirect without a fragment inherits the request's)."""

    def get(self, request, brand: str):
        organization = get_brand(brand)
        event = selectors.next_show(organization)
        if event is None:
            raise Http404("This brand has no show to embed yet.")
        response = redirect("embed:watch", brand=organization.slug, slug=event.slug)
        patch_cache_control(response, public=True, max_age=0, s_maxage=page_cache.S_MAXAGE)
        return framing.allow_framing(response, selectors.get_embed_settings(organization.pk).origins)
