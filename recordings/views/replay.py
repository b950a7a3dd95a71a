"""Replay pages: an ended event's recording (``/e/<brand>/<event>/replay/``) and a brand's
published uploaded video (``/v/<brand>/<slug>/``). One template and script (replay.js) serve both:
the VOD through hls.js, the product card at its cue times, chapters, lineup, Buy link and QR.

Public fields only (recordings.payloads); private events follow the live page's rule
(accounts.permissions.may_watch) and get CloudFront signed cookies where signing is configured."""

from __future__ import annotations

import posixpath

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views import View
from django.views.static import serve

from events.http_cache import QR_MAX_AGE, no_store_if_private
from events.models import LiveEvent
from events.selectors import get_watchable_event
from liveshop.display import format_price, qr_svg
from liveshop.viewer_id import remember_viewer, viewer_keys
from recordings import cdn, selectors
from recordings.models import ProductCue, Recording
from recordings.payloads import duration_text as length_text
from recordings.payloads import media_time, replay_buy_url, replay_card, replay_payload
from recordings.services.replays import count_replay_view


class EventReplayView(View):
    """The replay of an ended event: its newest ready recording, or ``recording_id``'s."""

    template_name = "recordings/replay.html"  # embed.views.player frames the same page
    live_page = "viewer:watch"  # where a show without a ready replay is sent
    framed = False  # in a frame on another site (the embed): signed media by query, not cookies

    def extra_context(self, event: LiveEvent) -> dict:
        """What a subclass's template adds (the embed page's settings)."""
        return {}

    def get(self, request, brand: str, slug: str, recording_id: int | None = None):
        event = get_watchable_event(request.user, organization__slug=brand, slug=slug)
        try:
            recording = selectors.get_event_replay(event=event, recording_id=recording_id)
        except Recording.DoesNotExist:
            if recording_id is not None:
                raise Http404("No such recording of this event.") from None
            return redirect(self.live_page, brand=brand, slug=slug)  # live, upcoming, or not ready yet
        others = [r for r in selectors.list_event_replays(event) if r.pk != recording.pk]
        qr = reverse("replays:event-qr", kwargs={"brand": brand, "slug": slug, "product_id": 0})
        response = render_replay(
            request,
            recording,
            event=event,
            campaign=event.slug,
            qr=qr,
            others=others,
            template=self.template_name,
            extra=self.extra_context(event),
            framed=self.framed,
        )
        if cdn.signs_replay(recording):
            cdn.sign_replay_response(response, recording)
        return no_store_if_private(response, event)


class VideoView(View):
    """An uploaded video's page: public once published; the brand's people may preview it before."""

    def get(self, request, brand: str, slug: str):
        try:
            video = selectors.get_video_for_viewer(user=request.user, brand=brand, slug=slug)
        except Recording.DoesNotExist:
            raise Http404("No such video.") from None
        qr = reverse("replays:video-qr", kwargs={"brand": brand, "slug": slug, "product_id": 0})
        response = render_replay(request, video, event=None, campaign=video.slug, qr=qr)
        # Its files are private media (published or not): the page carries their signed cookies.
        cdn.sign_replay_response(response, video)
        patch_cache_control(response, private=True, no_store=True)
        return response


def render_replay(
    request,
    recording: Recording,
    *,
    event: LiveEvent | None,
    campaign: str,
    qr: str,
    others=(),
    template: str = "recordings/replay.html",
    extra: dict | None = None,
    framed: bool = False,
) -> HttpResponse:
    """Count the view and render ``template`` (the QR URL pattern ``qr`` ends in ``/0.svg``),
    with ``extra`` added to its context. ``framed``: for a frame on another site, which gets no
    cookie of ours: signed media come with a signed query for the player instead."""
    count_replay_view(recording=recording, viewer=request.user, viewer_keys=viewer_keys(request))
    cues = selectors.list_cues(recording)
    qr_pattern = qr.replace("/0.svg", "/{id}.svg")
    config = {
        **replay_payload(recording, cues, campaign=campaign),
        "qrUrl": qr_pattern,
        "withCredentials": cdn.requires_cookies(recording) and cdn.is_configured() and not framed,
        "mediaQuery": cdn.signed_query(recording) if framed else "",  # the player adds it to each request
        "heartbeatMs": int(settings.LIVESHOP_WS_HEARTBEAT_SECONDS * 1000),  # the stock socket's
        "captions": selectors.caption_track_urls(recording),  # the player's <track>s (issue 16)
    }
    cards = {card["id"]: card for card in config["products"]}
    # The card on screen as the page opens (at ?t=, else 0 s): in the first HTML, so nothing moves
    # when replay.js takes over (Lighthouse's CLS); replay.js computes the same (activeCue).
    opening = active_cue(cues, start_ms(request))
    card = with_display(cards[opening.product_id], qr_pattern) if opening else None
    lineup = [
        with_display(replay_card(product, campaign=campaign), qr_pattern)
        for product in selectors.list_lineup_products(recording, cues)
    ]
    context = {
        "recording": recording,
        "event": event,
        "organization": recording.organization,
        "title": event.title if event else recording.title or _("Untitled video"),
        "description": event.description if event else "",
        "screen": "replay" if recording.is_ready and recording.master_path else "processing",
        "poster": poster_url(recording, event),
        "chapters": [chapter(cue, cards[cue.product_id]) for cue in cues],
        "lineup": lineup,
        "duration_text": duration_text(recording),
        "others": [
            {"recording": r, "url": other_url(event, r), "duration_text": duration_text(r)} for r in others
        ],
        "live_url": reverse("viewer:watch", args=[event.organization.slug, event.slug]) if event else "",
        "card": card,
        "card_cue_id": opening.pk if opening else None,
        "featured_id": card["id"] if card else None,
        "card_kicker": _("In the video now"),
        "captions": config["captions"],
        "config": config,
    }
    return remember_viewer(request, render(request, template, {**context, **(extra or {})}))


