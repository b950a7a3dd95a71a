from django.urls import path

from events import webhooks

app_name = "events"

urlpatterns = [
    path("hooks/ivs/", webhooks.ivs_webhook, name="ivs-webhook"),
]
