from django import forms
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.http import Http404
from django.urls import path

from accounts import permissions, throttle
from accounts.forms import AdminLoginForm
from accounts.models import Membership, Organization
from accounts.permissions import Action
from accounts.time_zones import time_zone_choices

# The admin's login says when logins are paused (accounts.throttle) and answers 429 then.
admin.site.login_form = AdminLoginForm
admin.site.login = throttle.too_many_requests(admin.site.login)


def view_on_site(request, content_type_id: int, object_id: str):
    """The admin's "View on site" redirect (``/admin/r/<ct>/<id>/``), only for an object the user
    sees in that model's admin (brand-scoped): anything else is the same 404 as a missing object,
    so the redirect never reveals another brand's object or its address (an event's slug)."""
    try:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
    except ContentType.DoesNotExist:
        model = None
    model_admin = admin.site._registry.get(model)
    obj = model_admin.get_object(request, object_id) if model_admin else None
    if obj is None or not model_admin.has_view_or_change_permission(request, obj):
        raise Http404("No such object.")
    return shortcut(request, content_type_id, object_id)


def _scoped_admin_urls(get_urls):
    """admin.site's URLs with its "view on site" shortcut replaced by view_on_site."""

    def urls():
        patterns = get_urls()
        scoped = path("r/<int:content_type_id>/<path:object_id>/", admin.site.admin_view(view_on_site))
        for index, pattern in enumerate(patterns):
            if getattr(pattern, "name", None) == "view_on_site":
                scoped.name = pattern.name
                patterns[index] = scoped
        return patterns

    return urls


admin.site.get_urls = _scoped_admin_urls(admin.site.get_urls)


def _is_brand_owned(model) -> bool:
    return model is Organization or hasattr(model, "organization_field")


class BrandScopedAdmin(admin.ModelAdmin):
    """Admin for a brand-owned model: staff members see and edit only their brands' rows, and
    foreign-key choices are limited the same way; superusers see everything. Permissions come
    from accounts.permissions (roles), not from Django's per-model permissions."""

    view_action = Action.VIEW
    change_action = Action.EDIT_CATALOG
    delete_action = Action.DELETE_CATALOG

    def get_queryset(self, request):
        return permissions.scope(super().get_queryset(request), request.user, self.view_action)

    def _allowed(self, request, action, obj=None) -> bool:
        if not request.user.is_staff:
            return False
        if obj is None:
            return permissions.can_in_any(request.user, action)
        return permissions.can(request.user, action, obj)

    def has_module_permission(self, request):
        return self._allowed(request, self.view_action)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, self.view_action, obj)

    def has_add_permission(self, request):
        return self._allowed(request, self.change_action)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, self.change_action, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, self.delete_action, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if _is_brand_owned(related):
            kwargs["queryset"] = permissions.scope(
                kwargs.get("queryset", related._default_manager.all()), request.user, self.change_action
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.related_model
        if _is_brand_owned(related):
            kwargs["queryset"] = permissions.scope(
                kwargs.get("queryset", related._default_manager.all()), request.user, self.change_action
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # The form only offers the user's brands; this guards against a forged POST too.
        permissions.require(request.user, self.change_action, obj)
        super().save_model(request, obj, form, change)


class BrandScopedInline(admin.TabularInline):
    """An inline of a brand-owned child: rows scoped to the user's brands, and permissions from
    the parent's brand (with no parent, as when Django filters the inline's queryset, from the
    user's brands)."""

    def get_queryset(self, request):
        return permissions.scope(super().get_queryset(request), request.user, Action.VIEW)

    def _may(self, request, action, obj) -> bool:
        if not request.user.is_staff:
            return False
        if obj is None:
            return permissions.can_in_any(request.user, action)
        return permissions.can(request.user, action, obj)

    def has_view_permission(self, request, obj=None):
        return self._may(request, Action.VIEW, obj)


class ReadOnlyAdminMixin:
    """An admin or inline that only shows rows (written by services, never through the admin).
    Put it before the admin class it mixes into."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInlineMixin(ReadOnlyAdminMixin):
    """An inline that only shows rows."""

    extra = 0
    can_delete = False


class MembershipInline(admin.TabularInline):
    """Members of a brand. Only superusers edit them here: the user picker would list every
    account on the site, which a brand owner must not see."""

    model = Membership
    extra = 0

    def _may_manage(self, request, obj):
        return permissions.is_superuser(request.user)

    def has_view_permission(self, request, obj=None):
        return obj is not None and permissions.can(request.user, Action.VIEW, obj)

    def has_add_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_manage(request, obj)


@admin.register(Organization)
class OrganizationAdmin(BrandScopedAdmin):
    change_action = Action.MANAGE_MEMBERS
    delete_action = Action.MANAGE_MEMBERS
    list_display = ["name", "slug", "time_zone", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":  # a list of the zones, checked by the model's validator too
            return forms.TypedChoiceField(
                choices=time_zone_choices(), label="Time zone", help_text=db_field.help_text
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return permissions.is_superuser(request.user)

    def has_delete_permission(self, request, obj=None):
        return permissions.is_superuser(request.user)
