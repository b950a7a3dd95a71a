from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from liveshop.views import healthz

admin.site.site_header = "Liveshop"
admin.site.site_title = "Liveshop admin"
admin.site.index_title = "Your brands"

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("events.urls")),
    path("admin/", admin.site.urls),
    path("healthz/", healthz, name="healthz"),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
