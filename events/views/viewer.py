"""Viewers' pages: the event page (``/e/<brand>/<event>/``) and its Buy-link QR codes, and invited
viewers' pages (following an invite link, signing in to use it, asking for a fresh sign-in link).

The event page and QR codes show public fields only (events.payloads, events.serializers): never
a stream key, an ingest URL or a channel id beyond what the playback URL itself carries. An invite
link's secret sits after "#", so it never reaches a server log: token_link.js posts it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View

from catalog.models import Product
from events import extensions, invitations, page_cache, reminders, selectors
from events.exceptions import InviteLinkInvalid
from events.forms import InviteEmailForm, InviteTokenForm
from events.http_cache import QR_MAX_AGE, no_store_if_private
from events.models import LiveEvent
from events.payloads import buy_url
from events.selectors import get_watchable_event
from liveshop.display import format_price, qr_svg

Status = LiveEvent.Status
STATUS_LABELS = {Status.SCHEDULED: _("Upcoming"), Status.LIVE: _("Live"), Status.ENDED: _("Ended")}


class EventWatchView(View):
    """The viewer page: player, product card, lineup; viewer.js keeps them live. Anonymous
    viewers of a public event share one page (events.page_cache)."""

    template_name = "events/watch.html"  # embed.views.player shows the same page in a shop's frame

    def get(self, request, brand: str, slug: str):
        return page_cache.serve(
            request,
            page_cache.key_of("page", request, brand, slug),
            find_event=lambda: get_watchable_event(request.user, organization__slug=brand, slug=slug),
            build=lambda event: self.render_page(request, event),
        )

    def render_page(self, request, event: LiveEvent):
        if event.is_private:
            invitations.record_visit(event=event, user=request.user)  # the studio's "who joined"
        details = selectors.stream_details(event, user=request.user, viewer_page=viewer_page(request, event))
        highlight = details["currentHighlight"]
        card = with_display(highlight["product"], event) if highlight else None
        context = {
            "event": event,
            "status_label": STATUS_LABELS.get(event.status, event.get_status_display()),
            "screen": first_screen(event),
            "lineup": [with_display(item, event) for item in details["lineup"]],
            "card": card,
            "featured_id": card["id"] if card else None,
            "highlight": highlight,
            "config": page_config(event, details),
            "replay_url": extensions.replay_url(event),
            # "Remind me" on the "Starts in" screen: a signed-in viewer's own page says if they asked.
            "reminded": event.pk in reminders.reminded_event_ids(request.user, [event.pk]),
        }
        return render(request, self.template_name, {**context, **self.extra_context(request, event)})

    def extra_context(self, request, event: LiveEvent) -> dict:
        """What a subclass's template adds (the embed page's settings)."""
        return {}


def viewer_page(request, event: LiveEvent) -> str:
    """The event page's absolute URL (stream_details names it for sharing)."""
    page = reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})
    return request.build_absolute_uri(page)


def first_screen(event: LiveEvent) -> str:
    """What the player area shows before the script runs (viewer.js takes over from there)."""
    if event.status == Status.LIVE:
        return "connecting"
    if event.status == Status.ENDED:
        return "ended"
    return "scheduled" if event.scheduled_start > timezone.now() else "waiting"


def page_config(event: LiveEvent, details: dict) -> dict:
    """The page's data for viewer.js: the stream details plus where to connect and fetch."""
    kwargs = {"brand": event.organization.slug, "slug": event.slug, "product_id": 0}
    config = {
        **details,
        # Compared with incoming highlight ids, so no older highlight replaces a newer one even
        # when the newest one cleared the card (current_highlight is None then).
        "latestHighlightId": selectors.latest_highlight_id(event),
        "player": "ivs" if settings.VIDEO_BACKEND == "ivs" else "hls",
        "socketPath": f"/ws/events/{event.pk}/",
        "heartbeatMs": int(settings.LIVESHOP_WS_HEARTBEAT_SECONDS * 1000),
        "detailsUrl": reverse("viewer:stream-details", kwargs={"pk": event.pk}),
        "qrUrl": reverse("viewer:qr", kwargs=kwargs).replace("/0.svg", "/{id}.svg"),
    }
    if config["player"] == "ivs":
        # Served from our origin so the player starts a same-origin worker (no CDN, no blob: CSP).
        config["ivsWorker"] = static("vendor/ivs/amazon-ivs-wasmworker.min.js")
        config["ivsWasm"] = static("vendor/ivs/amazon-ivs-wasmworker.min.wasm")
    return config


