"""Websocket routes. Each app adds its consumers' paths here (the viewer socket arrives with
the feature-product work)."""

websocket_urlpatterns: list = []
