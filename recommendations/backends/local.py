"""The local backend: each brand's TrainedModel, kept in this process's memory for
``MODEL_SECONDS`` (a retrained model is served within that), so an answer costs no query."""

from __future__ import annotations

import threading
import time

from recommendations.learning import Model
from recommendations.models import TrainedModel

MODEL_SECONDS = 60.0


class LocalRecommender:
    def __init__(self):
        self._models: dict[int, tuple[float, Model]] = {}
        self._lock = threading.Lock()

    def model(self, organization_id: int) -> Model:
        cached = self._models.get(organization_id)
        if cached and time.monotonic() - cached[0] < MODEL_SECONDS:
            return cached[1]
        row = (
            TrainedModel.objects.filter(organization_id=organization_id)
            .values_list("data", flat=True)
            .first()
        )
        model = Model.from_json(row) if row else Model()
        with self._lock:
            self._models[organization_id] = (time.monotonic(), model)
        return model

    def forget(self, organization_id: int | None = None) -> None:
        with self._lock:
            if organization_id is None:
                self._models.clear()
            else:
                self._models.pop(organization_id, None)

    def related(self, *, organization_id: int, product_id: str, viewer: str | None, n: int) -> list[str]:
        return self.model(organization_id).related(product_id, n)

    def rank(self, *, organization_id: int, viewer: str, product_ids: list[str]) -> list[str]:
        model = self.model(organization_id)
        order = {item: index for index, item in enumerate(model.popular)}
        return sorted(product_ids, key=lambda item: order.get(item, len(order)))
