"""DISCOVERY_BACKEND=local: products found by their own photos, with no model weights.

Each product image is reduced once to ORB keypoints and binary descriptors (``extract``, stored
by discovery.index); a frame's descriptors are matched against every candidate's at once
(Hamming k-NN, Lowe's ratio test), and a product counts only where a RANSAC homography maps
enough of its matches to one plane: the product photo, scaled, turned or seen at an angle. The
verified quad gives the box. Look-alikes (same colours, other print) fail the geometry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from discovery.detectors.base import Candidate, Detection, DetectorError

logger = logging.getLogger(__name__)

# Product photos are brought to this longest side before extraction: small catalogue images
# (198 px) give too few keypoints, large ones waste memory and time.
INDEX_SIDE = 320
INDEX_FEATURES = 500
FRAME_FEATURES = 1200
RATIO = 0.8  # Lowe's ratio test: best match clearly better than the second
MIN_GOOD = 10  # good matches a product needs before the geometry is checked
MIN_INLIERS = 12  # matches the homography must explain
RANSAC_PIXELS = 6.0
FULL_SCORE_INLIERS = 40  # inliers that make a score of 1.0
# The inliers must spread over this much of the photo: a look-alike that shares one patch of
# print (a logo) fits a homography too, but only over that patch.
MIN_SPREAD = 0.08
# Above this many descriptors (about 20 products) the k-NN search goes through LSH tables.
LSH_FROM = 10_000
LSH_PARAMS = {"algorithm": 6, "table_number": 6, "key_size": 16, "multi_probe_level": 1}  # FLANN_INDEX_LSH
OVERLAP = 0.5  # two products verified over the same region: the better one alone (look-alikes)
# A frame's strongest corners can all lie on a lower third (a caption, a price banner: white
# letters on a dark band) and none on the product beside it. When the strongest FRAME_FEATURES
# find nothing, a second pass adds up to SPREAD_FEATURES more keypoints, the strongest of each
# cell of a SPREAD_GRID where those left it thin (each cell up to twice its share in all). The
# strongest FRAME_FEATURES stay as they were: capping every cell instead lost an occluded
# product whose corners bunch in one cell.
SPREAD_GRID = (4, 4)  # columns, rows
SPREAD_FEATURES = 1200
SPREAD_DETECT = 4000  # keypoints detected to choose them from


@dataclass(frozen=True)
class Features:
    """One product image's keypoints (N x 2 float32, image pixels) and ORB descriptors (N x 32
    uint8), and the image's size after resizing, for the box."""

    points: np.ndarray
    descriptors: np.ndarray
    width: int
    height: int

    def to_bytes(self) -> tuple[bytes, bytes]:
        return self.points.astype(np.float32).tobytes(), self.descriptors.astype(np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, points: bytes, descriptors: bytes, *, width: int, height: int) -> Features:
        return cls(
            points=np.frombuffer(points, dtype=np.float32).reshape(-1, 2),
            descriptors=np.frombuffer(descriptors, dtype=np.uint8).reshape(-1, 32),
            width=width,
            height=height,
        )


def decode_image(data: bytes) -> np.ndarray:
    """BGR pixels of an encoded image (JPEG, PNG, WebP); DetectorError when it is not one."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DetectorError("Not an image OpenCV can read.")
    return image


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def extract(image: np.ndarray) -> Features:
    """The product image's features (resized so its longest side is INDEX_SIDE)."""
    height, width = image.shape[:2]
    scale = INDEX_SIDE / max(height, width)
    resized = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    keypoints, descriptors = _orb(INDEX_FEATURES).detectAndCompute(_gray(resized), None)
    if descriptors is None:
        descriptors, keypoints = np.zeros((0, 32), np.uint8), ()
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return Features(points, descriptors, resized.shape[1], resized.shape[0])


def _orb(count: int):
    return cv2.ORB_create(nfeatures=count, scaleFactor=1.2, nlevels=8, fastThreshold=12)


class CatalogueIndex:
    """Every candidate's descriptors in one array with their owners, built once per index
    version and reused for every frame of every event of the brand."""

    def __init__(self, features: dict[int, Features]):
        self.features = {pid: f for pid, f in features.items() if len(f.descriptors) >= MIN_GOOD}
        ids = list(self.features)
        self.descriptors = (
            np.vstack([self.features[pid].descriptors for pid in ids]) if ids else np.zeros((0, 32), np.uint8)
        )
        self.owners = (
            np.concatenate([np.full(len(self.features[pid].descriptors), pid, np.int64) for pid in ids])
            if ids
            else np.zeros(0, np.int64)
        )
        self._lsh = None
        self.offsets = {}
        start = 0
        for pid in ids:
            self.offsets[pid] = start
            start += len(self.features[pid].descriptors)

    def __len__(self) -> int:
        return len(self.features)

    def lsh(self):
        """A FLANN LSH matcher over every descriptor, built on first use (~10 ms for 50 products)."""
        if self._lsh is None:
            matcher = cv2.FlannBasedMatcher(LSH_PARAMS, {"checks": 32})
            matcher.add([self.descriptors])
            matcher.train()
            self._lsh = matcher
        return self._lsh


