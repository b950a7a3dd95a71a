"""The seller dashboard ("studio"): a brand's events, the event form, the go-live panel and the
host console (feature and clear products from the event page).

Each view checks permission through accounts.permissions (404 for another brand's event, 403 when
the role does not allow the action), validates with a form and calls the events services."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views import View

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from catalog.models import Product
from events import extensions, invitations, payloads, selectors, services
from events.exceptions import EventError
from events.forms import EventForm, InviteEmailsForm, InviteLinkForm
from events.models import Highlight, Invitation, InviteLink, LiveEvent

Status = LiveEvent.Status


def _event_or_404(request, slug: str, action: Action) -> LiveEvent:
    """The user's event at ``slug``. Slugs are unique within a brand: ``?brand=`` (on every studio
    link and form, see LiveEvent.get_absolute_url) names it; without it, a slug that two of the
    user's brands use resolves to the older event, never to another brand's."""
    events = LiveEvent.objects.select_related("organization").filter(slug=slug).order_by("pk")
    if brand := request.GET.get("brand"):
        events = events.filter(organization__slug=brand)
    event = permissions.scope(events, request.user, Action.VIEW).first()
    if event is None:
        raise Http404(gettext("No such event."))
    permissions.require(request.user, action, event)
    return event


def _render_detail(
    request, event: LiveEvent, *, stream_key: str = "", status: int = 200, **invitation_forms
) -> HttpResponse:
    user = request.user
    can_host = permissions.can(user, Action.HOST_EVENT, event)
    can_manage = permissions.can(user, Action.MANAGE_EVENTS, event)
    context = {
        "event": event,
        "can_host": can_host,
        "can_manage": can_manage,
        "lineup": selectors.lineup_of(event),
        "sessions": selectors.sessions_of(event),
        "recordings": extensions.event_recordings(event),
        "panel": selectors.go_live_panel(event) if event.has_channel else None,
        "stream_key": stream_key,
        **_console_context(event, can_feature=can_host and not event.is_closed),
        "invitations": _invitations_context(event, **invitation_forms)
        if can_manage and event.is_private
        else None,
    }
    response = render(request, "events/event_detail.html", context, status=status)
    add_never_cache_headers(response)  # a revealed key must not linger in a cache
    return response


def _invitations_context(
    event: LiveEvent, *, emails_form=None, link_form=None, new_link_url: str = ""
) -> dict:
    """The Invitations panel of a private event: who is invited (and who joined), the invite
    links, and a just-made link's URL (shown once: only its hash is stored)."""
    return {
        "people": invitations.list_invitations(event),
        "links": invitations.list_invite_links(event),
        "emails_form": emails_form or InviteEmailsForm(),
        "link_form": link_form or InviteLinkForm(),
        "new_link_url": new_link_url,
        "now": timezone.now(),
    }


def _console_context(event: LiveEvent, *, can_feature: bool) -> dict:
    """The host console's part of the event page: the highlight history (newest first), the
    product on screen, and the settings console.js reads (the same shapes the studio socket sends)."""
    labels = dict(Highlight.CueState.choices)
    history = [
        {**row, "cueLabel": labels.get(row["cueState"], row["cueState"])}
        for row in selectors.highlight_history(event)
    ]
    on_screen = history[0]["product"] if history and history[0]["product"] else None
    preview_url = event.playback_url if event.status in (Status.SCHEDULED, Status.LIVE) else ""
    # hls.js plays the local server's HLS and a public IVS channel's alike; a private IVS channel
    # needs a signed token, which only the viewer page asks the gateway for.
    preview_mode = "link" if event.is_private and event.backend == "ivs" else "hls"
    config = {
        "eventId": event.pk,
        "status": event.status,
        "socketPath": f"/ws/studio/events/{event.pk}/",
        "heartbeatMs": int(settings.LIVESHOP_WS_HEARTBEAT_SECONDS * 1000),
        "canFeature": can_feature,
        "preview": {"mode": preview_mode if preview_url else "none", "url": preview_url},
        "cueLabels": labels,
        "statusLabels": {value: str(label) for value, label in Status.choices},  # in the request's language
        "history": history,
    }
    rows = [
        {**row, "time": datetime.fromisoformat(row["at"]), "offset": _stream_clock(row["offsetMs"])}
        for row in history
    ]
    return {"console": config, "history": rows, "on_screen": on_screen, "can_feature": can_feature}


