"""The seller dashboard ("studio"): a brand's events, the event form and the go-live panel.

Each view checks permission through accounts.permissions (404 for another brand's event, 403 when
the role does not allow the action), validates with a form and calls the events services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from events import selectors, services
from events.exceptions import EventError
from events.forms import EventForm
from events.models import LiveEvent

Status = LiveEvent.Status


def _event_or_404(request, slug: str, action: Action) -> LiveEvent:
    events = LiveEvent.objects.select_related("organization")
    return permissions.get_for_user_or_404(events, request.user, action, slug=slug)


def _render_detail(request, event: LiveEvent, *, stream_key: str = "") -> HttpResponse:
    user = request.user
    context = {
        "event": event,
        "can_host": permissions.can(user, Action.HOST_EVENT, event),
        "can_manage": permissions.can(user, Action.MANAGE_EVENTS, event),
        "lineup": selectors.lineup_of(event),
        "sessions": selectors.sessions_of(event),
        "panel": selectors.go_live_panel(event) if event.has_channel else None,
        "stream_key": stream_key,
    }
    response = render(request, "events/event_detail.html", context)
    add_never_cache_headers(response)  # a revealed key must not linger in a cache
    return response


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


class EventCreateView(LoginRequiredMixin, View):
    """New event for one brand (``?brand=<slug>``; a picker first when the user manages several)."""

    template_name = "events/event_form.html"

    def get(self, request):
        brand = self._brand(request)
        if brand is None:
            brands = selectors.list_brands(request.user, Action.MANAGE_EVENTS)
            return render(request, "events/brand_picker.html", {"brands": brands})
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
            raise PermissionDenied("You may not manage events for any brand.")
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
                messages.success(request, "Event saved.")
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
            messages.info(request, "This event does not need a video channel.")
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
        messages.success(request, f"Deleted “{event.title}”.")
        return redirect(reverse("events:list"))


def _report_channel(request, event: LiveEvent, *, created: bool = False) -> None:
    if event.has_channel:
        messages.success(
            request, "Event created: its video channel is ready." if created else "Channel ready."
        )
    else:
        messages.warning(
            request,
            f"{'Event saved, but its' if created else 'The'} video channel could not be created: "
            f"{event.provisioning_error} Retry from this page.",
        )
