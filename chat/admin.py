"""Chat in the admin, scoped to the user's brands. Moderators see messages and restrictions and
act through chat.services (hide, lift, the word list); only owners see the moderation log
(READ_MODERATION_LOG). Nothing here is added, edited or deleted by hand: every change is a
service call, so it is checked and logged the same way as from a page."""

from django.contrib import admin, messages

from accounts.admin import BrandScopedAdmin, ReadOnlyAdminMixin
from accounts.permissions import Action
from chat import services
from chat.models import BrandChatPolicy, ChatMessage, ChatRestriction, ModerationAction


class ReadOnlyScopedAdmin(ReadOnlyAdminMixin, BrandScopedAdmin):
    """Rows are written by services only."""

    view_action = Action.MODERATE_CHAT


@admin.register(ChatMessage)
class ChatMessageAdmin(ReadOnlyScopedAdmin):
    list_display = ("created_at", "event", "author_name", "author_role", "body", "is_hidden")
    list_filter = ("event", ("hidden_at", admin.EmptyFieldListFilter))
    search_fields = ("body", "author_name")
    list_select_related = ("event",)
    actions = ["hide"]

    @admin.display(boolean=True, description="hidden")
    def is_hidden(self, obj):
        return obj.is_hidden

    @admin.action(description="Hide the selected messages from every viewer", permissions=["hide"])
    def hide(self, request, queryset):
        for message in queryset:
            services.hide_message(message=message, by=request.user)
        self.message_user(request, f"{len(queryset)} message(s) hidden.", messages.SUCCESS)

    def has_hide_permission(self, request):
        return self._allowed(request, Action.MODERATE_CHAT)


@admin.register(ChatRestriction)
class ChatRestrictionAdmin(ReadOnlyScopedAdmin):
    list_display = ("user", "organization", "kind", "until", "created_by", "created_at", "lifted_at")
    list_filter = ("kind", ("lifted_at", admin.EmptyFieldListFilter))
    list_select_related = ("user", "organization", "created_by")
    actions = ["lift"]

    @admin.action(description="Lift these people's bans and time-outs", permissions=["lift"])
    def lift(self, request, queryset):
        people = {(row.organization, row.user) for row in queryset.select_related("organization", "user")}
        for organization, user in people:
            services.lift_restrictions(organization=organization, user=user, by=request.user)
        self.message_user(request, f"Lifted for {len(people)} person(s).", messages.SUCCESS)

    def has_lift_permission(self, request):
        return self._allowed(request, Action.MODERATE_CHAT)


@admin.register(BrandChatPolicy)
class BrandChatPolicyAdmin(BrandScopedAdmin):
    """The word list, saved through services.set_blocked_words (cleaned and logged)."""

    view_action = change_action = Action.MODERATE_CHAT
    list_display = ("organization",)
    fields = ("organization", "blocked_words", "word_action")

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return ("organization",) if obj else ()

    def save_model(self, request, obj, form, change):
        saved = services.set_blocked_words(
            organization=obj.organization, words=obj.blocked_words, by=request.user, action=obj.word_action
        )
        obj.pk = saved.pk


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnlyScopedAdmin):
    """The moderation log: the brand's owners see who did what, to whom, when."""

    view_action = Action.READ_MODERATION_LOG
    list_display = ("created_at", "actor", "kind", "target", "event", "detail_text", "organization")
    list_filter = ("kind", "organization")
    list_select_related = ("actor", "target", "event", "organization")
    date_hierarchy = "created_at"
