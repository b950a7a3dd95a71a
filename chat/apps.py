from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self):
        """Plug chat into the viewers' socket through events.extensions (events never imports
        chat). Dotted paths: imported on first use."""
        from events import extensions

        extensions.viewer_state.fill("chat.realtime.viewer_state")
        extensions.viewer_frame.fill("chat.realtime.viewer_frame")
