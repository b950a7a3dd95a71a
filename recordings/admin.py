"""Recordings in the admin, read-only and scoped to the user's brands: rows are written only by
the ingestion service (``manage.py ingest_recording``, the Celery task)."""

from django.contrib import admin
from django.utils.html import format_html

from accounts import permissions
from accounts.admin import BrandScopedAdmin, ReadOnlyInlineMixin
from accounts.permissions import Action
from recordings.models import ProductCue, Recording


class ProductCueInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ProductCue
    fields = ["start_ms", "end_ms", "product", "highlight"]
    readonly_fields = fields

    def get_queryset(self, request):
        return permissions.scope(super().get_queryset(request), request.user, Action.VIEW)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return request.user.is_staff and permissions.can_in_any(request.user, Action.VIEW)
        return request.user.is_staff and permissions.can(request.user, Action.VIEW, obj)


@admin.register(Recording)
class RecordingAdmin(BrandScopedAdmin):
    list_display = ["event", "status", "started_at", "duration", "objects_copied", "replay"]
    list_filter = ["status", "backend"]
    list_select_related = ["event"]
    search_fields = ["event__title", "source_prefix", "session_id"]
    date_hierarchy = "created_at"
    inlines = [ProductCueInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["sessions", "replay"]

    @admin.display(description="Replay")
    def replay(self, obj):
        return format_html('<a href="{}">master.m3u8</a>', obj.master_url) if obj.master_url else "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
