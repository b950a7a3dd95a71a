"""Card-to-video sync: how far from its cue's moment in the video a viewer sees each product card.

    .venv/bin/python bench/sync.py [--seconds 60] [--cue-every 4] [--keep]

A generated video (ffmpeg: test pattern, a tone, and a *frame code*: the frame number in 16
black/white 16x16 blocks along the top, 30 fps, 640x360, H.264 with a 1 s GOP, AAC) carries
product cues at known times (every --cue-every s from --first-cue s, three products in turn, so
a missed cue shows as a wrong product rather than as nothing). Everything real runs locally:

  scratch database   liveshop_bench_sync (created, migrated, reused), Redis db 14 (emptied at end)
  media server       ``manage.py media_server`` (nginx-rtmp: on_publish relay, HLS, recording)
  web                uvicorn as docker/start-web runs it, production settings (DJANGO_DEBUG=false,
                     collectstatic into a scratch folder for whitenoise, media served from disk)
  worker             a Celery worker (docker/start-worker): on_record_done queues the recording's
                     conversion and ingestion there
  stream             ``events.prerecorded.stream_video`` in this process: ffmpeg -re stream copy to the
                     event's RTMP ingest, each cue featured (the console's service) at its media time
  viewers            headless Chromium (Debian's /usr/bin/chromium): viewer A opens the live page
                     before the stream starts, viewer B (a late joiner) halfway through; after the
                     show is ended and its recording ingested, the replay page is played from the
                     start at 1x, then seeked to a few points

Measuring: a MutationObserver on ``#product-card[data-product-id]`` notes every card change and at
that moment reads the frame the <video> shows (drawImage of the top strip into a canvas, the block
centres thresholded) -> frame number -> source time. error = that time - the cue's time in the
source video (positive: the card came late). Changes are matched to the nearest cue of the same
product within MATCH_WINDOW_S; a cue with no matching change is a miss, a change with no cue near
is wrong. The live page's websocket messages are noted too (the frame on screen and viewer.js's
latency estimate at arrival), to split a live error into the estimate's error and the delivery.
Goal: p95 |error| <= 250 ms in every mode.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common

ROOT = _common.ROOT
sys.path.insert(0, str(ROOT))

from tests import media  # noqa: E402 (after the path fix above)

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/liveshop_bench_sync"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"  # its own: the Celery queue lives there too
# Redis pub/sub channel names are global to the server: an id no test database reaches.
EVENT_ID = 7_000_101
BRAND_SLUG = "bench-sync"
EVENT_SLUG = "bench-sync-show"
HOST_USERNAME = "bench-sync-host"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # Two pages play video at once: keep the one not in front from being throttled.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
FPS = 30
SIZE = (640, 360)
BITS = 16  # frame code: 2**16 frames = 36 minutes at 30 fps
MATCH_WINDOW_S = 2.0  # a change farther than this from every cue of its product is "wrong"
GOAL_MS = 250
PRODUCTS = (
    ("SYNC-1", "Trail Runner (sync)"),
    ("SYNC-2", "Rain Shell (sync)"),
    ("SYNC-3", "Wool Beanie (sync)"),
)

# Runs in every page before its own scripts: the frame decoder, the card observer, the websocket
# arrival log and a seek helper, all under window.__sync.
PAGE_PROBE = """
(() => {
  const W = WIDTH, H = 24, BITS = NBITS;
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const s = (window.__sync = { changes: [], arrivals: [], last: null, initial: null, decoded: 0 });
  const video = () => document.getElementById("video");
  const card = () => document.getElementById("product-card");

  /** The frame number the <video> shows now, or null (no picture, or not a coded frame). */
  function frameOf(v) {
    if (!v || v.readyState < 2 || v.videoWidth < W) return null;
    try {
      ctx.drawImage(v, 0, 0, W, H, 0, 0, W, H);
    } catch {
      return null;
    }
    const d = ctx.getImageData(0, 0, W, H).data;
    const lum = (x, y) => {
      const i = (y * W + x) * 4;
      return (d[i] + d[i + 1] + d[i + 2]) / 3;
    };
    let n = 0;
    for (let b = 0; b < BITS; b++) {
      if (lum(b * 24, 12) > 80 || lum(b * 24 + 12, 1) > 80) return null; // gaps and border are black
      if (lum(b * 24 + 12, 12) > 128) n += 2 ** b;
    }
    return n;
  }
  s.frameOf = () => frameOf(video());

  function snapshot(kind) {
    const v = video();
    return {
      kind,
      productId: card() ? card().dataset.productId || null : null,
      frame: frameOf(v),
      last: s.last,
      currentTime: v ? v.currentTime : null,
      playing: Boolean(v && !v.paused),
      wall: Date.now(),
      source: window.liveshop && window.liveshop.card ? window.liveshop.card.source ?? null : null,
    };
  }

  function onFrame(_now, meta) {
    const v = video();
    const n = frameOf(v);
    if (n !== null) {
      s.decoded += 1;
      s.last = { frame: n, mediaTime: meta.mediaTime, wall: Date.now() };
    }
    v.requestVideoFrameCallback(onFrame);
  }

  document.addEventListener("DOMContentLoaded", () => {
    s.initial = snapshot("initial");
    let previous = s.initial.productId;
    new MutationObserver(() => {
      const entry = snapshot("change");
      if (entry.productId === previous) return;
      previous = entry.productId;
      s.changes.push(entry);
    }).observe(card(), { attributes: true, attributeFilter: ["data-product-id"] });
    video().requestVideoFrameCallback(onFrame);
  });

  window.WebSocket = class extends window.WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          return;
        }
        if (frame.type !== "product_featured") return;
        const v = video();
        s.arrivals.push({
          highlightId: frame.highlightId,
          productId: frame.product ? String(frame.product.id) : null,
          wall: Date.now(),
          frame: frameOf(v),
          currentTime: v ? v.currentTime : null,
          latency: window.liveshop ? window.liveshop.latency() : null,
          playing: Boolean(v && !v.paused && v.currentTime > 0),
        });
      });
    }
  };

  /** Pause, seek to `t` (seconds of the page's media), and report at "seeked": the card then. */
  s.seek = (t) =>
    new Promise((resolve) => {
      const v = video();
      v.pause();
      v.addEventListener(
        "seeked",
        () => {
          const at = { productId: card().dataset.productId || null, currentTime: v.currentTime };
          const started = performance.now();
          const read = () => {
            const n = frameOf(v);
            if (n !== null || performance.now() - started > 5000) resolve({ ...at, frame: n });
            else setTimeout(read, 50);
          };
          read();
        },
        { once: true },
      );
      v.currentTime = t;
    });
})();
""".replace("WIDTH", str(BITS * 24 + 8)).replace("NBITS", str(BITS))


@dataclass(frozen=True)
class Cue:
    seconds: float
    sku: str


@dataclass
class Score:
    errors: list[float] = field(default_factory=list)  # seconds, signed (positive: card late)
    misses: list[Cue] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    unmeasured: int = 0  # changes while no coded frame was on screen (player not playing)
    expected: int = 0


# The video ---------------------------------------------------------------------------------------


def frame_code_filter() -> str:
    width = BITS * 24 + 8
    boxes = [f"drawbox=x=0:y=0:w={width}:h=24:color=black:t=fill"]
    for b in range(BITS):
        boxes.append(
            f"drawbox=x={b * 24 + 4}:y=4:w=16:h=16:color=white:t=fill:enable='mod(floor(n/pow(2\\,{b}))\\,2)'"
        )
    return ",".join(boxes)


def make_video(path: Path, seconds: float) -> Path:
    """Test pattern + tone + frame code, H.264 (1 s GOP, no B-frames) and AAC."""
    gop = str(FPS)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={SIZE[0]}x{SIZE[1]}:rate={FPS}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", f"{seconds:.3f}", "-vf", frame_code_filter(),
         "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
         "-bf", "0", "-b:v", "1200k", "-maxrate", "1200k", "-bufsize", "2400k",
         "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-movflags", "+faststart", str(path)],
        check=True,
        timeout=600,
    )  # fmt: skip
    return path


def check_frame_code(path: Path, frame: int) -> None:
    """Decode one frame's code with ffmpeg, as the page does: the encoder must keep it readable."""
    width = BITS * 24 + 8
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"crop={width}:24:0:0,select='eq(n\\,{frame})'",
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    value = sum(1 << b for b in range(BITS) if raw[12 * width + b * 24 + 12] > 128)
    if value != frame:
        sys.exit(f"The frame code does not survive encoding: frame {frame} reads as {value}.")