def start_ms(request) -> int:
    """Where the video starts: ?t= (seconds, as replay.js reads it), else 0."""
    try:
        seconds = float(request.GET.get("t", ""))
    except ValueError:
        return 0
    return round(seconds * 1000) if 0 < seconds < 10**7 else 0


def active_cue(cues: list[ProductCue], ms: int) -> ProductCue | None:
    """The cue on screen at media time ``ms``, as replay.js's activeCue: a cue covers
    [start_ms, end_ms), or without an end until the next cue starts; where cues overlap, the one
    that started last wins. ``cues`` in time order (selectors.list_cues)."""
    active = None
    for index, cue in enumerate(cues):
        if cue.start_ms > ms:
            break
        following = cues[index + 1].start_ms if index + 1 < len(cues) else None
        end = cue.end_ms if cue.end_ms is not None else following
        if end is None or ms < end:
            active = cue
    return active


def with_display(card: dict, qr_pattern: str) -> dict:
    qr = qr_pattern.replace("{id}", str(card["id"])) if card["buyUrl"] else ""
    return {**card, "priceText": format_price(card["price"], card["currency"]), "qrUrl": qr}


def chapter(cue: ProductCue, card: dict) -> dict:
    return {"id": cue.pk, "start_ms": cue.start_ms, "label": media_time(cue.start_ms), "card": card}


def duration_text(recording: Recording) -> str:
    """The length as players show it: to the nearest second (9.9 s is 0:10), not floored."""
    return length_text(recording.duration_ms) if recording.duration_ms else ""


def poster_url(recording: Recording, event: LiveEvent | None) -> str:
    """A frame a third of the way in (IVS's first thumbnail is often black), else the event's image."""
    if recording.thumbnails:
        return cdn.media_url(recording, recording.thumbnails[len(recording.thumbnails) // 3])
    return event.thumbnail.url if event and event.thumbnail else ""


def other_url(event: LiveEvent, recording: Recording) -> str:
    kwargs = {"brand": event.organization.slug, "slug": event.slug, "recording_id": recording.pk}
    return reverse("replays:event-recording", kwargs=kwargs)


class ReplayQrCodeView(View):
    """An SVG QR code of a product's replay Buy link, for products on the replay or video page."""

    def get(self, request, brand: str, slug: str, product_id: int, video: bool = False):
        if video:
            try:
                recording = selectors.get_video_for_viewer(user=request.user, brand=brand, slug=slug)
            except Recording.DoesNotExist:
                raise Http404("No such video.") from None
            event, recordings, campaign = None, Recording.objects.filter(pk=recording.pk), recording.slug
        else:
            event = get_watchable_event(request.user, organization__slug=brand, slug=slug)
            recording, recordings, campaign = None, selectors.list_event_replays(event), event.slug
        product = get_object_or_404(
            selectors.replay_products(recordings=recordings, event=event), pk=product_id
        )
        url = replay_buy_url(product, campaign=campaign)
        if not url:
            raise Http404("This product has no Buy link.")
        response = HttpResponse(qr_svg(url), content_type="image/svg+xml")
        private = event.is_private if event else not recording.is_published
        patch_cache_control(response, max_age=QR_MAX_AGE, public=not private)
        if private:
            patch_cache_control(response, private=True, no_store=True)
        return response


class RecordingMediaView(View):
    """A file of the "recordings" storage when Django serves media (DJANGO_SERVE_MEDIA): only to
    someone who may watch the recording that owns it (selectors.may_watch_recording), 404 for
    anyone else and for a name no recording owns, the same answer as a missing file. Private
    files are never stored by a shared cache. Production serves them from CloudFront, behind
    signed cookies (recordings.cdn)."""

    def get(self, request, path: str):
        storage = storages["recordings"]
        if not isinstance(storage, FileSystemStorage) or posixpath.normpath(path) != path or "\\" in path:
            raise Http404("No such file.")
        try:
            recording = selectors.get_recording_for_media(path)
        except Recording.DoesNotExist:
            raise Http404("No such file.") from None
        if not selectors.may_watch_recording(request.user, recording):
            raise Http404("No such file.")
        response = serve(request, path, document_root=storage.location)
        if recording.has_private_media:
            patch_cache_control(response, private=True, no_store=True)
        return response
