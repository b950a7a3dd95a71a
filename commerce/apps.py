from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = "Orders and carts"

    def ready(self):
        """A viewer's session carts follow them when they sign in (commerce.carts); the cards of
        events show their flash deals (commerce.deals)."""
        from django.contrib.auth.signals import user_logged_in

        from events import extensions

        extensions.card_deals.fill("commerce.deals.card_deals")

        from commerce.carts import adopt_session_carts_on_login

        user_logged_in.connect(adopt_session_carts_on_login, dispatch_uid="commerce-adopt-carts")
