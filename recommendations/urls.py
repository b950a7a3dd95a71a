from django.urls import path

from recommendations import offer_views, studio, views

app_name = "recommendations"

urlpatterns = [
    path(
        "api/recommendations/<slug:brand_slug>/<int:product_id>/",
        views.related_view,
        name="related",
    ),
    path("api/recommendations/<slug:brand_slug>/offer/", offer_views.offer_view, name="offer"),
    path("api/recommendations/<slug:brand_slug>/bought/", views.bought_view, name="bought"),
    path("studio/recommendations/", studio.RecommendationSettingsView.as_view(), name="studio"),
    path("studio/recommendations/forget/", studio.ForgetPersonView.as_view(), name="forget"),
]
