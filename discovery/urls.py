from django.urls import path

from discovery import views

app_name = "discovery"

urlpatterns = [
    path("studio/events/<int:event_id>/discovery/", views.DiscoverySettingsView.as_view(), name="settings"),
]
