from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    verbose_name = "Recommendations"

    def ready(self):
        from commerce import carts
        from recommendations.offers import apply_offers

        if apply_offers not in carts.PRICE_HOOKS:
            carts.PRICE_HOOKS.append(apply_offers)
