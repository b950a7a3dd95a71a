"""Product discovery: frame -> suggestion, per-frame CPU against the catalogue's size, and
precision/recall on a generated show (prints tables).

    .venv/bin/python bench/discovery.py [--sizes 6,50,200] [--seconds 120] [--interval 1]

The catalogue is the six GroceryStoreDataset photos (discovery/tests/data/grocery) plus generated
"products" (printed labels: shapes and text on a coloured card) up to each size. The show is
``--seconds`` frames ``--width`` wide (960: the default frame width) at 16:9, one per
``--interval``: each real product comes on screen for
6-10 s at a known time (scale, rotation, perspective, blur, lighting and occlusion drawn at
random), with gaps, look-alikes (mirrored and hue-turned packs, not in the catalogue) and empty
scenes between. Frames go through the same matcher (discovery.detectors.local) and tracker
(discovery.tracker, the settings' K, threshold and dwell) the sampler uses; no database.

Reference, measured in the same run on the same frames: ORB extraction alone (the floor of any
local-feature matcher) and a JPEG decode of the frame (what the sampler's ffmpeg does per frame,
roughly). Reported:
  cpu/frame   CPU seconds (process time) to match one frame, p50 / p95, vs the references;
  events/core how many live events one core samples at 1 frame/s (1 / cpu per frame);
  precision   suggestions that name the product on screen at that moment / all suggestions
              (and "frames": samples the tracker calls on screen that are right / all of them);
  recall      appearances the tracker calls on screen (K samples in a row) / all appearances
              (the console is then suggested it, or was within LIVESHOP_DISCOVERY_RESUGGEST_SECONDS:
              "suggestions" counts what it was actually sent);
  latency     from the first frame an appearance shows in to "on screen" (the suggestion):
              (K - 1) sample intervals plus the matching time of the K-th frame, p50 / p95
              (HLS's own delay, bench/glass_to_glass.py, comes on top).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveshop.settings.base")
import django  # noqa: E402

django.setup()  # discovery.sampler's frame size (no database is used)

from discovery import synthetic  # noqa: E402
from discovery.detectors.base import Detection  # noqa: E402
from discovery.detectors.local import CatalogueIndex, extract, frame_features, match  # noqa: E402
from discovery.sampler import frame_size  # noqa: E402
from discovery.tracker import Tracker  # noqa: E402


def generated_product(seed: int) -> np.ndarray:
    rng = np.random.default_rng(10_000 + seed)
    card = synthetic.background(240, 320, seed=10_000 + seed)
    for line in range(4):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        text = "".join(chr(int(c)) for c in rng.integers(65, 90, 6))
        cv2.putText(card, text, (10, 60 + 70 * line), cv2.FONT_HERSHEY_SIMPLEX, 1.3, colour, 3)
    return card


def show(photos: list[np.ndarray], seconds: int, width: int, seed: int = 1):
    """Frames with the index of the product on screen (None), appearances as (product, start, end)."""
    rng = np.random.default_rng(seed)
    size = frame_size(width)
    frames, truth, appearances, t = [], [], [], 0
    while t < seconds:
        gap = int(rng.integers(3, 7))
        for _ in range(gap):
            frame = synthetic.background(*size, seed=int(rng.integers(1 << 30)))
            if rng.random() < 0.4:  # a look-alike on screen
                synthetic.composite(frame, synthetic.look_alike(photos[int(rng.integers(len(photos)))]),
                                    seed=t, height_fraction=0.5)  # fmt: skip
            frames.append(frame)
            truth.append(None)
        t += gap
        product, length = int(rng.integers(len(photos))), int(rng.integers(6, 11))
        look = {
            "height_fraction": float(rng.uniform(0.35, 0.7)), "angle": float(rng.uniform(-25, 25)),
            "perspective": float(rng.uniform(0, 0.15)), "blur": int(rng.integers(0, 3)),
            "gain": float(rng.uniform(0.7, 1.2)), "occlusion": float(rng.choice([0, 0, 0.25])),
        }  # fmt: skip
        scene = int(rng.integers(1 << 30))
        for k in range(length):
            frame = synthetic.background(*size, seed=scene + k)  # the background moves, the pose drifts
            synthetic.composite(frame, photos[product], seed=scene + k // 3, **look)
            frames.append(frame)
            truth.append(product)
        appearances.append((product, t, t + length))
        t += length
    return frames[:seconds], truth[:seconds], [a for a in appearances if a[1] < seconds]


def cpu(fn, *args):
    start = time.process_time()
    value = fn(*args)
    return value, time.process_time() - start


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(size: int, frames, truth, appearances, real: list[np.ndarray], interval: float, k: int):
    catalogue = {i: extract(photo) for i, photo in enumerate(real)}
    for n in range(len(real), size):
        catalogue[n] = extract(generated_product(n))
    index = CatalogueIndex(catalogue)
    tracker = Tracker(threshold=0.3, consecutive=k, resuggest=30, dwell=3)
    match_cpu, orb_cpu, jpeg_cpu, suggestions, on_screen = [], [], [], [], []
    for second, frame in enumerate(frames):
        found, spent = cpu(lambda f: match(index, frame_features(f)), frame)
        match_cpu.append(spent)
        orb_cpu.append(cpu(frame_features, frame)[1])
        encoded = cv2.imencode(".jpg", frame)[1]
        jpeg_cpu.append(cpu(cv2.imdecode, encoded, cv2.IMREAD_COLOR)[1])
        detections = [Detection(pid, score, box, True) for pid, score, box in found]
        outcome = tracker.observe(detections, second * interval)
        suggestions += [(second, d.product_id) for d in outcome.suggest]
        on_screen += [(second, d.product_id, spent) for d in outcome.on_screen]
    correct = [s for s in suggestions if truth[s[0]] == s[1]]
    latencies, hit = [], 0
    for product, start, end in appearances:
        first = next((s for s in on_screen if s[1] == product and start <= s[0] < end), None)
        if first is not None:
            hit += 1
            latencies.append((first[0] - start) * interval + first[2])
    return {
        "size": size,
        "cpu_p50": statistics.median(match_cpu), "cpu_p95": pct(match_cpu, 0.95),
        "orb_p50": statistics.median(orb_cpu), "jpeg_p50": statistics.median(jpeg_cpu),
        "precision": len(correct) / len(suggestions) if suggestions else 1.0,
        "frame_precision": sum(truth[t] == p for t, p, _ in on_screen) / len(on_screen) if on_screen else 1.0,
        "recall": hit / len(appearances) if appearances else 1.0,
        "lat_p50": statistics.median(latencies) if latencies else float("nan"),
        "lat_p95": pct(latencies, 0.95) if latencies else float("nan"),
        "suggestions": len(suggestions), "appearances": len(appearances),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="6,50,200")
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--consecutive", type=int, default=2)
    parser.add_argument("--width", type=int, default=960, help="frame width (LIVESHOP_DISCOVERY_FRAME_WIDTH)")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # per-core numbers
    real = [cv2.imread(str(p)) for p in synthetic.grocery_photos().values()]
    frames, truth, appearances = show(real, args.seconds, args.width)
    shape = f"{frames[0].shape[1]}x{frames[0].shape[0]}"
    print(f"show: {len(frames)} frames {shape}, {len(appearances)} appearances of {len(real)} products, "
          f"K={args.consecutive}, interval {args.interval:g} s, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    header = ("products", "cpu/frame p50", "p95", "ORB alone", "JPEG decode", "events/core",
              "precision", "frames", "recall", "latency p50", "p95", "suggestions")  # fmt: skip
    print(" | ".join(header))
    for size in (int(s) for s in args.sizes.split(",")):
        r = run(size, frames, truth, appearances, real, args.interval, args.consecutive)
        print(
            f"{r['size']:>8} | {r['cpu_p50'] * 1000:>10.1f} ms | {r['cpu_p95'] * 1000:.1f} ms | "
            f"{r['orb_p50'] * 1000:.1f} ms | {r['jpeg_p50'] * 1000:.1f} ms | "
            f"{1 / (r['cpu_p50'] * 1 / args.interval):.1f} | {r['precision']:.3f} | "
            f"{r['frame_precision']:.3f} | {r['recall']:.3f} | "
            f"{r['lat_p50']:.2f} s | {r['lat_p95']:.2f} s | {r['suggestions']}/{r['appearances']}"
        )


if __name__ == "__main__":
    main()
