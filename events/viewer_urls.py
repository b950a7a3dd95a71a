"""Public, viewer-facing URLs (event pages, show lists, reminders, the stream_details API)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from events import api
from events.views import discover, viewer

app_name = "viewer"

urlpatterns = [
    path("e/<slug:brand>/<slug:slug>/", viewer.EventWatchView.as_view(), name="watch"),
    path(
        "e/<slug:brand>/<slug:slug>/qr/<int:product_id>.svg",
        viewer.ProductQrCodeView.as_view(),
        name="qr",
    ),
    # Finding shows (the home page is liveshop.urls' "home"): a brand's shows, "Remind me".
    path("b/<slug:brand>/", discover.BrandShowsView.as_view(), name="brand"),
    path("e/<slug:brand>/<slug:slug>/calendar.ics", discover.EventCalendarView.as_view(), name="calendar"),
    path("e/<slug:brand>/<slug:slug>/remind/", discover.EventReminderView.as_view(), name="remind"),
    path("api/events/<int:pk>/stream_details/", api.StreamDetailsView.as_view(), name="stream-details"),
    # Invited viewers of private events (the link's secret is after "#": see events.views.viewer).
    path("i/", viewer.InviteView.as_view(), name="invite"),
    path("i/email/", viewer.InviteEmailView.as_view(), name="invite-email"),
    path("i/continue/", viewer.InviteContinueView.as_view(), name="invite-continue"),
    path("i/signin/", viewer.InvitedSignInView.as_view(), name="invite-sign-in"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
