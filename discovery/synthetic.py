"""Frames with known products in them, for the tests, bench/discovery.py and the demo: a product
photo warped (scale, rotation, perspective) onto a busy background, with optional blur, lighting
change and partial occlusion. Deterministic for a given seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# Six real product photos: the catalogue shots ("iconic images") of marcusklasson's
# GroceryStoreDataset (MIT, its LICENSE beside them), copied as they are.
GROCERY = Path(__file__).resolve().parent / "tests" / "data" / "grocery"


def grocery_photos(root: Path = GROCERY) -> dict[str, Path]:
    """Product name -> its catalogue photo, e.g. "Arla-Standard-Milk"."""
    return {path.name.removesuffix("_Iconic.jpg"): path for path in sorted(root.glob("*_Iconic.jpg"))}


def background(width: int = 640, height: int = 360, *, seed: int = 0) -> np.ndarray:
    """A textured scene: a gradient, shapes and noise (plenty of keypoints, no product)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    base = rng.uniform(40, 200, 3).astype(np.float32)
    image = base * (0.6 + 0.4 * x) * (0.7 + 0.3 * y)
    image = np.ascontiguousarray(image.astype(np.uint8))
    for _ in range(25):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.5:
            cv2.circle(image, center, int(rng.integers(5, 60)), colour, -1)
        else:
            size = rng.integers(10, 120, 2)
            cv2.rectangle(image, center, (center[0] + int(size[0]), center[1] + int(size[1])), colour, -1)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Placement:
    """Where a product was put: its box as fractions of the frame (x, y, width, height)."""

    box: tuple[float, float, float, float]


