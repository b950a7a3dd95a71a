from django.contrib import admin

from accounts.admin import BrandScopedAdmin
from accounts.permissions import Action
from recommendations.models import OfferSettings, PersonalOffer


@admin.register(OfferSettings)
class OfferSettingsAdmin(BrandScopedAdmin):
    """Owners set their brands' personal offers here or in the studio (the same model checks)."""

    change_action = Action.MANAGE_MEMBERS
    delete_action = Action.MANAGE_MEMBERS
    list_display = ["organization", "max_percent", "minutes"]


@admin.register(PersonalOffer)
class PersonalOfferAdmin(BrandScopedAdmin):
    """Offers made to viewers, read only: the server alone writes them (recommendations.offers)."""

    view_action = Action.MANAGE_MEMBERS
    change_action = Action.MANAGE_MEMBERS
    delete_action = Action.MANAGE_MEMBERS
    list_display = ["organization", "product", "user", "cart", "percent_off", "created_at", "expires_at"]
    list_filter = ["organization"]
    readonly_fields = ["organization", "product", "user", "cart", "percent_off", "created_at", "expires_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
