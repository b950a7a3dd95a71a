from django.urls import path

from broadcast import views

app_name = "broadcast"

urlpatterns = [
    path("studio/events/<int:event_id>/broadcast/ivs-key/", views.IvsStreamKeyView.as_view(), name="ivs-key"),
    path(
        "studio/events/<int:event_id>/broadcast/qr/<int:product_id>.png",
        views.OverlayQrView.as_view(),
        name="qr",
    ),
]
