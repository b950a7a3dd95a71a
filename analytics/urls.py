from django.urls import path

from analytics import api, studio, views

app_name = "analytics"

urlpatterns = [
    path("api/analytics/beacon/", views.BeaconView.as_view(), name="beacon"),
    path("api/analytics/shows/<int:pk>/", api.ShowFiguresView.as_view(), name="api-show"),
    path("api/analytics/videos/<int:pk>/", api.VideoFiguresView.as_view(), name="api-video"),
    path("studio/analytics/", studio.ShowListView.as_view(), name="list"),
    path("studio/analytics/export.csv", studio.ShowListExportView.as_view(), name="list-export"),
    path("studio/analytics/shows/<int:pk>/", studio.ShowAnalyticsView.as_view(), name="show"),
    path(
        "studio/analytics/shows/<int:pk>/<str:table>.csv", studio.ShowExportView.as_view(), name="show-export"
    ),
    path("studio/analytics/videos/<int:pk>/", studio.VideoAnalyticsView.as_view(), name="video"),
    path(
        "studio/analytics/videos/<int:pk>/<str:table>.csv",
        studio.VideoExportView.as_view(),
        name="video-export",
    ),
]
