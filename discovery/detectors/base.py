"""The detector gateway's protocol: a frame in, the catalogue's products found in it out.

A backend never sees models or requests: it gets the frame (BGR pixels) and the candidates (the
event's lineup first, then the rest of the brand's catalogue) and answers ``Detection`` rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class DetectorError(Exception):
    """The detector could not answer for this frame (the sampler logs it and goes on)."""


class DetectorThrottled(DetectorError):
    """The detection service asked us to slow down (SageMaker throttling, a model still loading)."""


class DetectorModelError(DetectorError):
    """The model itself failed on the frame (SageMaker ModelError: its container answered 4xx/5xx)."""


@dataclass(frozen=True)
class Candidate:
    """A product the detector may report: its id and SKU (SageMaker answers SKUs)."""

    product_id: int
    sku: str
    in_lineup: bool


@dataclass(frozen=True)
class Detection:
    """One product seen in a frame. ``box`` is (x, y, width, height) as fractions of the frame
    (0-1), so the console draws it over any size of thumbnail."""

    product_id: int
    score: float
    box: tuple[float, float, float, float]
    in_lineup: bool


class Detector(Protocol):
    def detect(
        self, frame: np.ndarray, *, organization_id: int, candidates: list[Candidate]
    ) -> list[Detection]:
        """The candidates found in ``frame`` (HxWx3 uint8 BGR), best first; [] for none.
        Raises DetectorError (or a subclass) when it cannot tell."""
        ...
