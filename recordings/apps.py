from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
    verbose_name = "Recordings and videos"
