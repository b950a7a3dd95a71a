"""The console's detector switch: on/off and automatic mode (hosts and owners)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.views import View

from accounts import permissions
from accounts.permissions import Action
from discovery import services
from events.models import LiveEvent


class DiscoverySettingsForm(forms.Form):
    enabled = forms.BooleanField(required=False)
    auto_feature = forms.BooleanField(required=False)


class DiscoverySettingsView(LoginRequiredMixin, View):
    """POST enabled / auto_feature. fetch() gets ``{"enabled", "autoFeature"}`` (403 for anyone
    but the brand's hosts and owners, 404 for another brand's event); a form post is redirected
    back to the console."""

    def post(self, request, event_id: int):
        as_json = "application/json" in request.headers.get("Accept", "")
        events = permissions.scope(
            LiveEvent.objects.select_related("organization"), request.user, Action.VIEW
        )
        event = events.filter(pk=event_id).first()
        if event is None:
            return JsonResponse({"error": "No such event."}, status=404)
        form = DiscoverySettingsForm(request.POST)
        form.is_valid()  # two optional checkboxes: anything else reads as off
        try:
            entry = services.update_discovery_settings(event=event, by=request.user, **form.cleaned_data)
        except PermissionDenied:
            return JsonResponse(
                {"error": gettext("Only the brand's hosts and owners can do that.")}, status=403
            )
        if as_json:
            return JsonResponse({"enabled": entry.enabled, "autoFeature": entry.auto_feature})
        messages.success(request, gettext("Product detection settings saved."))
        return redirect(f"{event.get_absolute_url()}#discovery")
