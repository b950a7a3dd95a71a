"""Live events in the admin, scoped to the user's brands. Writes go through events.services:
adding an event opens the dashboard form (create_event provisions the channel and sets the
lineup there); a change calls update_event, the lineup inline set_lineup, and deleting
delete_event (which deletes the video channel too). Stream keys are never shown here."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.utils.html import format_html

from accounts import permissions
from accounts.admin import BrandScopedAdmin, BrandScopedInline, ReadOnlyInlineMixin
from accounts.permissions import Action
from catalog.models import Product
from events import services
from events.exceptions import EventError
from events.models import SLUG_TAKEN, EventProduct, Invitation, InviteLink, LiveEvent, StreamSession

EDITABLE_FIELDS = (
    "title",
    "slug",
    "description",
    "scheduled_start",
    "thumbnail",
    "is_private",
    "is_recorded",
)


class LineupFormSet(BaseInlineFormSet):
    """Offers only the event's own brand's products (the field is already limited to the user's
    brands; a user in two brands must not mix them in one lineup)."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        field = form.fields.get("product")
        if field is not None and self.instance.organization_id:
            field.queryset = field.queryset.filter(organization_id=self.instance.organization_id)


class ScopedInline(BrandScopedInline):
    """An event's editable inline: editable by event managers while the event is open."""

    edit_action = Action.MANAGE_EVENTS

    def has_add_permission(self, request, obj=None):
        return self._may(request, self.edit_action, obj) and not (obj is not None and obj.is_closed)

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)


