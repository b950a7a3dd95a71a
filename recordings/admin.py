"""Recordings and uploaded videos in the admin, read-only and scoped to the user's brands: rows
are written only by services (ingestion, uploads, the studio's timeline editor)."""

from django.contrib import admin
from django.utils.html import format_html

from accounts.admin import BrandScopedAdmin, BrandScopedInline, ReadOnlyAdminMixin, ReadOnlyInlineMixin
from recordings.models import ProductCue, Recording


class ProductCueInline(ReadOnlyInlineMixin, BrandScopedInline):
    model = ProductCue
    fields = ["start_ms", "end_ms", "product", "highlight"]
    readonly_fields = fields


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdminMixin, BrandScopedAdmin):
    list_display = ["__str__", "backend", "status", "duration", "replay_views", "replay"]
    list_filter = ["status", "backend"]
    list_select_related = ["event"]
    search_fields = ["event__title", "title", "source_prefix", "session_id"]
    date_hierarchy = "created_at"
    inlines = [ProductCueInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["sessions", "replay"]

    @admin.display(description="Replay")
    def replay(self, obj):
        return format_html('<a href="{}">master.m3u8</a>', obj.master_url) if obj.master_url else "—"
