"""The studio's embed page (``/studio/embed/``): a brand's allowed sites, its cart mode, and the
snippet to paste. Owners only (accounts.permissions, Action.MANAGE_EMBED)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views import View

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from embed import selectors, services
from embed.forms import EmbedSettingsForm


class EmbedSettingsView(LoginRequiredMixin, View):
    """GET: the brand's form and snippet (``?brand=<slug>`` when the user owns several); POST:
    save through embed.services.update_embed_settings."""

    def brands(self, request):
        return permissions.scope(Organization.objects.all(), request.user, Action.MANAGE_EMBED)

    def get(self, request):
        brand = self.brand(request)
        settings_ = selectors.get_embed_settings(brand.pk)
        return self.show(request, brand, EmbedSettingsForm(instance=settings_))

    def post(self, request):
        brand = self.brand(request)
        form = EmbedSettingsForm(request.POST, instance=selectors.get_embed_settings(brand.pk))
        if form.is_valid():
            try:
                services.update_embed_settings(
                    organization=brand,
                    allowed_origins=form.cleaned_data["allowed_origins"],
                    own_cart=form.cleaned_data["own_cart"],
                    by=request.user,
                )
            except ValidationError as exc:
                form.add_error("allowed_origins", exc)
            else:
                messages.success(
                    request, gettext("Embed settings of %(brand)s saved.") % {"brand": brand.name}
                )
                return redirect(f"{reverse('embed:studio')}?brand={brand.slug}")
        return self.show(request, brand, form, status=400)

    def brand(self, request) -> Organization:
        """The brand named by ``?brand=`` (or the user's only one) that the user may manage:
        404 for another brand's or none, 403 for a brand they only see."""
        slug = request.GET.get("brand") or request.POST.get("brand")
        if not slug:
            owned = list(self.brands(request)[:2])
            slug = owned[0].slug if len(owned) == 1 else ""
        return permissions.get_for_user_or_404(
            Organization.objects.all(), request.user, Action.MANAGE_EMBED, slug=slug
        )

    def show(self, request, brand, form, status: int = 200):
        context = {
            "brand": brand,
            "brands": self.brands(request),
            "form": form,
            "origin": request.build_absolute_uri("/").rstrip("/"),
            "next_show": selectors.next_show(brand),
        }
        return render(request, "embed/studio.html", context, status=status)
