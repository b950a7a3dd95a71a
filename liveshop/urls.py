from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from liveshop.views import healthz

admin.site.site_header = "Liveshop"
admin.site.site_title = "Liveshop admin"
admin.site.index_title = "Your brands"

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("events.urls")),
    path("", include("events.viewer_urls")),
    path("", include("recordings.urls")),
    path("studio/videos/", include("recordings.studio_urls")),
    path("admin/", admin.site.urls),
    path("healthz/", healthz, name="healthz"),
]
if settings.SERVE_MEDIA:
    # Uploads from local disk (development, single-machine compose); production uses S3.
    urlpatterns += [
        re_path(
            rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}
        )
    ]

handler500 = "liveshop.views.server_error"
