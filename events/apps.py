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
        # Stock changes reach the events' viewers, consoles and replay pages (events.realtime.stock).
        from catalog.variants import listen_to_stock_changes
        from events.realtime.stock import push_stock_changes

        listen_to_stock_changes(push_stock_changes)
