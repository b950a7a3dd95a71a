"""Websocket routes."""

from django.urls import path

from events.consumers import ViewerConsumer

websocket_urlpatterns = [
    path("ws/events/<int:event_id>/", ViewerConsumer.as_asgi()),
]