def with_display(card: dict | None, event: LiveEvent) -> dict | None:
    """A product card plus what the template shows: the formatted price and the QR code's URL."""
    if card is None:
        return None
    kwargs = {"brand": event.organization.slug, "slug": event.slug, "product_id": card["id"]}
    qr = reverse("viewer:qr", kwargs=kwargs) if card["buyUrl"] else ""
    return {**card, "priceText": format_price(card["price"], card["currency"]), "qrUrl": qr}


class ProductQrCodeView(View):
    """An SVG QR code of a product's Buy link, for buying on a second screen. Only for products
    in the event's lineup or featured in it."""

    def get(self, request, brand: str, slug: str, product_id: int):
        event = get_watchable_event(request.user, organization__slug=brand, slug=slug)
        in_event = Q(pk__in=event.lineup.values("product")) | Q(pk__in=event.highlights.values("product"))
        product = get_object_or_404(
            Product.objects.filter(in_event, organization=event.organization), pk=product_id
        )
        url = buy_url(product, event)
        if not url:
            raise Http404("This product has no Buy link.")
        response = HttpResponse(qr_svg(url), content_type="image/svg+xml")
        patch_cache_control(response, max_age=QR_MAX_AGE, public=not event.is_private)
        return no_store_if_private(response, event)


PENDING_LINK = "liveshop.invite_link"  # session key: the invite link an anonymous visitor opened


def _refused(request, message: str, status: int = 400):
    return render(request, "events/invite/refused.html", {"message": message}, status=status)


class InviteView(View):
    """``/i/``: an invite link. Signed in: invited, then on to the event. Otherwise the link is
    remembered in the session and the visitor is asked to sign in."""

    def get(self, request):
        return render(request, "events/invite/open.html", {"form": InviteTokenForm()})

    def post(self, request):
        form = InviteTokenForm(request.POST)
        if not form.is_valid():
            return render(request, "events/invite/open.html", {"form": form}, status=400)
        try:
            link = invitations.find_invite_link(form.cleaned_data["token"])
            if request.user.is_authenticated:
                event = invitations.accept_invite_link(link_id=link.pk, user=request.user)
                return redirect(invitations.watch_path(event))
        except InviteLinkInvalid as exc:
            return _refused(request, str(exc))
        request.session[PENDING_LINK] = link.pk
        context = {"event": link.event, "form": InviteEmailForm()}
        return render(request, "events/invite/sign_in.html", context)


class InviteEmailView(View):
    """POST an address: it gets a one-time sign-in link that ends by using the invite link this
    session opened. The answer is the same whether or not a link was sent."""

    def post(self, request):
        link_id = request.session.get(PENDING_LINK)
        if link_id is None:
            return _refused(
                request, gettext("Open your invite link first (all of it), then ask for a sign-in link.")
            )
        try:
            link = invitations.get_usable_link(link_id)
        except InviteLinkInvalid as exc:
            return _refused(request, str(exc))
        form = InviteEmailForm(request.POST)
        if not form.is_valid():
            context = {"event": link.event, "form": form}
            return render(request, "events/invite/sign_in.html", context, status=400)
        invitations.send_invite_sign_in_link(link=link, email=form.cleaned_data["email"])
        return render(request, "events/invite/sent.html", {"email": form.cleaned_data["email"]})


class InviteContinueView(LoginRequiredMixin, View):
    """After signing in: use the invite link this session opened (password login) or the one the
    sign-in link names (``?c=``, signed and bound to the address), then go to the event."""

    def get(self, request):
        link_id = request.session.get(PENDING_LINK)
        if link_id is None and request.GET.get("c"):
            link_id = invitations.link_id_from_continue(request.GET["c"], user=request.user)
        if link_id is None:
            return _refused(
                request, gettext("Open your invite link again: this browser has no invitation to use.")
            )
        try:
            event = invitations.accept_invite_link(link_id=link_id, user=request.user)
        except InviteLinkInvalid as exc:
            return _refused(request, str(exc))
        request.session.pop(PENDING_LINK, None)
        return redirect(invitations.watch_path(event))


class InvitedSignInView(View):
    """``/i/signin/``: an invited address asks for a fresh one-time sign-in link."""

    def get(self, request):
        return render(request, "events/invite/request_link.html", {"form": InviteEmailForm()})

    def post(self, request):
        form = InviteEmailForm(request.POST)
        if not form.is_valid():
            return render(request, "events/invite/request_link.html", {"form": form}, status=400)
        invitations.send_invited_sign_in_link(email=form.cleaned_data["email"])
        return render(request, "events/invite/sent.html", {"email": form.cleaned_data["email"]})
