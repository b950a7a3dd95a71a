"""The studio's catalogue (catalog.studio), mounted at /studio/products/."""

from django.urls import path

from catalog import studio as views

app_name = "products"

urlpatterns = [
    path("", views.ProductListView.as_view(), name="list"),
    path("<int:pk>/", views.ProductEditView.as_view(), name="edit"),
]
