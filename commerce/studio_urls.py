"""The studio's orders (commerce.studio), mounted at /studio/orders/."""

from django.urls import path

from commerce import studio as views

app_name = "orders"

urlpatterns = [
    path("", views.OrderListView.as_view(), name="list"),
    path("shop/", views.ShopSettingsView.as_view(), name="shop"),
    path("export.csv", views.OrderExportView.as_view(), name="export"),
    path("shows/<int:pk>/", views.EventOrdersView.as_view(), name="event"),
    path("videos/<int:pk>/", views.VideoOrdersView.as_view(), name="video"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="detail"),
    path("<int:pk>/cancel/", views.OrderCancelView.as_view(), name="cancel"),
    path("<int:pk>/refund/", views.OrderRefundView.as_view(), name="refund"),
    path("<int:pk>/refund-part/", views.OrderPartialRefundView.as_view(), name="refund-part"),
]
