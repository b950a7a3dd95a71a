"""Public, viewer-facing URLs (event pages, the stream_details API)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from events import api, viewer_views

app_name = "viewer"

urlpatterns = [
    path("e/<slug:brand>/<slug:slug>/", viewer_views.EventWatchView.as_view(), name="watch"),
    path(
        "e/<slug:brand>/<slug:slug>/qr/<int:product_id>.svg",
        viewer_views.ProductQrCodeView.as_view(),
        name="qr",
    ),
    path("api/events/<int:pk>/stream_details/", api.StreamDetailsView.as_view(), name="stream-details"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
