from django.urls import path

from demo.views import DemoProductPageView

app_name = "demo"

urlpatterns = [
    path("demo/products/<str:sku>/", DemoProductPageView.as_view(), name="product"),
]
