from django.apps import AppConfig


class BroadcastConfig(AppConfig):
    """Going live from the host console's browser: the local relay (MediaRecorder -> websocket ->
    ffmpeg -> the local media server) and the IVS Web Broadcast SDK's stream key endpoint."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "broadcast"
