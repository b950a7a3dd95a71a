from __future__ import annotations

from typing import Protocol


class Recommender(Protocol):
    """Ids are strings (product ids as Personalize's ITEM_IDs; viewers as ``viewer_key``)."""

    def related(self, *, organization_id: int, product_id: str, viewer: str | None, n: int) -> list[str]:
        """Products related to ``product_id``, best first (may include ones the caller filters)."""

    def rank(self, *, organization_id: int, viewer: str, product_ids: list[str]) -> list[str]:
        """``product_ids`` ordered by how likely ``viewer`` is to want each, best first."""
