"""Public, viewer-facing URLs (event pages, the stream_details API)."""

app_name = "viewer"

urlpatterns: list = []
