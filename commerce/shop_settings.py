"""Writes of a brand's shop settings from the studio (the admin edits the same row)."""

from __future__ import annotations

from django.db import transaction

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from commerce.models import ShopSettings


@transaction.atomic
def set_low_stock_default(*, organization: Organization, threshold: int | None, by) -> ShopSettings:
    """Set the brand's low-stock default (None: the site's 10; 0: never "only N left"), for every
    variant without its own threshold. Needs EDIT_CATALOG; ValidationError for a value outside
    0..MAX_LOW_STOCK_THRESHOLD, nothing saved. Creates the settings row when the brand has none;
    this process's cards read it at once (post_save: commerce.selectors.forget_shop), others
    within SHOP_CACHE_SECONDS."""
    permissions.require(by, Action.EDIT_CATALOG, organization)
    shop, _ = ShopSettings.objects.select_for_update().get_or_create(organization=organization)
    shop.low_stock_threshold = threshold
    shop.full_clean()
    shop.save(update_fields=["low_stock_threshold"])
    return shop
