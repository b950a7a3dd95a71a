"""The host console's discovery frames (pure builders). Hosts only: they go on the studio topic,
never to viewers."""

from __future__ import annotations

import base64

import cv2
import numpy as np

from catalog.models import Product
from discovery.detectors.base import Detection

THUMBNAIL_WIDTH = 192


def thumbnail(frame: np.ndarray) -> str:
    """The frame as a small JPEG data URL (a few KB) for the suggestion; never stored."""
    height, width = frame.shape[:2]
    small = cv2.resize(
        frame,
        (THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width))),
        interpolation=cv2.INTER_AREA,
    )
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode() if ok else ""


def product_ref(product: Product) -> dict:
    image = product.thumbnail or product.image
    return {"id": product.pk, "name": product.name, "sku": product.sku, "image": image.url if image else ""}


def suggestion(detection: Detection, product: Product, *, at: str, frame_thumbnail: str) -> dict:
    return {
        "product": product_ref(product),
        "score": detection.score,
        "box": list(detection.box),
        "inLineup": detection.in_lineup,
        "at": at,
        "thumbnail": frame_thumbnail,
    }


def status(
    *, state: str, at: str | None, fps: float, result: list[dict], error: str = "", auto: bool = False
) -> dict:
    """What the detector is doing: ``state`` waiting (a sampler opening the stream) / running /
    stopped / error, the last frame's time, frames a second over the last few, and the last
    frame's products."""
    return {"state": state, "at": at, "fps": round(fps, 2), "result": result, "error": error, "auto": auto}
