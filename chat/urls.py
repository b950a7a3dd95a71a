from django.urls import path

from chat import hooks, moderation_views, poll_views, views

app_name = "chat"

urlpatterns = [
    path("studio/events/<int:pk>/chat.csv", views.ChatExportView.as_view(), name="export"),
    path("studio/moderation/", moderation_views.ModerationIndexView.as_view(), name="moderation-index"),
    path(
        "studio/brands/<slug:brand>/moderation/", moderation_views.ModerationView.as_view(), name="moderation"
    ),
    path("api/events/<int:pk>/chat/token/", views.ChatTokenView.as_view(), name="token"),
    path("hooks/ivschat/review/", hooks.ivschat_review, name="ivschat-review"),
    path("api/recordings/<int:pk>/chat/", views.ReplayChatView.as_view(), name="replay-chat"),
    # Polls: the host console (JSON) and viewers.
    path("studio/events/<int:event_id>/polls/", poll_views.polls_view, name="polls"),
    path(
        "studio/events/<int:event_id>/polls/<int:poll_id>/close/",
        poll_views.close_poll_view,
        name="close-poll",
    ),
    path("api/events/<int:event_id>/polls/<int:poll_id>/", poll_views.poll_view, name="poll"),
    path("api/events/<int:event_id>/polls/<int:poll_id>/vote/", poll_views.vote_view, name="vote"),
]
