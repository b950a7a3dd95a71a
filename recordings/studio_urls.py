"""The studio's uploaded videos (recordings.views.studio), mounted at /studio/videos/."""

from django.urls import path

from recordings.views import captions, resumable, video_files
from recordings.views import studio as views

app_name = "videos"

urlpatterns = [
    path("", views.VideoListView.as_view(), name="list"),
    path("new/", views.VideoCreateView.as_view(), name="create"),
    path("uploads/", resumable.ResumableStartView.as_view(), name="upload-start"),
    path("uploads/<uuid:upload_id>/", resumable.ResumableUploadView.as_view(), name="upload"),
    path(
        "uploads/<uuid:upload_id>/parts/<int:number>/",
        resumable.ResumablePartView.as_view(),
        name="upload-part",
    ),
    path(
        "uploads/<uuid:upload_id>/complete/",
        resumable.ResumableCompleteView.as_view(),
        name="upload-complete",
    ),
    path("<int:pk>/", views.VideoDetailView.as_view(), name="detail"),
    path("<int:pk>/progress/", views.VideoProgressView.as_view(), name="progress"),
    path("<int:pk>/cues/", views.CueSaveView.as_view(), name="cues"),
    path("<int:pk>/cues/import/", views.SrtImportView.as_view(), name="import-srt"),
    path("<int:pk>/cues.srt", views.SrtExportView.as_view(), name="export-srt"),
    path("<int:pk>/publish/", views.VideoPublishView.as_view(), name="publish"),
    path("<int:pk>/retry/", views.VideoRetryView.as_view(), name="retry"),
    path("<int:pk>/replace/", video_files.VideoReplaceView.as_view(), name="replace"),
    path("<int:pk>/delete/", video_files.VideoDeleteView.as_view(), name="delete"),
    path("<int:pk>/poster/", video_files.VideoPosterView.as_view(), name="poster"),
    path("<int:pk>/captions/", captions.CaptionsUploadView.as_view(), name="captions"),
    path(
        "<int:pk>/captions/<int:track_id>/delete/",
        captions.CaptionsDeleteView.as_view(),
        name="captions-delete",
    ),
]