class EventProductInline(ScopedInline):
    model = EventProduct
    formset = LineupFormSet
    fields = ["position", "product"]
    extra = 1
    ordering = ["position", "id"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "product":
            kwargs["queryset"] = permissions.scope(Product.objects.all(), request.user, Action.MANAGE_EVENTS)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class StreamSessionInline(ReadOnlyInlineMixin, ScopedInline):
    model = StreamSession
    fields = ["stream_id", "started_at", "ended_at", "end_reason", "peak_viewers"]
    readonly_fields = fields


class InviteLinkInline(ReadOnlyInlineMixin, ScopedInline):
    """A private event's invite links (made and withdrawn on its studio page; the secret is never
    stored, only its hash, which is not shown either)."""

    model = InviteLink
    fields = ["label", "expires_at", "use_count", "max_uses", "revoked_at", "created_by", "created_at"]
    readonly_fields = fields


class InvitationInline(ReadOnlyInlineMixin, ScopedInline):
    """Who is invited to a private event and who joined (managed on its studio page)."""

    model = Invitation
    fields = ["email", "user", "link", "joined_at", "revoked_at", "created_at"]
    readonly_fields = fields


class LiveEventAdminForm(forms.ModelForm):
    """The admin's event form. The brand is read-only here, so Django's own check of the
    (organization, slug) constraint skips it: check the slug within the event's brand instead."""

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        taken = LiveEvent.objects.filter(organization_id=self.instance.organization_id, slug=slug)
        if self.instance.organization_id and taken.exclude(pk=self.instance.pk).exists():
            raise ValidationError(SLUG_TAKEN, code="unique")
        return slug


@admin.register(LiveEvent)
class LiveEventAdmin(BrandScopedAdmin):
    form = LiveEventAdminForm
    change_action = Action.MANAGE_EVENTS
    delete_action = Action.MANAGE_EVENTS
    list_display = [
        "title",
        "organization",
        "status",
        "scheduled_start",
        "is_private",
        "backend",
        "dashboard",
    ]
    list_select_related = ["organization"]
    list_filter = [
        "status",
        ("organization", admin.RelatedOnlyFieldListFilter),
        "is_private",
        "scheduled_start",
    ]
    search_fields = ["title", "slug", "organization__name"]
    date_hierarchy = "scheduled_start"
    ordering = ["-scheduled_start"]
    # stream_key_encrypted/stream_key_digest are deliberately absent: never shown, never editable.
    fieldsets = [
        (None, {"fields": ["organization", "title", "slug", "description", "scheduled_start", "thumbnail"]}),
        ("Video", {"fields": ["status", "is_private", "is_recorded", "stream_key", "provisioning_error"]}),
        (
            "Channel",
            {
                "classes": ["collapse"],
                "fields": ["backend", "channel_id", "ingest_url", "playback_url", "status_changed_at"],
            },
        ),
        ("History", {"classes": ["collapse"], "fields": ["created_by", "created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "organization",
        "status",
        "stream_key",
        "provisioning_error",
        "backend",
        "channel_id",
        "ingest_url",
        "playback_url",
        "status_changed_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    inlines = [EventProductInline, StreamSessionInline, InviteLinkInline, InvitationInline]
    actions = ["rotate_stream_key", "end_event"]

    @admin.display(description="Stream key")
    def stream_key(self, event):
        if not event.has_channel:
            return "—"
        return format_html(
            '•••••••• <a href="{}">Reveal on the event page</a> (hosts and owners only)',
            event.get_absolute_url(),
        )

    @admin.display(description="Dashboard")
    def dashboard(self, event):
        return format_html('<a href="{}">Open</a>', event.get_absolute_url())

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.has_channel:
            readonly += ["is_private", "is_recorded"]  # fixed once the channel exists (update_event)
        return readonly

    def has_change_permission(self, request, obj=None):
        # An ended or cancelled event can no longer change (update_event refuses): view only.
        if obj is not None and obj.is_closed:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_live:
            return False  # delete_event refuses a live event: end it first
        return super().has_delete_permission(request, obj)

    def add_view(self, request, form_url="", extra_context=None):
        # create_event provisions the channel and sets the lineup: the dashboard form calls it.
        if not self.has_add_permission(request):
            raise PermissionDenied
        return redirect("events:create")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk queryset delete would leave channels behind
        return actions

    def save_model(self, request, obj, form, change):
        if not change:  # add_view redirects; nothing else adds
            raise PermissionDenied
        fields = {name: getattr(obj, name) for name in form.changed_data if name in EDITABLE_FIELDS}
        current = LiveEvent.objects.get(pk=obj.pk)
        try:
            services.update_event(event=current, by=request.user, **fields)
        except EventError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except ValidationError as exc:  # a slug taken by a concurrent change since the form's check
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def save_formset(self, request, form, formset, change):
        if formset.model is not EventProduct:
            return super().save_formset(request, form, formset, change)
        rows = [
            f.cleaned_data
            for f in formset.forms
            if f.cleaned_data and f.cleaned_data.get("product") and not f.cleaned_data.get("DELETE")
        ]
        rows.sort(key=lambda row: row.get("position") or 10**9)  # a new row left at 0 goes last
        products = [row["product"] for row in rows]
        current = [item.product_id for item in EventProduct.objects.filter(event=form.instance)]
        if [p.pk for p in products] != current:
            try:
                services.set_lineup(event=form.instance, products=products, by=request.user)
            except EventError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        # What the admin's change message reads; the lineup was written by set_lineup above.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return None

    def delete_model(self, request, obj):
        try:
            services.delete_event(event=obj, by=request.user)
        except EventError as exc:
            self.message_user(request, f"{obj}: {exc}", messages.ERROR)

    def has_host_permission(self, request):
        return request.user.is_staff and permissions.can_in_any(request.user, Action.HOST_EVENT)

    @admin.action(description="Rotate stream key", permissions=["host"])
    def rotate_stream_key(self, request, queryset):
        self._each(
            request,
            queryset,
            services.rotate_stream_key,
            "Issued a new stream key for {} (reveal it on the event page).",
        )

    @admin.action(description="End event", permissions=["host"])
    def end_event(self, request, queryset):
        self._each(request, queryset, services.end_event, "Ended {}.")

    def _each(self, request, queryset, service, success: str) -> None:
        """Call ``service`` for each selected event; the service checks the permission."""
        for event in queryset.select_related("organization"):
            try:
                service(event=event, by=request.user)
            except (PermissionDenied, EventError) as exc:
                self.message_user(request, f"{event}: {exc}", messages.ERROR)
            else:
                self.message_user(request, success.format(event), messages.SUCCESS)

    def get_view_on_site_url(self, obj=None):
        return None if obj is None else obj.get_absolute_url()