def make_cues(seconds: float, first: float, every: float) -> list[Cue]:
    cues, t, i = [], first, 0
    while t <= seconds - 3:
        cues.append(Cue(round(t, 3), PRODUCTS[i % len(PRODUCTS)][0]))
        t += every
        i += 1
    if len(cues) < 3:
        sys.exit(f"--seconds {seconds} leaves fewer than 3 cues; make it longer.")
    return cues


# Django side (a thread of its own: Playwright's sync API runs an event loop in the main one) ----


def seed(cues: list[Cue]):
    """A brand, its host, three products and one scheduled, provisioned event (local backend)
    with a fixed id; the previous run's event (and its recordings) is deleted first."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import Membership, Organization
    from catalog.models import Product
    from catalog.variants import ensure_default_variant
    from events import services
    from events.models import LiveEvent
    from events.srt_cues import CueSpec

    org, _ = Organization.objects.get_or_create(slug=BRAND_SLUG, defaults={"name": "Bench Sync"})
    host, _ = get_user_model().objects.get_or_create(
        username=HOST_USERNAME, defaults={"email": "sync@bench.example"}
    )
    Membership.objects.update_or_create(user=host, organization=org, defaults={"role": Membership.Role.OWNER})
    products = {}
    for sku, name in PRODUCTS:
        products[sku], _ = Product.objects.get_or_create(
            organization=org,
            sku=sku,
            defaults={
                "name": name,
                "price": "49.00",
                "external_url": f"https://shop.example.com/{sku}",
            },
        )
        ensure_default_variant(product=products[sku], stock=100)
    LiveEvent.objects.filter(organization=org).delete()  # highlights, sessions, recordings with it
    event = LiveEvent.objects.create(
        pk=EVENT_ID,
        organization=org,
        title="Bench sync show",
        slug=EVENT_SLUG,
        scheduled_start=timezone.now() - timedelta(minutes=1),
        status=LiveEvent.Status.NEEDS_CHANNEL,
        is_recorded=True,
        created_by=host,
    )
    services.set_lineup(event=event, products=list(products.values()), by=host)
    event = services.provision_channel(event=event, by=host)
    if not event.has_channel:
        raise RuntimeError(f"Provisioning failed: {event.provisioning_error}")
    specs = [
        CueSpec(product=products[cue.sku], start_ms=round(cue.seconds * 1000), end_ms=None, line=i + 1)
        for i, cue in enumerate(cues)
    ]
    return event, host, {sku: str(p.pk) for sku, p in products.items()}, specs


def end_show(event, host) -> None:
    from events import services

    services.end_event(event=event, by=host)


def recording_state(event_id: int) -> tuple[str, str, str]:
    """(status, failure reason, replay URL) of the event's newest recording; ("", "", "") if none."""
    from django.db import close_old_connections

    from events.models import LiveEvent
    from recordings import selectors
    from recordings.models import Recording

    close_old_connections()
    recording = Recording.objects.filter(event_id=event_id).order_by("-id").first()
    if recording is None:
        return "", "", ""
    url = selectors.event_replay_url(LiveEvent.objects.get(pk=event_id)) if recording.is_ready else ""
    return recording.status, recording.failure_reason, url