@dataclass(frozen=True)
class FrameFeatures:
    points: np.ndarray
    descriptors: np.ndarray
    shape: tuple
    # What ``extends`` (spread_features' strongest) holds first; their good matches by index and
    # candidate set are kept in ``good``, so a second pass matches only the descriptors it added.
    extends: FrameFeatures | None = field(default=None, compare=False, repr=False)
    good: dict = field(default_factory=dict, compare=False, repr=False)


def frame_features(frame: np.ndarray) -> FrameFeatures:
    """A frame's ORB keypoints and descriptors, computed once for every candidate group."""
    keypoints, descriptors = _orb(FRAME_FEATURES).detectAndCompute(_gray(frame), None)
    if descriptors is None:
        descriptors, keypoints = np.zeros((0, 32), np.uint8), ()
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return FrameFeatures(points, descriptors, frame.shape[:2])


def spread_features(frame: np.ndarray, strongest: FrameFeatures) -> FrameFeatures | None:
    """``strongest`` (``frame_features(frame)``) and up to SPREAD_FEATURES more keypoints from the
    cells of the frame it left thin; None when there are none to add."""
    gray = _gray(frame)
    orb = _orb(FRAME_FEATURES)
    keypoints = _orb(SPREAD_DETECT).detect(gray, None)
    if not keypoints:
        return None
    points = cv2.KeyPoint_convert(keypoints).reshape(-1, 2)
    known = {(x, y) for x, y in np.round(strongest.points * 8).astype(np.int64).tolist()}
    new = np.array([(x, y) not in known for x, y in np.round(points * 8).astype(np.int64).tolist()], bool)
    cells = _cells(points, gray.shape)
    columns, rows = SPREAD_GRID
    share = SPREAD_FEATURES // (columns * rows)
    taken = np.bincount(_cells(strongest.points, gray.shape), minlength=columns * rows)
    room = np.clip(np.minimum(share, 2 * share - taken), 0, None)
    response = np.array([k.response for k in keypoints], np.float32)
    order = np.lexsort((-response, ~new, cells))  # by cell, new ones first, strongest first
    rank = np.arange(len(order)) - np.searchsorted(cells[order], cells[order])
    chosen = order[(rank < room[cells[order]]) & new[order]]
    if not len(chosen):
        return None
    added, descriptors = orb.compute(gray, [keypoints[i] for i in chosen])
    if descriptors is None or not len(added):
        return None
    added_points = cv2.KeyPoint_convert(added).reshape(-1, 2).astype(np.float32)
    return FrameFeatures(
        np.vstack([strongest.points, added_points]),
        np.vstack([strongest.descriptors, descriptors]),
        strongest.shape,
        extends=strongest,
    )


def _cells(points: np.ndarray, shape: tuple) -> np.ndarray:
    """Each point's cell of SPREAD_GRID over a frame of ``shape`` (row-major)."""
    columns, rows = SPREAD_GRID
    height, width = shape[:2]
    x = np.minimum((points[:, 0] * columns / width).astype(np.int64), columns - 1)
    y = np.minimum((points[:, 1] * rows / height).astype(np.int64), rows - 1)
    return y * columns + x


def match(
    index: CatalogueIndex, frame: FrameFeatures, product_ids: set[int] | None = None
) -> list[tuple[int, float, tuple]]:
    """(product id, score, box) of each product of ``index`` (or of ``product_ids`` among them)
    whose photo is verified in ``frame``, best first."""
    if len(frame.descriptors) < MIN_GOOD or not len(index):
        return []
    found = []
    for pid, matches in _good_matches(index, frame, product_ids).items():
        if len(matches) >= MIN_GOOD:
            verified = _verify(index.features[pid], matches, frame.points, frame.shape)
            if verified is not None:
                found.append((verified[0], pid, verified[1]))
    # Ranked by inliers, not the capped score: of two look-alikes both above FULL_SCORE_INLIERS
    # (two milks of one range), the one that explains more matches is the one on screen.
    found.sort(key=lambda item: -item[0])
    return _suppress([(pid, min(1.0, inliers / FULL_SCORE_INLIERS), box) for inliers, pid, box in found])


def _good_matches(
    index: CatalogueIndex, frame: FrameFeatures, product_ids: set[int] | None
) -> dict[int, list[tuple[int, int]]]:
    """Product id -> (row of its descriptors, frame descriptor) of every match that passes the
    ratio test; what ``frame.extends`` holds is matched once (the test is per frame descriptor)."""
    key = (index, None if product_ids is None else frozenset(product_ids))
    if key not in frame.good:
        start = 0 if frame.extends is None else len(frame.extends.descriptors)
        good = {} if frame.extends is None else _good_matches(index, frame.extends, product_ids)
        by_product = {pid: list(matches) for pid, matches in good.items()}
        pairs, rows, owners = _neighbours(index, frame.descriptors[start:], product_ids)
        for pair in pairs:
            if len(pair) < 2 or pair[0].distance >= RATIO * pair[1].distance:
                continue
            best = pair[0]
            pid = int(owners[best.trainIdx])
            if product_ids is not None and pid not in product_ids:
                continue
            row = int(rows[best.trainIdx]) - index.offsets[pid]
            by_product.setdefault(pid, []).append((row, start + best.queryIdx))
        frame.good[key] = by_product
    return frame.good[key]


