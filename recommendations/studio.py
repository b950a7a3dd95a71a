"""The studio's recommendations page (``/studio/recommendations/``): a brand's personalised
offers (maximum discount, how long an offer lasts) and "forget this person" (privacy). Owners
only (accounts.permissions, Action.MANAGE_MEMBERS); the services check it again."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from recommendations import offers
from recommendations.forms import ForgetPersonForm, OfferSettingsForm
from recommendations.services import forget_person


class _BrandPage(LoginRequiredMixin, View):
    def brands(self, request):
        return permissions.scope(Organization.objects.order_by("name"), request.user, Action.MANAGE_MEMBERS)

    def brand(self, request) -> Organization:
        """``?brand=`` (or the user's only brand) that the user owns: 404 otherwise."""
        slug = request.GET.get("brand") or request.POST.get("brand")
        if not slug:
            owned = list(self.brands(request)[:2])
            slug = owned[0].slug if len(owned) == 1 else ""
        return permissions.get_for_user_or_404(
            Organization.objects.all(), request.user, Action.MANAGE_MEMBERS, slug=slug
        )

    def show(self, request, brand, *, offer_form=None, forget_form=None, status=200):
        offer_form = offer_form or OfferSettingsForm(instance=offers.get_offer_settings(brand.pk))
        context = {
            "brand": brand,
            "brands": self.brands(request),
            "offer_form": offer_form,
            "forget_form": forget_form or ForgetPersonForm(),
        }
        return render(request, "recommendations/studio.html", context, status=status)

    def done(self, brand):
        return redirect(f"{reverse('recommendations:studio')}?brand={brand.slug}")


class RecommendationSettingsView(_BrandPage):
    """GET: the page; POST: save the brand's offer settings (update_offer_settings)."""

    def get(self, request):
        return self.show(request, self.brand(request))

    def post(self, request):
        brand = self.brand(request)
        form = OfferSettingsForm(request.POST, instance=offers.get_offer_settings(brand.pk))
        if not form.is_valid():
            return self.show(request, brand, offer_form=form, status=400)
        saved = offers.update_offer_settings(organization=brand, by=request.user, **form.cleaned_data)
        state = f"up to {saved.max_percent}% off for {saved.minutes} min" if saved.max_percent else "off"
        messages.success(request, f"Personal offers of {brand.name}: {state}.")
        return self.done(brand)


class ForgetPersonView(_BrandPage):
    """POST: forget_person for the account with the e-mail given (confirmed)."""

    def post(self, request):
        brand = self.brand(request)
        form = ForgetPersonForm(request.POST)
        if not form.is_valid():
            return self.show(request, brand, forget_form=form, status=400)
        deleted = forget_person(organization=brand, user=form.user, by=request.user)
        messages.success(
            request,
            f"{brand.name} forgot {form.cleaned_data['email']}: {deleted} interactions deleted, their "
            "orders are no longer learned from, and the recommender was retrained.",
        )
        return self.done(brand)
