"""Product discovery: frame -> suggestion, per-frame CPU against the catalogue's size, and
precision/recall on a generated show (prints tables).

    .venv/bin/python bench/discovery.py [--sizes 6,50,200] [--seconds 120] [--interval 1] [--lower-third]
    .venv/bin/python bench/discovery.py --media-server [--seconds 120]

``--media-server``: the same show (each frame stamped with its second in a corner) is encoded,
published in real time to ``manage.py media_server`` and read back by the sampler's own ffmpeg
(discovery.sampler.ffmpeg_frames) from its RTMP show application, as the sampler does (``--source
hls``: its HLS), matched against the six products: the stream's delay per frame, precision,
recall, and on screen -> suggestion with the stream's delay included.

The catalogue is the six GroceryStoreDataset photos (discovery/tests/data/grocery) plus generated
"products" (printed labels: shapes and text on a coloured card) up to each size. The show is
``--seconds`` frames ``--width`` wide (960: the default frame width) at 16:9, one per
``--interval``: each real product comes on screen for
6-10 s at a known time (scale, rotation, perspective, blur, lighting and occlusion drawn at
random), with gaps, look-alikes (mirrored and hue-turned packs, not in the catalogue) and empty
scenes between. Frames go through the same detector (discovery.detectors.local.LocalDetector,
every product in the lineup) and tracker (discovery.tracker, the settings' K, threshold and
dwell) the sampler uses; no database. ``--lower-third``: every frame carries a show's lower third
(synthetic.lower_third: a caption band and a price banner drawn over the scene).

Each size is run twice on the same frames: "2 passes" is the detector (the strongest 1,200
keypoints, then more spread over the frame's thin cells when they find nothing), "strongest" the
first pass alone (the detector before the second pass: the reference).

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
import subprocess
import sys
import tempfile
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
from discovery.detectors.base import Candidate, Detection  # noqa: E402
from discovery.detectors.local import (  # noqa: E402
    CatalogueIndex,
    LocalDetector,
    extract,
    frame_features,
    match,
)
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


def show(photos: list[np.ndarray], seconds: int, width: int, seed: int = 1, lower_third: bool = False):
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
    if lower_third:
        for n, frame in enumerate(frames):
            synthetic.lower_third(frame, seed=n // 8)  # a caption stays up for a while
    return frames[:seconds], truth[:seconds], [a for a in appearances if a[1] < seconds]


def cpu(fn, *args):
    start = time.process_time()
    value = fn(*args)
    return value, time.process_time() - start


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def catalogue_index(size: int, real: list[np.ndarray]) -> CatalogueIndex:
    catalogue = {i: extract(photo) for i, photo in enumerate(real)}
    for n in range(len(real), size):
        catalogue[n] = extract(generated_product(n))
    return CatalogueIndex(catalogue)


def detector(index: CatalogueIndex):
    """The detector's two passes (LocalDetector.detect), every product in the lineup."""
    local = LocalDetector(load_index=lambda organization_id: index)
    candidates = [Candidate(pid, str(pid), True) for pid in index.features]
    return lambda frame: [
        (d.product_id, d.score, d.box) for d in local.detect(frame, organization_id=0, candidates=candidates)
    ]


def strongest(index: CatalogueIndex):
    """The first pass alone: the frame's strongest keypoints (the detector before the second)."""
    return lambda frame: match(index, frame_features(frame))


def run(index, finder, frames, truth, appearances, interval: float, k: int):
    tracker = Tracker(threshold=0.3, consecutive=k, resuggest=30, dwell=3)
    match_cpu, orb_cpu, jpeg_cpu, suggestions, on_screen = [], [], [], [], []
    for second, frame in enumerate(frames):
        found, spent = cpu(finder, frame)
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
        "size": len(index),
        "cpu_p50": statistics.median(match_cpu), "cpu_p95": pct(match_cpu, 0.95),
        "orb_p50": statistics.median(orb_cpu), "jpeg_p50": statistics.median(jpeg_cpu),
        "precision": len(correct) / len(suggestions) if suggestions else 1.0,
        "frame_precision": sum(truth[t] == p for t, p, _ in on_screen) / len(on_screen) if on_screen else 1.0,
        "recall": hit / len(appearances) if appearances else 1.0,
        "lat_p50": statistics.median(latencies) if latencies else float("nan"),
        "lat_p95": pct(latencies, 0.95) if latencies else float("nan"),
        "suggestions": len(suggestions), "appearances": len(appearances),
    }  # fmt: skip


STAMP_BITS, STAMP_BLOCK = 10, 16


