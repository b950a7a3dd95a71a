from django.urls import path

from events import media_hooks, webhooks
from events.views import studio as views

app_name = "events"

urlpatterns = [
    # Stream-state events: IVS through an EventBridge API destination.
    path("hooks/ivs/", webhooks.ivs_webhook, name="ivs-webhook"),
    # Stream state from the local media server: nginx-rtmp's callbacks (liveshop/video/local.py).
    path("hooks/media/on_publish", media_hooks.on_publish, name="media-on-publish"),
    path("hooks/media/on_publish_done", media_hooks.on_publish_done, name="media-on-publish-done"),
    path("hooks/media/on_record_done", media_hooks.on_record_done, name="media-on-record-done"),
    path("hooks/media/on_server_reset", media_hooks.on_server_reset, name="media-on-server-reset"),
    # Seller dashboard ("studio").
    path("studio/", views.EventListView.as_view(), name="list"),
    path("studio/events/new/", views.EventCreateView.as_view(), name="create"),
    path("studio/events/<slug:slug>/", views.EventDetailView.as_view(), name="detail"),
    path("studio/events/<slug:slug>/edit/", views.EventEditView.as_view(), name="edit"),
    path("studio/events/<slug:slug>/key/", views.StreamKeyRevealView.as_view(), name="reveal-key"),
    path("studio/events/<slug:slug>/key/rotate/", views.StreamKeyRotateView.as_view(), name="rotate-key"),
    path("studio/events/<slug:slug>/retry/", views.ChannelRetryView.as_view(), name="retry-channel"),
    path("studio/events/<slug:slug>/end/", views.EventEndView.as_view(), name="end"),
    path("studio/events/<slug:slug>/cancel/", views.EventCancelView.as_view(), name="cancel"),
    path("studio/events/<slug:slug>/delete/", views.EventDeleteView.as_view(), name="delete"),
    # Invitations to a private event (owners and hosts).
    path("studio/events/<slug:slug>/invitations/", views.InvitationsAddView.as_view(), name="invite-emails"),
    path(
        "studio/events/<slug:slug>/invitations/<int:pk>/remove/",
        views.InvitationRemoveView.as_view(),
        name="remove-invitation",
    ),
    path(
        "studio/events/<slug:slug>/invite-links/",
        views.InviteLinkCreateView.as_view(),
        name="create-invite-link",
    ),
    path(
        "studio/events/<slug:slug>/invite-links/<int:pk>/revoke/",
        views.InviteLinkRevokeView.as_view(),
        name="revoke-invite-link",
    ),
    # Host console: fetch() (JSON) or a plain form post.
    path("studio/events/<slug:slug>/feature/", views.ProductFeatureView.as_view(), name="feature"),
    path("studio/events/<slug:slug>/clear/", views.HighlightClearView.as_view(), name="clear"),
]
