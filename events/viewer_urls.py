"""Public, viewer-facing URLs (event pages, the stream_details API)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from events import api, invite_views, viewer_views

app_name = "viewer"

urlpatterns = [
    path("e/<slug:brand>/<slug:slug>/", viewer_views.EventWatchView.as_view(), name="watch"),
    path(
        "e/<slug:brand>/<slug:slug>/qr/<int:product_id>.svg",
        viewer_views.ProductQrCodeView.as_view(),
        name="qr",
    ),
    path("api/events/<int:pk>/stream_details/", api.StreamDetailsView.as_view(), name="stream-details"),
    # Invited viewers of private events (the link's secret is after "#": see invite_views).
    path("i/", invite_views.InviteView.as_view(), name="invite"),
    path("i/email/", invite_views.InviteEmailView.as_view(), name="invite-email"),
    path("i/continue/", invite_views.InviteContinueView.as_view(), name="invite-continue"),
    path("i/signin/", invite_views.InvitedSignInView.as_view(), name="invite-sign-in"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