def stamp(frame: np.ndarray, second: int) -> np.ndarray:
    """The frame with its second written as 10 black/white blocks in the bottom-left corner, so a
    frame that comes back through HLS says which it is (its truth and its HLS delay)."""
    frame = frame.copy()
    y = frame.shape[0] - STAMP_BLOCK
    for bit in range(STAMP_BITS):
        value = 255 if second >> bit & 1 else 0
        frame[y:, bit * STAMP_BLOCK : (bit + 1) * STAMP_BLOCK] = value
    return frame


def read_stamp(frame: np.ndarray) -> int:
    y, m = frame.shape[0] - STAMP_BLOCK, STAMP_BLOCK // 4
    bits = [
        frame[y + m : -m, b * STAMP_BLOCK + m : (b + 1) * STAMP_BLOCK - m].mean() > 128
        for b in range(STAMP_BITS)
    ]
    return sum(1 << b for b, on in enumerate(bits) if on)


def encode(frames: list[np.ndarray], path: Path, interval: float) -> None:
    """The show as H.264 (5 fps, 1 s GOP: the media server cuts 1 s HLS segments at keyframes, see
    nginx.conf.template; x264 ultrafast), each frame held ``interval`` s."""
    h, w = frames[0].shape[:2]
    process = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"1/{interval:g}", "-i", "pipe:0",
         "-vf", "fps=5", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "5", "-pix_fmt", "yuv420p", str(path)],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    for frame in frames:
        process.stdin.write(frame.tobytes())
    process.stdin.close()
    if process.wait(timeout=600) != 0:
        sys.exit("ffmpeg could not encode the show")


def through_media_server(args, real, frames, truth, appearances) -> None:
    """The show published in real time to ``manage.py media_server`` (nginx-rtmp; its callbacks a
    stub, as bench/glass_to_glass.py does), read back by the sampler's own ffmpeg from its HLS:
    latency from the moment an appearance left the publisher to the suggestion, HLS included."""
    from bench.glass_to_glass import CHANNEL, start_stub
    from discovery.sampler import ffmpeg_frames
    from tests import media

    if reason := media.missing_tools():
        sys.exit(f"Cannot run: {reason}")
    find = detector(catalogue_index(len(real), real))
    tracker = Tracker(threshold=0.3, consecutive=args.consecutive, resuggest=30, dwell=3)
    with tempfile.TemporaryDirectory(prefix="liveshop-discovery-") as tmp:
        tmp = Path(tmp)
        (tmp / "server").mkdir()
        encode([stamp(f, n) for n, f in enumerate(frames)], tmp / "show.mp4", args.interval)
        stub = start_stub()
        server = media.start_media_server(
            tmp / "server",
            callback_url=f"http://127.0.0.1:{stub.server_address[1]}",
            env={"DJANGO_SETTINGS_MODULE": "liveshop.settings.base"},
        )
        url = f"http://127.0.0.1:{server.http_port}/hls/{CHANNEL}/index.m3u8"
        if args.source == "rtmp":
            url = f"rtmp://127.0.0.1:{server.rtmp_port}/show/{CHANNEL}"
        t0 = time.monotonic()
        publisher = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", str(tmp / "show.mp4"),
             "-c", "copy", "-f", "flv", server.ingest("sk_bench")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        samples = []  # (second, arrived, decided, suggested ids, on-screen ids)
        try:
            media.wait_for(lambda: media.http_get(server.http_port, f"/hls/{CHANNEL}/index.m3u8")[0] == 200,
                           timeout=60, what="the HLS playlist")  # fmt: skip
            for frame in ffmpeg_frames(url, interval=args.interval, width=args.width, stop=lambda: False):
                arrived = time.monotonic()
                found = find(frame)
                decided = time.monotonic()
                outcome = tracker.observe([Detection(p, sc, b, True) for p, sc, b in found], decided)
                samples.append((read_stamp(frame), arrived, decided, [d.product_id for d in outcome.suggest],
                                [d.product_id for d in outcome.on_screen]))  # fmt: skip
        finally:
            media.stop(publisher)
            server.stop()
            stub.shutdown()
    report_media(samples, t0, truth, appearances, args.interval, len(frames))


