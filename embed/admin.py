from django.contrib import admin

from accounts.admin import BrandScopedAdmin
from accounts.permissions import Action
from embed.forms import EmbedSettingsForm
from embed.models import EmbedSettings


class EmbedSettingsAdminForm(EmbedSettingsForm):
    class Meta(EmbedSettingsForm.Meta):
        fields = ["organization", *EmbedSettingsForm.Meta.fields]


@admin.register(EmbedSettings)
class EmbedSettingsAdmin(BrandScopedAdmin):
    """Owners edit their brands' allow-lists here or in the studio (the same form and checks)."""

    form = EmbedSettingsAdminForm
    change_action = Action.MANAGE_EMBED
    delete_action = Action.MANAGE_EMBED
    list_display = ["organization", "own_cart", "updated_at"]
    readonly_fields = ["updated_at"]
