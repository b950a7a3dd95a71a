from django.urls import path

from commerce import deal_views, embed_api, views

app_name = "commerce"

urlpatterns = [
    path("api/shop/<slug:brand_slug>/cart/", views.cart_view, name="cart"),
    path("api/shop/<slug:brand_slug>/cart/lines/", views.cart_add_view, name="cart-add"),
    path("api/shop/<slug:brand_slug>/cart/lines/<int:variant_id>/", views.cart_line_view, name="cart-line"),
    path("api/shop/<slug:brand_slug>/checkout/", views.checkout_view, name="checkout"),
    path("api/orders/<uuid:token>/", views.order_view, name="order"),
    path("api/orders/<uuid:token>/test-payment/", views.test_payment_view, name="test-payment"),
    path("orders/<uuid:token>/", views.order_page_view, name="order-page"),
    path("payments/webhook/", views.payment_webhook_view, name="payment-webhook"),
    # The same API in a shop's embed frame, behind a cart token instead of cookies (embed_api).
    path("api/embed/shop/<slug:brand_slug>/cart/", embed_api.cart_view, name="embed-cart"),
    path("api/embed/shop/<slug:brand_slug>/cart/lines/", embed_api.cart_add_view, name="embed-cart-add"),
    path(
        "api/embed/shop/<slug:brand_slug>/cart/lines/<int:variant_id>/",
        embed_api.cart_line_view,
        name="embed-cart-line",
    ),
    path("api/embed/shop/<slug:brand_slug>/checkout/", embed_api.checkout_view, name="embed-checkout"),
    path(
        "api/embed/orders/<uuid:token>/test-payment/", embed_api.test_payment_view, name="embed-test-payment"
    ),
    # The host console's flash deals (JSON).
    path("studio/events/<int:event_id>/deals/", deal_views.deals_view, name="deals"),
    path("studio/events/<int:event_id>/deals/<int:deal_id>/end/", deal_views.end_deal_view, name="end-deal"),
]
