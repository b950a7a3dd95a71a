import posixpath

from django.conf import settings
from django.contrib import admin
from django.http import Http404
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.static import serve

from events.views.discover import HomeView
from liveshop.i18n import language_token
from liveshop.views import healthz, robots_txt
from recordings.views.replay import RecordingMediaView

# Folders of MEDIA_ROOT the generic media view never serves: uploaded videos' originals (never
# served at all) and the "recordings" storage (only through RecordingMediaView's permission check).
UNSERVED_MEDIA = {"uploads", "recordings"}

admin.site.site_header = "Liveshop"
admin.site.site_title = _("Liveshop admin")
admin.site.index_title = _("Your brands")

urlpatterns = [
    path("", HomeView.as_view(), name="home"),  # the shows on now, soon and to replay
    path("", include("accounts.urls")),
    path("", include("events.urls")),
    path("", include("events.viewer_urls")),
    path("", include("recordings.replay_urls")),
    path("studio/videos/", include("recordings.studio_urls")),
    path("studio/orders/", include("commerce.studio_urls")),
    path("studio/products/", include("catalog.studio_urls")),
    path("", include("commerce.urls")),
    path("", include("chat.urls")),
    path("", include("analytics.urls")),  # beacons, the studio's analytics
    path("", include("embed.urls")),  # the embeddable player, oEmbed, its studio page
    path("", include("broadcast.urls")),  # go live from the console's browser
    path("", include("recommendations.urls")),
    path("", include("discovery.urls")),  # the console's product detector switch
    path("", include("demo.urls")),  # make demo's product pages (DEBUG only)
    path("admin/", admin.site.urls),
    path("healthz/", healthz, name="healthz"),
    path("robots.txt", robots_txt, name="robots-txt"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the header's language form
    path("i18n/token/", language_token, name="language-token"),
]


def serve_public_media(request, path: str):
    """MEDIA_ROOT's public files (product images, event thumbnails), not UNSERVED_MEDIA's, by
    the name serve() resolves (so "a/../uploads/x" is refused too)."""
    name = posixpath.normpath(path).lstrip("/")
    if name.split("/", 1)[0] in UNSERVED_MEDIA | {".."}:
        raise Http404("No such file.")
    return serve(request, path, document_root=settings.MEDIA_ROOT)


def media_urlpatterns() -> list:
    """MEDIA_URL served by Django: the "recordings" storage's files through the permission check,
    the rest through serve_public_media."""
    media = settings.MEDIA_URL.strip("/")
    return [
        re_path(rf"^{media}/recordings/(?P<path>.*)$", RecordingMediaView.as_view(), name="recording-media"),
        re_path(rf"^{media}/(?P<path>.*)$", serve_public_media),
    ]


if settings.SERVE_MEDIA:
    # Uploads from local disk (development, single-machine compose); production uses S3.
    urlpatterns += media_urlpatterns()

handler500 = "liveshop.views.server_error"