def report_media(samples, t0, truth, appearances, interval, length) -> None:
    valid = [s for s in samples if s[0] < length]
    first = min(s[0] for s in valid)
    hls = [s[1] - (t0 + s[0] * interval) for s in valid]
    suggestions = [(s[0], p) for s in valid for p in s[3]]
    correct = [1 for second, p in suggestions if truth[second] == p]
    seen = [a for a in appearances if a[1] > first]  # shown after the sampler's first frame
    latencies = []
    for product, start, end in seen:
        hit = next(
            (s for s in valid if start <= s[0] < end and product in s[4] and truth[s[0]] == product), None
        )
        if hit is not None:
            latencies.append(hit[2] - (t0 + start * interval))
    print(f"through the media server: {len(valid)} frames sampled of {length} (first: second {first}), "
          f"stamps unreadable {len(samples) - len(valid)}, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(
        f"  stream + decode delay per frame: p50 {statistics.median(hls):.2f} s, p95 {pct(hls, 0.95):.2f} s"
    )
    precision = len(correct) / len(suggestions) if suggestions else 1.0
    recall = len(latencies) / len(seen) if seen else 1.0
    print(f"  precision {precision:.3f} ({len(suggestions)} suggestions), "
          f"recall {recall:.3f} ({len(seen)} appearances after the first frame)")  # fmt: skip
    names = list(synthetic.grocery_photos())
    for product, start, end in seen:
        hit = next(
            (s for s in valid if start <= s[0] < end and product in s[4] and truth[s[0]] == product), None
        )
        when = f"{hit[2] - (t0 + start * interval):.2f} s" if hit else "missed"
        print(f"    {names[product]:<28} seconds {start:>3}-{end:<3} {when}")
    if latencies:
        print(f"  on screen -> suggestion (stream delay included): p50 {statistics.median(latencies):.2f} s, "
              f"p95 {pct(latencies, 0.95):.2f} s, max {max(latencies):.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="6,50,200")
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--consecutive", type=int, default=2)
    parser.add_argument("--width", type=int, default=960, help="frame width (LIVESHOP_DISCOVERY_FRAME_WIDTH)")
    parser.add_argument("--media-server", action="store_true",
                        help="stream the show through manage.py media_server, sample its HLS")  # fmt: skip
    parser.add_argument("--source", choices=["hls", "rtmp"], default="rtmp",
                        help="with --media-server: what the sampler reads (RTMP: what it uses)")  # fmt: skip
    parser.add_argument("--lower-third", action="store_true",
                        help="a lower third (caption, price banner) over every frame")  # fmt: skip
    args = parser.parse_args()
    cv2.setNumThreads(1)  # per-core numbers
    real = [cv2.imread(str(p)) for p in synthetic.grocery_photos().values()]
    frames, truth, appearances = show(real, args.seconds, args.width, lower_third=args.lower_third)
    if args.media_server:
        index = catalogue_index(len(real), real)
        r = run(index, detector(index), frames, truth, appearances, args.interval, args.consecutive)
        print(f"reference, the same frames in memory: precision {r['precision']:.3f}, "
              f"recall {r['recall']:.3f}, "
              f"latency p50 {r['lat_p50']:.2f} s, p95 {r['lat_p95']:.2f} s")  # fmt: skip
        through_media_server(args, real, frames, truth, appearances)
        return
    shape = f"{frames[0].shape[1]}x{frames[0].shape[0]}"
    print(f"show: {len(frames)} frames {shape}, {len(appearances)} appearances of {len(real)} products, "
          f"K={args.consecutive}, interval {args.interval:g} s, lower third: {args.lower_third}, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    header = ("products", "passes", "cpu/frame p50", "p95", "ORB alone", "JPEG decode", "events/core",
              "precision", "frames", "recall", "latency p50", "p95", "suggestions")  # fmt: skip
    print(" | ".join(header))
    for size in (int(s) for s in args.sizes.split(",")):
        index = catalogue_index(size, real)
        for passes, finder in (("2 passes", detector(index)), ("strongest", strongest(index))):
            report(
                passes, run(index, finder, frames, truth, appearances, args.interval, args.consecutive), args
            )


def report(passes: str, r: dict, args) -> None:
    print(
        f"{r['size']:>8} | {passes} | {r['cpu_p50'] * 1000:>10.1f} ms | {r['cpu_p95'] * 1000:.1f} ms | "
        f"{r['orb_p50'] * 1000:.1f} ms | {r['jpeg_p50'] * 1000:.1f} ms | "
        f"{1 / (r['cpu_p50'] * 1 / args.interval):.1f} | {r['precision']:.3f} | "
        f"{r['frame_precision']:.3f} | {r['recall']:.3f} | "
        f"{r['lat_p50']:.2f} s | {r['lat_p95']:.2f} s | {r['suggestions']}/{r['appearances']}"
    )


if __name__ == "__main__":
    main()