def _suppress(found: list[tuple[int, float, tuple]]) -> list[tuple[int, float, tuple]]:
    """Best first, without any product whose box mostly covers a better one's (non-maximum
    suppression: the brand's own look-alikes, say two milks of one range, verify on one pack)."""
    kept: list[tuple[int, float, tuple]] = []
    for item in found:
        if all(_iou(item[2], other[2]) < OVERLAP for other in kept):
            kept.append(item)
    return kept


def _iou(a: tuple, b: tuple) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def _neighbours(index: CatalogueIndex, descriptors: np.ndarray, product_ids: set[int] | None):
    """Each frame descriptor's two nearest catalogue descriptors (k-NN pairs) and, for their
    train indexes, the row in the whole index and the owning product. A small set (a lineup) is
    searched exhaustively; a large one through the index's LSH tables (sublinear), whose answers
    for products outside ``product_ids`` the caller drops."""
    if product_ids is not None:
        mask = np.isin(index.owners, list(product_ids))
        if mask.sum() <= LSH_FROM:
            rows = np.flatnonzero(mask)
            if not len(rows):
                return [], rows, rows
            pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(descriptors, index.descriptors[mask], k=2)
            return pairs, rows, index.owners[mask]
    if len(index.descriptors) <= LSH_FROM:
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(descriptors, index.descriptors, k=2)
    else:
        pairs = index.lsh().knnMatch(descriptors, k=2)
    return pairs, np.arange(len(index.owners)), index.owners


def _verify(features: Features, matches, frame_points, shape) -> tuple[int, tuple] | None:
    """Inliers and box when a homography explains at least MIN_INLIERS matches and maps the photo
    to a plausible quad (convex, not tiny, not folded); None otherwise."""
    source = features.points[[m[0] for m in matches]].reshape(-1, 1, 2)
    target = frame_points[[m[1] for m in matches]].reshape(-1, 1, 2)
    homography, inlier_mask = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_PIXELS)
    if homography is None:
        return None
    inliers = int(inlier_mask.sum())
    if inliers < MIN_INLIERS:
        return None
    hull = cv2.convexHull(source[inlier_mask.ravel() > 0].reshape(-1, 2))
    if cv2.contourArea(hull) < MIN_SPREAD * features.width * features.height:
        return None
    w, h = features.width, features.height
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]]).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
    frame_h, frame_w = shape[:2]
    area = cv2.contourArea(quad)
    if not cv2.isContourConvex(quad.astype(np.float32)) or area < 0.002 * frame_w * frame_h:
        return None
    if area > 4 * frame_w * frame_h:
        return None
    x0, y0 = np.clip(quad.min(axis=0), 0, [frame_w, frame_h])
    x1, y1 = np.clip(quad.max(axis=0), 0, [frame_w, frame_h])
    box = (x0 / frame_w, y0 / frame_h, (x1 - x0) / frame_w, (y1 - y0) / frame_h)
    return inliers, tuple(round(float(v), 4) for v in box)


class LocalDetector:
    """The OpenCV detector over the brand's stored index (``load_index(organization_id)``,
    discovery.index.catalogue_index by default: cached per process, rebuilt when images change)."""

    def __init__(self, load_index: Callable[[int], CatalogueIndex] | None = None):
        if load_index is None:
            from discovery.index import catalogue_index as load_index
        self.load_index = load_index

    def detect(
        self, frame: np.ndarray, *, organization_id: int, candidates: list[Candidate]
    ) -> list[Detection]:
        """The lineup first; the rest of the catalogue only when no lineup product is seen. The
        frame's strongest keypoints first; keypoints spread over the frame only when they find
        nothing (see SPREAD_GRID)."""
        index = self.load_index(organization_id)
        lineup = {c.product_id for c in candidates if c.in_lineup}
        rest = {c.product_id for c in candidates if not c.in_lineup}
        features = frame_features(frame)
        found = _in_groups(index, features, lineup, rest)
        if not found and (lineup or rest):
            spread = spread_features(frame, features)
            found = _in_groups(index, spread, lineup, rest) if spread is not None else []
        return found


def _in_groups(index: CatalogueIndex, features: FrameFeatures, lineup: set[int], rest: set[int]):
    for group, in_lineup in ((lineup, True), (rest, False)):
        found = match(index, features, group) if group else []
        if found:
            return [Detection(pid, round(score, 3), box, in_lineup) for pid, score, box in found]
    return []