def _stream_clock(offset_ms: int | None) -> str:
    """An offset into the stream as the console shows it: 4:05, or 1:04:05 past an hour."""
    if offset_ms is None:
        return ""
    minutes, seconds = divmod(offset_ms // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class EventListView(LoginRequiredMixin, View):
    """The user's brands' events, grouped (live, upcoming, past) or filtered by ``?status=``."""

    def get(self, request):
        status = request.GET.get("status", "")
        status = status if status in Status.values else ""
        events = list(selectors.list_events(request.user, status=status))
        groups = selectors.group_events(events) if not status else [(status, Status(status).label, events)]
        counts = selectors.event_status_counts(request.user)
        context = {
            "groups": groups,
            "status": status,
            "status_label": Status(status).label if status else "",
            "tabs": [(value, label, counts[value]) for value, label in Status.choices],
            "total": sum(counts.values()),
            "brands": selectors.list_brands(request.user, Action.MANAGE_EVENTS),
            "show_brand": len(permissions.roles_of(request.user)) != 1,
        }
        return render(request, "events/event_list.html", context)


BRAND_PICKER = {
    "title": _("New event"),
    "intro": _("Which brand is this show for? Its lineup comes from that brand's catalogue."),
    "crumb": _("Studio"),
    "step": _("New event"),
    "list_url": "events:list",
    "create_url": "events:create",
}


class EventCreateView(LoginRequiredMixin, View):
    """New event for one brand (``?brand=<slug>``; a picker first when the user manages several)."""

    template_name = "events/event_form.html"

    def get(self, request):
        brand = self._brand(request)
        if brand is None:
            brands = selectors.list_brands(request.user, Action.MANAGE_EVENTS)
            return render(request, "studio/brand_picker.html", {"brands": brands, "picker": BRAND_PICKER})
        return render(request, self.template_name, {"form": EventForm(organization=brand), "brand": brand})

    def post(self, request):
        brand = self._brand(request)
        if brand is None:
            return redirect("events:create")
        form = EventForm(request.POST, organization=brand)
        if form.is_valid():
            try:
                event = services.create_event(
                    organization=brand,
                    by=request.user,
                    products=form.cleaned_data["lineup"],
                    **form.event_fields(),
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            except EventError as exc:
                form.add_error(None, str(exc))
            else:
                _report_channel(request, event, created=True)
                return redirect(event)
        return render(request, self.template_name, {"form": form, "brand": brand})

    def _brand(self, request) -> Organization | None:
        slug = request.GET.get("brand")
        if slug:
            return permissions.get_for_user_or_404(
                Organization.objects.all(), request.user, Action.MANAGE_EVENTS, slug=slug
            )
        brands = list(selectors.list_brands(request.user, Action.MANAGE_EVENTS)[:2])
        if not brands:
            raise PermissionDenied(gettext("You may not manage events for any brand."))
        return brands[0] if len(brands) == 1 else None


class EventEditView(LoginRequiredMixin, View):
    template_name = "events/event_form.html"

    def get(self, request, slug):
        event = _event_or_404(request, slug, Action.MANAGE_EVENTS)
        form = EventForm(organization=event.organization, event=event)
        return render(
            request, self.template_name, {"form": form, "brand": event.organization, "event": event}
        )

    def post(self, request, slug):
        event = _event_or_404(request, slug, Action.MANAGE_EVENTS)
        form = EventForm(request.POST, organization=event.organization, event=event)
        if form.is_valid():
            try:
                event = services.update_event(
                    event=event, by=request.user, products=form.cleaned_data["lineup"], **form.event_fields()
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            except EventError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("Event saved."))
                return redirect(event)
            event.refresh_from_db()  # the rolled-back update may have changed the instance
        return render(
            request, self.template_name, {"form": form, "brand": event.organization, "event": event}
        )


class EventDetailView(LoginRequiredMixin, View):
    """The go-live panel. The stream key is never in this page; see StreamKeyRevealView."""

    def get(self, request, slug):
        return _render_detail(request, _event_or_404(request, slug, Action.VIEW))


class StreamKeyRevealView(LoginRequiredMixin, View):
    """POST only: the detail page with the stream key in it, for the brand's hosts and owners."""

    def post(self, request, slug):
        event = _event_or_404(request, slug, Action.HOST_EVENT)
        try:
            key = services.reveal_stream_key(event=event, by=request.user)
        except EventError as exc:
            messages.error(request, str(exc))
            return redirect(event)
        return _render_detail(request, event, stream_key=key)


class EventActionView(LoginRequiredMixin, View):
    """A POST button on the detail page: check ``action``, call the service, say how it went."""

    action: Action
    success_message = ""

    def post(self, request, slug):
        event = _event_or_404(request, slug, self.action)
        try:
            response = self.perform(request, event)
        except EventError as exc:
            messages.error(request, str(exc))
            return redirect(event)
        if self.success_message:
            messages.success(request, self.success_message)
        return response or redirect(event)

    def perform(self, request, event: LiveEvent) -> HttpResponse | None:
        raise NotImplementedError


class StreamKeyRotateView(EventActionView):
    action = Action.HOST_EVENT
    success_message = (
        "New stream key issued: encoders using the old key are cut off. Reveal it to update them."
    )

    def perform(self, request, event):
        services.rotate_stream_key(event=event, by=request.user)


class ChannelRetryView(EventActionView):
    action = Action.MANAGE_EVENTS

    def perform(self, request, event):
        # provision_channel does not check the status; a cancelled event must not get a channel.
        if event.status != Status.NEEDS_CHANNEL:
            messages.info(request, gettext("This event does not need a video channel."))
            return None
        _report_channel(request, services.provision_channel(event=event, by=request.user))
        return None


class EventEndView(EventActionView):
    action = Action.HOST_EVENT
    success_message = "Event ended: the stream is stopped and the stream key revoked."

    def perform(self, request, event):
        services.end_event(event=event, by=request.user)


class EventCancelView(EventActionView):
    action = Action.MANAGE_EVENTS
    success_message = "Event cancelled; its video channel is deleted."

    def perform(self, request, event):
        services.cancel_event(event=event, by=request.user)


class EventDeleteView(EventActionView):
    action = Action.MANAGE_EVENTS

    def perform(self, request, event):
        services.delete_event(event=event, by=request.user)
        messages.success(request, gettext("Deleted “%(title)s”.") % {"title": event.title})
        return redirect(reverse("events:list"))


INVITATIONS_ANCHOR = "#invitations"


class InvitationsAddView(LoginRequiredMixin, View):
    """Invite e-mail addresses to a private event (owners and hosts); each gets a sign-in link."""

    def post(self, request, slug):
        event = _event_or_404(request, slug, Action.MANAGE_EVENTS)
        form = InviteEmailsForm(request.POST)
        if not form.is_valid():
            return _render_detail(request, event, status=400, emails_form=form)
        try:
            created = invitations.invite_emails(
                event=event, emails=form.cleaned_data["emails"], by=request.user
            )
        except EventError as exc:
            form.add_error(None, str(exc))
            return _render_detail(request, event, status=400, emails_form=form)
        skipped = len(set(form.cleaned_data["emails"])) - len(created)
        messages.success(
            request,
            (
                ngettext("Invited %(count)s person", "Invited %(count)s people", len(created))
                % {"count": len(created)}
            )
            + (gettext(" (%(skipped)s already invited).") % {"skipped": skipped} if skipped else "."),
        )
        return redirect(f"{event.get_absolute_url()}{INVITATIONS_ANCHOR}")


class InvitationRemoveView(LoginRequiredMixin, View):
    """Take one invited viewer's access away."""

    def post(self, request, slug, pk):
        event = _event_or_404(request, slug, Action.MANAGE_EVENTS)
        invitation = get_object_or_404(Invitation, event=event, pk=pk)
        invitations.remove_invitation(invitation=invitation, by=request.user)
        messages.success(request, gettext("%(person)s is no longer invited.") % {"person": invitation})
        return redirect(f"{event.get_absolute_url()}{INVITATIONS_ANCHOR}")


class InviteLinkCreateView(LoginRequiredMixin, View):
    """A new shareable invite link, shown once on the page this POST answers (never cached)."""

    def post(self, request, slug):
        event = _event_or_404(request, slug, Action.MANAGE_EVENTS)
        form = InviteLinkForm(request.POST)
        if not form.is_valid():
            return _render_detail(request, event, status=400, link_form=form)
        try:
            _, token = invitations.create_invite_link(
                event=event,
                by=request.user,
                expires_at=form.expires_at(),
                max_uses=form.cleaned_data["max_uses"],
                label=form.cleaned_data["label"],
            )
        except EventError as exc:
            form.add_error(None, str(exc))
            return _render_detail(request, event, status=400, link_form=form)
        return _render_detail(request, event, new_link_url=invitations.invite_url(token))


class InviteLinkRevokeView(LoginRequiredMixin, View):
    """Withdraw an invite link: nobody more can use it, and those who joined by it lose access."""

    def post(self, request, slug, pk):
        event = _event_or_404(request, slug, Action.MANAGE_EVENTS)
        link = get_object_or_404(InviteLink, event=event, pk=pk)
        invitations.revoke_invite_link(link=link, by=request.user)
        messages.success(
            request,
            gettext("“%(link)s” withdrawn: it no longer works, and those who joined by it lost access.")
            % {"link": link},
        )
        return redirect(f"{event.get_absolute_url()}{INVITATIONS_ANCHOR}")


class FeatureForm(forms.Form):
    """The product to feature: one of the event's brand's products. Another brand's product is
    refused without being looked up, so its name never shows."""

    product_id = forms.ModelChoiceField(queryset=Product.objects.none())

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["product_id"]
        field.queryset = Product.objects.filter(organization=organization)
        brand = str(organization).replace("%", "%%")  # the message is %-formatted with the value
        field.error_messages = {
            "required": "Choose a product to feature.",
            "invalid_choice": f"Product “%(value)s” is not one of {brand}'s products.",
        }


def _wants_json(request) -> bool:
    # Not request.accepts(): a browser's form post accepts */* too.
    return "application/json" in request.headers.get("Accept", "") or "X-Requested-With" in request.headers


class ConsoleActionView(LoginRequiredMixin, View):
    """A host console button (feature, clear). fetch() gets JSON: ``{"highlight": …}``, or
    ``{"error": …}`` with 400 (refused), 403 (not a host) or 404; a plain form post (no JS) is
    redirected back to the console with a message."""

    def post(self, request, slug):
        as_json = _wants_json(request)
        try:
            event = _event_or_404(request, slug, Action.HOST_EVENT)
            highlight = self.perform(request, event)
        except (Http404, PermissionDenied) as exc:
            if not as_json:
                raise
            if isinstance(exc, Http404):
                return JsonResponse({"error": gettext("No such event.")}, status=404)
            return JsonResponse(
                {"error": gettext("Only the brand's hosts and owners can do that.")}, status=403
            )
        except (EventError, ValidationError) as exc:
            error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            if as_json:
                return JsonResponse({"error": error}, status=400)
            messages.error(request, error)
            return redirect(f"{event.get_absolute_url()}#console")
        if as_json:
            return JsonResponse({"highlight": _console_highlight(highlight)})
        messages.success(request, self.done(highlight))
        return redirect(f"{event.get_absolute_url()}#console")

    def perform(self, request, event: LiveEvent) -> Highlight:
        raise NotImplementedError

    def done(self, highlight: Highlight) -> str:
        raise NotImplementedError


class ProductFeatureView(ConsoleActionView):
    def perform(self, request, event):
        form = FeatureForm(request.POST, organization=event.organization)
        if not form.is_valid():
            raise ValidationError(form.errors["product_id"])
        return services.feature_product(event=event, product=form.cleaned_data["product_id"], by=request.user)

    def done(self, highlight):
        return gettext("Featured “%(name)s”.") % {"name": highlight.product.name}


class HighlightClearView(ConsoleActionView):
    def perform(self, request, event):
        return services.clear_highlight(event=event, by=request.user)

    def done(self, highlight):
        return gettext("Product card cleared.")


def _console_highlight(highlight: Highlight) -> dict:
    """A highlight as the console's history holds it (the studio socket's history shape)."""
    # The cue may already have gone out after commit: answer its current state.
    highlight.refresh_from_db(fields=["cue_state", "cue_error"])
    return payloads.studio_highlight_payload(highlight)


def _report_channel(request, event: LiveEvent, *, created: bool = False) -> None:
    if event.has_channel:
        messages.success(
            request,
            gettext("Event created: its video channel is ready.") if created else gettext("Channel ready."),
        )
    else:
        failed = (
            gettext(
                "Event saved, but its video channel could not be created: %(reason)s Retry from this page."
            )
            if created
            else gettext("The video channel could not be created: %(reason)s Retry from this page.")
        )
        messages.warning(request, failed % {"reason": event.provisioning_error})
