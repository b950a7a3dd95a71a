"""Public replay URLs: ended events' replays and brands' published videos (recordings.views.replay)."""

from django.urls import path

from recordings.views import captions
from recordings.views import replay as views

app_name = "replays"

urlpatterns = [
    path("e/<slug:brand>/<slug:slug>/replay/", views.EventReplayView.as_view(), name="event"),
    path(
        "e/<slug:brand>/<slug:slug>/replay/<int:recording_id>/",
        views.EventReplayView.as_view(),
        name="event-recording",
    ),
    path(
        "e/<slug:brand>/<slug:slug>/replay/qr/<int:product_id>.svg",
        views.ReplayQrCodeView.as_view(),
        name="event-qr",
    ),
    path("v/<slug:brand>/<slug:slug>/", views.VideoView.as_view(), name="video"),
    path(
        "v/<slug:brand>/<slug:slug>/qr/<int:product_id>.svg",
        views.ReplayQrCodeView.as_view(),
        {"video": True},
        name="video-qr",
    ),
    path("captions/<int:track_id>.vtt", captions.CaptionsFileView.as_view(), name="captions"),
]
