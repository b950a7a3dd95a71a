from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = "Orders and carts"

    def ready(self):
        """A viewer's session carts follow them when they sign in (commerce.carts); the cards of
        events show their flash deals (commerce.deals); a brand or its shop settings saved or
        deleted is read again by this process's shop API (commerce.selectors.shop); catalog reads
        a brand's low-stock default from its shop settings (commerce.selectors, cached)."""
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_save

        from accounts.models import Organization
        from catalog import thresholds
        from commerce.models import ShopSettings
        from commerce.selectors import brand_low_stock_expression, brand_low_stock_threshold, forget_shop

        thresholds.fill(reader=brand_low_stock_threshold, expression=brand_low_stock_expression)

        for model in (Organization, ShopSettings):
            for signal in (post_save, post_delete):
                signal.connect(
                    forget_shop, sender=model, dispatch_uid=f"commerce-forget-shop-{model.__name__}"
                )

        from events import extensions

        extensions.card_deals.fill("commerce.deals.card_deals")
        extensions.card_deal_probe.fill("commerce.deals.card_deal_probe")

        from commerce.carts import adopt_session_carts_on_login

        user_logged_in.connect(adopt_session_carts_on_login, dispatch_uid="commerce-adopt-carts")
