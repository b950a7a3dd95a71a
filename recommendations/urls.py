from django.urls import path

from recommendations import views

app_name = "recommendations"

urlpatterns = [
    path(
        "api/recommendations/<slug:brand_slug>/<int:product_id>/",
        views.related_view,
        name="related",
    ),
]
