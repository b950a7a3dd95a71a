from django.contrib import admin

from accounts.admin import BrandScopedAdmin, ReadOnlyAdminMixin
from discovery.models import AutoFeature, EventDiscovery


@admin.register(EventDiscovery)
class EventDiscoveryAdmin(BrandScopedAdmin):
    list_display = ["event", "enabled", "auto_feature", "auto_by", "updated_at"]
    list_filter = ["enabled", "auto_feature"]
    raw_id_fields = ["event", "auto_by"]


@admin.register(AutoFeature)
class AutoFeatureAdmin(ReadOnlyAdminMixin, BrandScopedAdmin):
    list_display = ["event", "highlight", "score", "created_at"]
