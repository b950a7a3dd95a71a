from django.urls import path

from events import webhooks

app_name = "events"

urlpatterns = [
    # Stream-state events: IVS through an EventBridge API destination.
    path("hooks/ivs/", webhooks.ivs_webhook, name="ivs-webhook"),
]