def composite(
    frame: np.ndarray,
    photo: np.ndarray,
    *,
    seed: int = 0,
    height_fraction: float = 0.5,
    angle: float = 0.0,
    perspective: float = 0.1,
    blur: int = 0,
    gain: float = 1.0,
    occlusion: float = 0.0,
) -> Placement:
    """Draw ``photo`` into ``frame`` (in place): ``height_fraction`` of the frame's height,
    turned ``angle`` degrees, corners moved by up to ``perspective`` of its size, then blurred,
    lit (``gain``) and with ``occlusion`` of its width covered by a bar."""
    rng = np.random.default_rng(seed)
    fh, fw = frame.shape[:2]
    ph, pw = photo.shape[:2]
    size = fh * height_fraction
    w, h = size * pw / ph, size
    cx = rng.uniform(w / 2 + 5, fw - w / 2 - 5)
    cy = rng.uniform(h / 2 + 5, fh - h / 2 - 5)
    corners = np.float32([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    corners += rng.uniform(-perspective, perspective, (4, 2)).astype(np.float32) * [w, h]
    theta = np.deg2rad(angle)
    rotation = np.float32([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    target = corners @ rotation.T + [cx, cy]
    source = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    matrix = cv2.getPerspectiveTransform(source, target.astype(np.float32))
    lit = np.clip(photo.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    warped = cv2.warpPerspective(lit, matrix, (fw, fh))
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, (fw, fh))
    if blur:
        warped = cv2.GaussianBlur(warped, (blur * 2 + 1, blur * 2 + 1), 0)
    frame[mask > 0] = warped[mask > 0]
    x0, y0 = target.min(axis=0)
    x1, y1 = target.max(axis=0)
    if occlusion:
        bar = int(x0 + (x1 - x0) * (1 - occlusion))
        cv2.rectangle(frame, (bar, int(y0)), (int(x1), int(y1)), (30, 30, 30), -1)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, fw), min(y1, fh)
    return Placement((x0 / fw, y0 / fh, (x1 - x0) / fw, (y1 - y0) / fh))


def look_alike(photo: np.ndarray) -> np.ndarray:
    """A product not in the catalogue that looks like one: the same pack, colours and layout,
    mirrored and with its hues turned (another flavour of the range, a competitor's copy)."""
    hsv = cv2.cvtColor(cv2.flip(photo, 1), cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + 30) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def scrambled(photo: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """A harder look-alike: the photo's own print cut in 4 x 4 tiles and shuffled (each tile
    alone is real print of the product, as a shared logo would be)."""
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    tiles = [
        photo[y : y + h // 4, x : x + w // 4]
        for y in range(0, h - h // 4 + 1, h // 4)
        for x in range(0, w - w // 4 + 1, w // 4)
    ]
    order = rng.permutation(len(tiles))
    rows = [np.hstack([tiles[order[r * 4 + c]] for c in range(4)]) for r in range(4)]
    return cv2.GaussianBlur(np.vstack(rows), (3, 3), 0)


def box_overlap(a: tuple, b: tuple) -> float:
    """Intersection over union of two (x, y, width, height) boxes."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


CAPTION_WORDS = ("Spring", "drop", "LIVE", "now", "only", "today", "Free", "shipping", "Order", "code",
                 "SAVE20", "Summer", "Collection", "with", "Anna", "Ben")  # fmt: skip


def lower_third(frame: np.ndarray, *, seed: int = 0, height: float = 0.22) -> np.ndarray:
    """Draw a show's lower third into ``frame`` (in place): a dark band across its bottom
    ``height`` with a caption and a web address in white and gold letters, and a red price
    banner top right. Lettering is all sharp corners: ORB's strongest keypoints land there."""
    rng = np.random.default_rng(seed)
    fh, fw = frame.shape[:2]
    top = int(fh * (1 - height))
    cv2.rectangle(frame, (0, top), (fw, fh), (20, 15, 15), -1)
    caption = " ".join(str(w) for w in rng.choice(CAPTION_WORDS, 5))
    scale = fh / 360
    cv2.putText(frame, caption, (int(fw * 0.03), top + int(fh * 0.09)), cv2.FONT_HERSHEY_DUPLEX,
                1.1 * scale, (255, 255, 255), max(1, round(2 * scale)), cv2.LINE_AA)  # fmt: skip
    address = "liveshop.example/spring  -  order now"
    cv2.putText(frame, address, (int(fw * 0.03), top + int(fh * 0.17)), cv2.FONT_HERSHEY_SIMPLEX,
                0.6 * scale, (90, 200, 230), max(1, round(scale)), cv2.LINE_AA)  # fmt: skip
    x0, y0 = int(fw * 0.7), int(fh * 0.05)
    cv2.rectangle(frame, (x0, y0), (int(fw * 0.97), int(fh * 0.16)), (40, 30, 200), -1)
    cv2.putText(frame, f"-{int(rng.integers(10, 50))}% {int(rng.integers(9, 99))}.90", (x0 + int(fw * 0.02),
                y0 + int(fh * 0.08)), cv2.FONT_HERSHEY_DUPLEX, 0.8 * scale, (255, 255, 255),
                max(1, round(2 * scale)), cv2.LINE_AA)  # fmt: skip
    return frame


def text_label(text: str, *, seed: int = 0, size: int = 480) -> np.ndarray:
    """A product image that is lettering alone: a brand line and ``text`` in large white letters
    on a two-colour gradient (a label, a plain card), nothing else to find it by."""
    rng = np.random.default_rng(seed)
    start, end = rng.uniform(20, 200, 3), rng.uniform(20, 200, 3)
    line = np.linspace(0, 0.5, size, dtype=np.float32)
    ramp = line[None, :, None] + line[:, None, None]
    card = np.ascontiguousarray((start * (1 - ramp) + end * ramp).astype(np.uint8))
    cv2.putText(card, "NORTHWIND", (size // 12, size // 8), cv2.FONT_HERSHEY_DUPLEX, size / 900,
                (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    words = text.split()
    for line, word in enumerate(words):
        y = size - size // 10 - (len(words) - 1 - line) * size // 7
        cv2.putText(card, word, (size // 12, y), cv2.FONT_HERSHEY_DUPLEX, size / 290, (255, 255, 255),
                    max(2, size // 160), cv2.LINE_AA)  # fmt: skip
    return card
