from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("studio/events/<int:pk>/chat.csv", views.ChatExportView.as_view(), name="export"),
]
