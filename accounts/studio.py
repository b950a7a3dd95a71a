"""The studio's brand page (``/studio/brand/``): the brand's own settings, for now its time zone
(the studio's times: a show's start, the lists). Owners only (accounts.permissions,
Action.EDIT_BRAND); another brand's page is a 404, a brand the user only works for a 403."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views import View

from accounts import permissions, services
from accounts.forms import BrandTimeZoneForm
from accounts.models import Organization
from accounts.permissions import Action


class BrandSettingsView(LoginRequiredMixin, View):
    """GET: the brand's time zone (``?brand=<slug>`` when the user owns several); POST: set it
    through accounts.services.set_time_zone."""

    def get(self, request):
        brand = self.brand(request)
        return self.show(request, brand, BrandTimeZoneForm(initial={"time_zone": brand.time_zone}))

    def post(self, request):
        brand = self.brand(request)
        form = BrandTimeZoneForm(request.POST)
        if form.is_valid():
            try:
                brand = services.set_time_zone(
                    organization=brand, time_zone=form.cleaned_data["time_zone"], by=request.user
                )
            except ValidationError as exc:
                form.add_error("time_zone", exc)
            else:
                messages.success(
                    request,
                    gettext("%(brand)s's times are now in %(zone)s.")
                    % {"brand": brand.name, "zone": brand.time_zone.replace("_", " ")},
                )
                return redirect(f"{reverse('brand-settings')}?brand={brand.slug}")
        return self.show(request, brand, form, status=400)

    def brands(self, request):
        return permissions.scope(Organization.objects.all(), request.user, Action.EDIT_BRAND)

    def brand(self, request) -> Organization:
        """The brand named by ``?brand=`` (else the first the user owns, by name) that the user
        may edit: 404 for another brand's or none, 403 for one they only work for."""
        slug = request.GET.get("brand") or request.POST.get("brand")
        if not slug:
            owned = self.brands(request).order_by("name").first()
            slug = owned.slug if owned else ""
        return permissions.get_for_user_or_404(
            Organization.objects.all(), request.user, Action.EDIT_BRAND, slug=slug
        )

    def show(self, request, brand: Organization, form: BrandTimeZoneForm, status: int = 200):
        context = {
            "brand": brand,
            "brands": self.brands(request),
            "form": form,
            "now": timezone.localtime(timezone.now(), brand.zone),
        }
        return render(request, "accounts/brand_settings.html", context, status=status)
