"""The embeddable player's URLs (embed.views): the loader, the framed pages, oEmbed, the studio
page, and the debug-only demo shop."""

from django.urls import path

from embed.views import debug, oembed, player, studio

app_name = "embed"

urlpatterns = [
    path("embed.js", player.loader, name="loader"),
    path("embed/e/<slug:brand>/<slug:slug>/", player.EmbedWatchView.as_view(), name="watch"),
    path("embed/e/<slug:brand>/<slug:slug>/replay/", player.EmbedReplayView.as_view(), name="replay"),
    path(
        "embed/e/<slug:brand>/<slug:slug>/replay/<int:recording_id>/",
        player.EmbedReplayView.as_view(),
        name="replay-recording",
    ),
    path("embed/v/<slug:brand>/<slug:slug>/", player.EmbedVideoView.as_view(), name="video"),
    path("embed/b/<slug:brand>/", player.EmbedBrandView.as_view(), name="brand"),
    path("embed/b/<slug:brand>/shows/", player.EmbedShowsView.as_view(), name="shows"),
    path("embed/demo-shop/", debug.DemoShopView.as_view(), name="demo-shop"),
    path("oembed/", oembed.OEmbedView.as_view(), name="oembed"),
    path("studio/embed/", studio.EmbedSettingsView.as_view(), name="studio"),
]