def highlight_offsets(event_id: int) -> list[int]:
    """The offset_ms (moment in the stream session) of the event's product highlights, in order."""
    from events.models import Highlight

    rows = Highlight.objects.filter(event_id=event_id, product__isnull=False).order_by("id")
    return [h.offset_ms for h in rows if h.offset_ms is not None]


def replay_cues(event_id: int) -> list[tuple[int, str]]:
    """(start ms, product id) of the ready recording's cues: what the replay page plays."""
    from recordings.models import ProductCue

    rows = ProductCue.objects.filter(recording__event_id=event_id, recording__status="ready")
    return [(cue.start_ms, str(cue.product_id)) for cue in rows.order_by("start_ms")]


# Processes ---------------------------------------------------------------------------------------


def collectstatic(env: dict[str, str]) -> None:
    subprocess.run(
        [_common.PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=900,
    )


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """docker/start-worker's Celery worker (one process), in its own process group."""
    celery = str(ROOT / ".venv" / "bin" / "celery") if (ROOT / ".venv").exists() else "celery"
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [celery, "-A", "liveshop", "worker", "-l", "warning", "--concurrency", "1", "--without-heartbeat",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


# Browser -----------------------------------------------------------------------------------------


def open_page(browser, url: str, errors: list[str]):
    # Playwright polls wait_for_function's predicate with eval, which the pages' CSP (script-src
    # 'self') refuses; the measurement itself runs in PAGE_PROBE, as the init script.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(PAGE_PROBE)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function("window.__sync && window.__sync.initial !== null")
    return context, page


def state(page) -> dict:
    return page.evaluate(
        "({changes: __sync.changes, arrivals: __sync.arrivals, initial: __sync.initial,"
        " last: __sync.last, decoded: __sync.decoded})"
    )


def last_frame(page) -> int:
    last = page.evaluate("__sync.last")
    return last["frame"] if last else -1


# Scoring -----------------------------------------------------------------------------------------


def score(changes: list[dict], cues: list[Cue], sku_of: dict[str, str], *, after: float | None = None):
    """Match card changes to cues (see the module docstring). Only cues after ``after`` seconds
    of source time are expected (a late joiner)."""
    result = Score()
    matched: dict[int, float] = {}
    for change in changes:
        product = change["productId"]
        if product is None:
            continue  # the card cleared (the streamer clears it at the end): not a cue
        sku = sku_of.get(product, f"product {product}")
        if change["frame"] is None:
            result.unmeasured += 1
            result.wrong.append(f"{sku} shown while no frame was on screen")
            continue
        t = change["frame"] / FPS
        candidates = [i for i, cue in enumerate(cues) if cue.sku == sku]
        best = min(candidates, key=lambda i: abs(cues[i].seconds - t), default=None)
        if best is None or abs(cues[best].seconds - t) > MATCH_WINDOW_S or best in matched:
            result.wrong.append(f"{sku} at {t:.3f} s")
            continue
        matched[best] = t - cues[best].seconds
    expected = [i for i, cue in enumerate(cues) if after is None or cue.seconds > after]
    result.expected = len(expected)
    result.errors = [matched[i] for i in expected if i in matched]
    result.misses = [cues[i] for i in expected if i not in matched]
    return result


def row(mode: str, result: Score | None, note: str = "") -> str:
    if result is None:
        return f"| {mode} | | | | | | | | {note} |"
    abs_ms = [abs(e) * 1000 for e in result.errors]
    if abs_ms:
        p50, p95 = _common.percentile(abs_ms, 50), _common.percentile(abs_ms, 95)
        mean = statistics.mean(e * 1000 for e in result.errors)
        numbers = f"{p50:.0f} | {p95:.0f} | {max(abs_ms):.0f} | {mean:+.0f}"
        verdict = "met" if p95 <= GOAL_MS else "missed"
    else:
        numbers, verdict = "| | |", "no data"
    misses = len(result.misses) + len(result.wrong) - result.unmeasured
    return (
        f"| {mode} | {len(result.errors)}/{result.expected} | {numbers} | {misses} | {result.unmeasured}"
        f" | {verdict} {note} |"
    )


def details(mode: str, result: Score) -> list[str]:
    lines = []
    if result.errors:
        shown = ", ".join(f"{e * 1000:+.0f}" for e in result.errors)
        lines.append(f"  {mode} errors (ms, in cue order): {shown}")
    if result.misses:
        lines.append(f"  {mode} missed: " + ", ".join(f"{c.sku} at {c.seconds:g} s" for c in result.misses))
    if result.wrong:
        lines.append(f"  {mode} wrong: " + "; ".join(result.wrong))
    return lines


def live_diagnosis(name: str, arrivals: list[dict], cues: list[Cue], sku_of, t0: float | None) -> list[str]:
    """Split the live error: viewer.js's latency estimate at arrival vs the true latency then
    (stream time at arrival - the frame on screen), and the message's delivery delay."""
    if t0 is None:
        return []
    biases, delivery = [], []
    by_sku: dict[str, list[float]] = {}
    for cue in cues:
        by_sku.setdefault(cue.sku, []).append(cue.seconds)
    for arrival in arrivals:
        if arrival["frame"] is None or arrival["latency"] is None or not arrival["playing"]:
            continue
        stream_time = arrival["wall"] / 1000 - t0  # the encoder's media time when it arrived
        true_latency = stream_time - arrival["frame"] / FPS
        biases.append(arrival["latency"] - true_latency)
        times = by_sku.get(sku_of.get(arrival["productId"], ""), [])
        if times:
            cue_time = min(times, key=lambda c: abs(c - stream_time))
            delivery.append(stream_time - cue_time)
    if not biases:
        return [f"  {name}: no arrival while playing"]
    return [
        f"  {name}: latency estimate - true latency at arrival: median"
        f" {statistics.median(biases) * 1000:+.0f} ms"
        f" (min {min(biases) * 1000:+.0f}, max {max(biases) * 1000:+.0f}, n {len(biases)});"
        f" cue -> message delivery median {statistics.median(delivery) * 1000:.0f} ms"
    ]


# The run -----------------------------------------------------------------------------------------


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--seconds", type=float, default=60, help="length of the video (default 60)")
    parser.add_argument("--first-cue", type=float, default=8, help="first cue's time, s (default 8)")
    parser.add_argument("--cue-every", type=float, default=4, help="seconds between cues (default 4)")
    parser.add_argument("--replay-timeout", type=float, default=300, help="wait this long for the replay")
    parser.add_argument("--db-url", default=DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, video)")
    args = parser.parse_args()
    if reason := media.missing_tools():
        sys.exit(f"Cannot run: {reason}")
    if not CHROMIUM.exists():
        sys.exit(f"Cannot run: Chromium is not installed at {CHROMIUM} (apt-get install chromium)")

    tmp = Path(tempfile.mkdtemp(prefix="liveshop-sync-"))
    try:
        return run(args, tmp)
    finally:
        if args.keep:
            print(f"\nkept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def run(args, tmp: Path) -> int:
    cues = make_cues(args.seconds, args.first_cue, args.cue_every)
    step(f"generating a {args.seconds:g} s frame-coded video with {len(cues)} cues")
    video = make_video(tmp / "sync.mp4", args.seconds)
    check_frame_code(video, 1234 % int(args.seconds * FPS))

    web_port = _common.free_port()
    (tmp / "media-server").mkdir()
    (tmp / "media").mkdir()
    env = _common.server_env(
        args.db_url,
        args.redis_url,
        VIDEO_BACKEND="local",
        DJANGO_SECURE_SSL_REDIRECT="false",  # plain http on loopback, no load balancer in front
        DJANGO_STATIC_ROOT=str(tmp / "static"),
        DJANGO_MEDIA_ROOT=str(tmp / "media"),
        DJANGO_SERVE_MEDIA="true",  # the single-machine setup: replays served from disk
        LIVESHOP_MEDIA_SERVER_HOST="127.0.0.1",
        LIVESHOP_MEDIA_SERVER_DIR=str(tmp / "media-server"),
        LIVESHOP_MEDIA_SERVER_CALLBACK_URL=f"http://127.0.0.1:{web_port}",
    )
    step("scratch database, migrations, collectstatic")
    _common.ensure_database(args.db_url)
    _common.migrate(env)
    collectstatic(env)
    server = media.start_media_server(
        tmp / "media-server", callback_url=env["LIVESHOP_MEDIA_SERVER_CALLBACK_URL"], env=env
    )
    env.update(
        LIVESHOP_MEDIA_SERVER_RTMP_PORT=str(server.rtmp_port),
        LIVESHOP_MEDIA_SERVER_HTTP_PORT=str(server.http_port),
        LIVESHOP_MEDIA_SERVER_PUBLIC_URL=server.public_url,
    )
    web = worker = None
    db = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="django")
    try:
        db.submit(_common.setup_django, env).result()
        event, host, product_ids, specs = db.submit(seed, cues).result()
        sku_of = {pk: sku for sku, pk in product_ids.items()}
        web = _common.start_uvicorn(web_port, env, None, tmp / "uvicorn.log")
        worker = start_worker(env, tmp / "worker.log")
        base = f"http://127.0.0.1:{web_port}"
        watch_url = f"{base}/e/{BRAND_SLUG}/{EVENT_SLUG}/"
        results = measure(args, cues, sku_of, specs, event, host, watch_url, base, db, tmp)
    finally:
        _common.stop(worker)
        _common.stop(web)
        server.stop()
        db.shutdown(wait=True)
        with contextlib.suppress(Exception):
            _common.cleanup_redis(args.redis_url)
    report(args, cues, results)
    return 0


@dataclass
class Results:
    live: Score | None = None
    late: Score | None = None
    replay: Score | None = None
    replay_note: str = ""
    late_join: str = ""
    diagnosis: list[str] = field(default_factory=list)
    seeks: list[tuple[float, str | None, str | None, float | None]] = field(default_factory=list)
    fired: list[tuple[float, float, float]] = field(default_factory=list)  # cue, fired at, took
    page_errors: list[str] = field(default_factory=list)
    replay_cue_offsets: list[float] = field(default_factory=list)
    highlight_offsets: list[float] = field(default_factory=list)


def measure(args, cues, sku_of, specs, event, host, watch_url, base, db, tmp) -> Results:
    from playwright.sync_api import sync_playwright

    from events.prerecorded import stream_video

    results = Results()
    progress = {"media": 0.0, "samples": []}
    stop = threading.Event()
    outcome: dict = {}

    def on_cue(fired):
        results.fired.append((fired.scheduled.at, fired.media_time, fired.took))

    def on_progress(p):
        progress["media"] = p.media_time
        progress["samples"].append((time.time(), p.media_time))

    def stream():
        from django.db import connection

        try:
            outcome["result"] = stream_video(
                event=event, video=video_path, cues=specs, by=host,
                on_cue=on_cue, on_progress=on_progress, stop=stop,
            )  # fmt: skip
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc
        finally:
            connection.close()

    video_path = tmp / "sync.mp4"
    errors = results.page_errors
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            step("viewer A opens the live page; streaming starts")
            a_context, a = open_page(browser, watch_url, errors)
            streamer = threading.Thread(target=stream, name="stream_video", daemon=True)
            streamer.start()
            media.wait_for(
                lambda: progress["media"] >= args.seconds / 2 or not streamer.is_alive(),
                timeout=args.seconds + 120,
                what="the stream's halfway point",
            )
            b_joined = progress["media"]
            step(f"viewer B (late joiner) opens the live page at media time {b_joined:.1f} s")
            b_context, b = open_page(browser, watch_url, errors)
            streamer.join(timeout=args.seconds + 180)
            if streamer.is_alive():
                stop.set()
                streamer.join(timeout=30)
                raise RuntimeError("stream_video did not finish in time")
            if "error" in outcome:
                raise RuntimeError(f"stream_video failed: {outcome['error']}")
            step(f"stream ended ({len(results.fired)} cues fired); letting the players play out the end")
            end_frame = round((cues[-1].seconds + 1) * FPS)
            for page in (a, b):
                with contextlib.suppress(AssertionError):
                    media.wait_for(lambda p=page: last_frame(p) >= end_frame, timeout=40, interval=0.25,
                                   what="the last cue's moment on screen")  # fmt: skip
            a_state, b_state = state(a), state(b)
            a_context.close()
            b_context.close()

            samples = progress["samples"]
            t0 = statistics.median(wall - m for wall, m in samples if m > 1) if samples else None
            results.live = score(a_state["changes"], cues, sku_of)
            join_frame = b_first_frame(b_state)
            after = join_frame / FPS if join_frame is not None else b_joined
            results.late = score(b_state["changes"], cues, sku_of, after=after)
            initial = b_state["initial"]
            results.late_join = (
                f"B joined at stream time {b_joined:.1f} s; its first frame on screen was "
                f"{after:.2f} s of the video; the card it opened with: "
                f"{sku_of.get(initial['productId'], 'none') if initial['productId'] else 'none'} "
                f"(shown at once, the page's own card)"
            )
            results.diagnosis = live_diagnosis("A", a_state["arrivals"], cues, sku_of, t0) + live_diagnosis(
                "B", b_state["arrivals"], cues, sku_of, t0
            )

            offsets_ms = db.submit(highlight_offsets, event.pk).result()
            results.highlight_offsets = [
                ms / 1000 - cue.seconds for ms, cue in zip(offsets_ms, cues, strict=False)
            ]
            step("ending the event; waiting for the recording to be converted and ingested")
            db.submit(end_show, event, host).result()
            replay_url, note = wait_for_replay(db, event.pk, args.replay_timeout)
            if not replay_url:
                results.replay_note = note
                return results
            offsets = db.submit(replay_cues, event.pk).result()
            source = [cue.seconds for cue in cues]
            results.replay_cue_offsets = [ms / 1000 - s for (ms, _), s in zip(offsets, source, strict=False)]
            step(f"replay ready: {base}{replay_url}; playing it from the start at 1x")
            r_context, r = open_page(browser, base + replay_url, errors)
            # The replay page loads its video when the viewer presses play (replay.js): play first.
            r.evaluate(
                "(() => { const v = document.getElementById('video'); v.muted = true; v.playbackRate = 1;"
                " v.play(); })()"
            )
            r.wait_for_function("document.getElementById('video').readyState >= 1", timeout=60_000)
            with contextlib.suppress(AssertionError):
                media.wait_for(
                    lambda: last_frame(r) >= end_frame or r.evaluate("document.querySelector('video').ended"),
                    timeout=args.seconds + 90,
                    interval=0.5,
                    what="the replay to play past the last cue",
                )
            r_state = state(r)
            results.replay = score(r_state["changes"], cues, sku_of)
            results.seeks = seek_checks(r, cues, sku_of)
            r_context.close()
        finally:
            stop.set()
            browser.close()
    return results


def b_first_frame(b_state: dict) -> int | None:
    """The first frame viewer B showed: the earliest coded frame it noted."""
    frames = [e["frame"] for e in b_state["changes"] + b_state["arrivals"] if e.get("frame") is not None]
    last = b_state["last"]
    if last:
        frames.append(last["frame"])
    return min(frames) if frames else None


def wait_for_replay(db, event_id: int, timeout: float) -> tuple[str, str]:
    """The replay page's path once the recording is ready, or ("", why not)."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        status, reason, url = db.submit(recording_state, event_id).result()
        if status != seen:
            step(f"  recording: {status or 'not yet created'}")
            seen = status
        if url:
            return url, ""
        if status == "failed":
            return "", f"the recording failed: {reason}"
        time.sleep(1)
    what = f"still {seen}" if seen else "no recording was created (is on_record_done queuing it?)"
    return "", f"not ready after {timeout:.0f} s: {what}"


def seek_checks(page, cues: list[Cue], sku_of) -> list[tuple[float, str | None, str | None, float | None]]:
    """Seek (paused) to mid-way between cues and before the first one; the card at "seeked" must
    be the cue of the frame on screen. Returns (target s, expected sku, shown sku, frame s)."""
    targets = [cues[-2].seconds + 2, cues[1].seconds + 2, cues[len(cues) // 2].seconds + 2, 1.0]
    checks = []
    for target in targets:
        seen = page.evaluate(f"__sync.seek({target})")
        frame_s = seen["frame"] / FPS if seen["frame"] is not None else None
        at = frame_s if frame_s is not None else target
        active = [cue for cue in cues if cue.seconds <= at]
        expected = active[-1].sku if active else None
        shown = sku_of.get(seen["productId"], seen["productId"]) if seen["productId"] else None
        checks.append((target, expected, shown, frame_s))
    return checks


def report(args, cues: list[Cue], results: Results) -> None:
    print()
    print(
        f"Card-to-video sync, local pipeline: {args.seconds:g} s video, {len(cues)} cues every "
        f"{args.cue_every:g} s from {args.first_cue:g} s"
    )
    if results.fired:
        late = [(fired - at) * 1000 for at, fired, _ in results.fired]
        took = [t * 1000 for _, _, t in results.fired]
        print(
            f"  stream_video: featured each cue {statistics.median(late):.0f} ms"
            f" (median; max {max(late):.0f}) "
            f"of media time after its moment; the service call took {statistics.median(took):.0f} ms median"
            f" (max {max(took):.0f})"
        )
    print()
    print(
        "| mode | cues measured | p50 ms | p95 ms | max ms | mean signed ms | misses | no video"
        " | goal p95 <= 250 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    print(row("live (viewer A)", results.live))
    print(row("late joiner (viewer B)", results.late))
    skipped = "" if results.replay else f"skipped: {results.replay_note}"
    print(row("replay, played at 1x", results.replay, skipped))
    print()
    print("  error = card's frame time - cue time in the source video; positive = the card came late;")
    print("  misses = cues never shown or shown as another product; no video = a card shown while the")
    print("  player had no picture yet (by design it then shows at once)")
    for mode, result in (("live", results.live), ("late joiner", results.late), ("replay", results.replay)):
        if result is not None:
            for line in details(mode, result):
                print(line)
    if results.late_join:
        print(f"  {results.late_join}")
    for line in results.diagnosis:
        print(line)
    for label, values in (
        ("highlights' offsetMs (session time) - cue time", results.highlight_offsets),
        ("replay cues (recording time) - cue time", results.replay_cue_offsets),
    ):
        if values:
            print(f"  {label}, ms: " + ", ".join(f"{v * 1000:+.0f}" for v in values))
    if results.seeks:
        right = sum(1 for _, expected, shown, _ in results.seeks if expected == shown)
        print(f"  replay seeks: {right}/{len(results.seeks)} showed the right card at once (at 'seeked')")
        for target, expected, shown, frame_s in results.seeks:
            mark = "ok" if expected == shown else "WRONG"
            where = f"{frame_s:.2f} s on screen" if frame_s is not None else "no frame read"
            print(
                f"    seek to {target:5.2f} s ({where}): expected {expected or 'no card'},"
                f" shown {shown or 'no card'} {mark}"
            )
    if results.page_errors:
        print(f"  page errors: {json.dumps(results.page_errors[:5])}")


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
