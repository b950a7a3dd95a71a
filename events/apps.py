from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Live events"

    def ready(self):
        """Who may watch an event is an object rule of accounts.permissions (Action.WATCH)."""
        from accounts import permissions
        from events.models import LiveEvent
        from events.selectors import watch_rule

        permissions.register_rule(permissions.Action.WATCH, LiveEvent, watch_rule)
