"""Websocket routes."""

from django.urls import path

from broadcast.consumers import PublishConsumer
from events.consumers import StudioConsumer, ViewerConsumer
from events.stock_socket import StockConsumer

websocket_urlpatterns = [
    path("ws/events/<int:event_id>/", ViewerConsumer.as_asgi()),
    path("ws/studio/events/<int:event_id>/", StudioConsumer.as_asgi()),
    path("ws/stock/", StockConsumer.as_asgi()),  # replay and video pages' stock
    path("ws/studio/events/<int:event_id>/publish/", PublishConsumer.as_asgi()),  # go live from the browser
]
