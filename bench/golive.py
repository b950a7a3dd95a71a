"""Going live from the browser (issue 20), local mode: how fast, how late, and what it costs the server.

    .venv/bin/python bench/golive.py [--seconds 40] [--preset 360p] [--publishers browser,encoder]
        [--browser-videos auto,vp8,auto@50]
        [--encoder-keyframes 0.5,1] [--compare-players OLD_PLAYERS_JS] [--warmup 8]

Two publishers into the same local stack, one after the other, in the same run:

  browser    headless Chromium (Debian's, fake camera and microphone) on the event's studio page:
             "Turn camera on", Start; the console's compositor draws the wall clock into every
             frame (32 black/white blocks along the top: ``overlay.stamp``), MediaRecorder WebM ->
             the publish socket -> the relay's ffmpeg (H.264 copied where Chromium sets its
             keyframes, else VP8 decode + x264; ``--browser-videos auto,vp8`` runs both, and
             ``auto@40`` with MediaRecorder's chunks every 40 ms) -> nginx-rtmp -> HLS
  reference  ffmpeg as an encoder (the go-live panel's path): a test pattern at the same size with
             the same blocks (drawbox filters over ffmpeg's own clock, started at a known wall
             time and corrected by its -progress reports), x264 with the relay's settings -> RTMP

Everything real runs locally: a scratch database (liveshop_bench_golive), Redis db 12, the media
server (``manage.py media_server``) and uvicorn with production settings.

Measured for each: Start -> the event is live (nginx's on_publish went through the one stream-state
handler) and -> the HLS playlist exists; for every new segment, the moment it is listed in the
playlist (polled every 20 ms) minus the clock drawn into its first and its last frame (so "first
frame -> listed" is camera-to-HLS latency; a player adds its own buffer on top: hls.js plays about
three segments behind); the server-side CPU per publisher (the relay's or the encoder's ffmpeg,
and uvicorn, which carries the browser's WebM), in CPU seconds per second of video.

Glass to glass at a viewer's screen (bench/sync.py's method, with this bench's clock): a second
headless page opens the event's public live page (viewer.js, players.js, hls.js as shipped) once the
playlist exists; on every frame the <video> presents (requestVideoFrameCallback) it draws the top
strip into a canvas, decodes the clock and notes the frame's expected display time
(performance.timeOrigin + expectedDisplayTime): latency = that - the clock drawn into the frame. The
first --warmup seconds after its first frame are left out (hls.js's start and catch-up); also noted:
the first frame's latency, stalls ("waiting" after playing), the playback rate, how long after a
segment was listed the player had the playlist listing it ("listed -> player knew") and its playlist
requests per second (``--segments``: each segment, and hls.js's events around each stall). The publisher and
the viewer run on the same machine, so they read one clock. ``--compare-players FILE`` adds a
second viewer of the same stream whose players.js is FILE (e.g. ``git show
REV:static/js/viewer/players.js``): the player settings compared in the same run. The encoder
publishes once per --encoder-keyframes interval (seconds; default the relay's), so GOP lengths are
compared in the same run too (nginx cuts segments at keyframes, at most every hls_fragment).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

import _common
import psutil

ROOT = _common.ROOT
sys.path.insert(0, str(ROOT))

from tests import media  # noqa: E402

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/liveshop_bench_golive"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
STAMP_BITS = 32
PRESETS = {"360p": (640, 360), "480p": (854, 480), "720p": (1280, 720)}
MEDIA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
# Two pages play or capture video at once: keep the one not in front from being throttled (sync.py's).
PAGE_FLAGS = [
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# The clock in the picture ------------------------------------------------------------------------


def block_size(width: int) -> int:
    return width // (STAMP_BITS + 2)  # as static/js/console/golive/compositor.js draws it


def decode_stamp(strip: bytes, width: int) -> int | None:
    """The 32-bit clock (ms) in one frame's top strip (gray, ``block`` rows), or None."""
    block = block_size(width)
    row = block // 2

    def bit(i: int) -> bool:
        return strip[row * width + i * block + block // 2] > 128

    if bit(0) or not bit(1):  # the black then white marker
        return None
    value = 0
    for i in range(STAMP_BITS):
        value = value * 2 + int(bit(i + 2))
    return value


def stamps_of_segment(path: Path, width: int) -> list[int | None]:
    """The clock of every frame of a segment (its top strip only)."""
    block = block_size(width)
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
         "-fps_mode", "passthrough",  # each frame once (a copied browser stream is variable-rate)
         "-vf", f"crop={width}:{block}:0:0", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"],
        capture_output=True, timeout=60, check=False,
    ).stdout  # fmt: skip
    size = width * block
    return [decode_stamp(raw[i : i + size], width) for i in range(0, len(raw) - size + 1, size)]


def stamp_filter(width: int, start_ms: int) -> str:
    """drawbox filters writing ``start_ms + t`` (ms, 32 bits) as the compositor does."""
    block = block_size(width)
    boxes = [
        f"drawbox=x=0:y=0:w={width}:h={block}:color=black:t=fill",
        f"drawbox=x={block}:y=0:w={block}:h={block}:color=white:t=fill",
    ]
    for k in range(STAMP_BITS):
        on = f"eq(mod(floor(mod({start_ms}+t*1000\\,4294967296)/pow(2\\,{31 - k}))\\,2)\\,1)"
        boxes.append(f"drawbox=x={(k + 2) * block}:y=0:w={block}:h={block}:color=white:t=fill:enable='{on}'")
    return ",".join(boxes)


# The clock on a viewer's screen ------------------------------------------------------------------

# Runs in the viewer page before its own scripts: on every frame the <video> presents, the clock in
# its top strip (decoded as decode_stamp does) and the moment the frame is expected on screen.
VIEWER_PROBE = """
(() => {
  const BITS = STAMP_BITS;
  const s = (window.__g2g = {
    samples: [], opened: Date.now(), waiting: [], playing: [], hls: null, log: [], discovered: [],
  });
  performance.setResourceTimingBufferSize(100000); // every playlist request, counted at the end
  const ranges = (v) =>
    Array.from({ length: v.buffered.length }, (_, i) => [v.buffered.start(i), v.buffered.end(i)]);
  const note = (what) => {
    const v = document.getElementById("video");
    s.log.push([Date.now(), what, v ? v.currentTime : null, v ? ranges(v) : []]);
  };
  // hls.js (a deferred classic script) as it is defined: note the instance the page makes.
  let Hls;
  Object.defineProperty(window, "Hls", {
    configurable: true,
    get: () => Hls,
    set: (value) => {
      Hls = value;
      const load = value?.prototype?.loadSource;
      if (load) {
        value.prototype.loadSource = function (...args) {
          s.hls = this;
          const E = value.Events;
          this.on(E.ERROR, (_e, d) => note(`error ${d.details}`));
          this.on(E.FRAG_BUFFERED, (_e, { frag }) =>
            note(`buffered ${frag.sn} ${frag.start.toFixed(2)}+${frag.duration.toFixed(2)}`));
          this.on(E.LEVEL_LOADED, (_e, d) => {
            note(`playlist ${d.details.endSN} updated=${d.details.updated}`);
            s.discovered.push([d.details.endSN, performance.timeOrigin + d.stats.loading.first]);
          });
          return load.apply(this, args);
        };
      }
    },
  });
  let canvas = null;
  let ctx = null;
  function stamp(v) {
    const w = v.videoWidth;
    const block = Math.floor(w / (BITS + 2));
    if (!block || v.readyState < 2) return null;
    if (!canvas || canvas.width !== w) {
      canvas = new OffscreenCanvas(w, block);
      ctx = canvas.getContext("2d", { willReadFrequently: true });
    }
    ctx.drawImage(v, 0, 0, w, block, 0, 0, w, block);
    const row = ctx.getImageData(0, Math.floor(block / 2), w, 1).data;
    const bit = (i) => {
      const x = 4 * (i * block + Math.floor(block / 2));
      return (row[x] + row[x + 1] + row[x + 2]) / 3 > 128;
    };
    if (bit(0) || !bit(1)) return null;
    let value = 0;
    for (let i = 0; i < BITS; i++) value = value * 2 + (bit(i + 2) ? 1 : 0);
    return value;
  }
  document.addEventListener("DOMContentLoaded", () => {
    const v = document.getElementById("video");
    const onFrame = (_now, meta) => {
      const clock = stamp(v);
      const shown = performance.timeOrigin + meta.expectedDisplayTime;
      const [target, latency] = s.hls ? [s.hls.targetLatency, s.hls.latency] : [null, null];
      if (clock !== null) s.samples.push([shown, clock, v.playbackRate, target, latency]);
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
    v.addEventListener("waiting", () => { s.waiting.push(Date.now()); note("waiting"); });
    v.addEventListener("playing", () => s.playing.push(Date.now()));
  });
})();
""".replace("STAMP_BITS", str(STAMP_BITS))


@dataclass
class ViewerResult:
    label: str
    latencies: list[float] = field(default_factory=list)  # s, per frame shown after the warm-up
    first: float | None = None  # the first frame's latency
    to_first: float | None = None  # s from opening the page to its first frame
    stalls: int = 0
    stalled: float = 0.0  # s
    rates: list[float] = field(default_factory=list)
    targets: list[float] = field(default_factory=list)  # hls.js's target latency (s), per frame
    timeline: list[tuple[float, float, float | None, float | None]] = field(default_factory=list)
    around_stalls: list[str] = field(default_factory=list)  # hls.js's events near each stall
    discovered: dict[int, float] = field(default_factory=dict)  # segment -> playlist listing it came
    requests: float = 0.0  # playlist requests per s, from opening the page to reading it


def serve(route, _request=None, *, body: str) -> None:
    route.fulfill(body=body, content_type="text/javascript")


def open_viewers(browser, url: str, compare: Path | None) -> list[tuple[str, object, object]]:
    """The event's live page, as shipped, and (``compare``) with another players.js."""
    variants = [("players.js as shipped", None)]
    if compare is not None:
        variants.append((f"players.js from {compare.name}", compare.read_text()))
    viewers = []
    for label, players in variants:
        context = browser.new_context(viewport={"width": 960, "height": 720})
        if players is not None:
            context.route(
                re.compile(r".*/js/viewer/players(\.[0-9a-f]{12})?\.js(\?.*)?$"),
                functools.partial(serve, body=players),
            )
        context.add_init_script(VIEWER_PROBE)
        page = context.new_page()
        page.goto(url)
        viewers.append((label, context, page))
    return viewers


def read_viewer(label: str, page, *, late: float, warmup: float) -> ViewerResult:
    """The viewer's glass-to-glass latencies (``late``: the publisher's clock correction, s)."""
    probe = page.evaluate("window.__g2g")
    requests = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('.m3u8')).length"
    )
    result = ViewerResult(label)
    samples = [
        (
            shown / 1000,
            ((int(shown) % 2**STAMP_BITS - clock) % 2**STAMP_BITS) / 1000 - late,
            rate,
            target,
            hls,
        )
        for shown, clock, rate, target, hls in probe["samples"]
    ]
    if not samples:
        return result
    start = samples[0][0]
    result.first = samples[0][1]
    result.requests = requests / max(0.001, time.time() - probe["opened"] / 1000)
    for sn, when in probe["discovered"]:
        result.discovered.setdefault(sn, when / 1000)
    result.to_first = start - probe["opened"] / 1000
    steady = [sample for sample in samples if sample[0] - start >= warmup]
    result.latencies = [sample[1] for sample in steady]
    result.rates = [sample[2] for sample in steady]
    result.targets = [sample[3] for sample in steady if sample[3] is not None]
    second = None
    for shown, latency, _, target, hls in samples:  # one sample a second
        if second is None or shown - second >= 1:
            second = shown
            result.timeline.append((shown - start, latency, target, hls))
    playing = sorted(probe["playing"])
    for waited in probe["waiting"]:
        if waited / 1000 < start:
            continue  # before the first frame: loading, not a stall
        result.stalls += 1
        resumed = next((t for t in playing if t >= waited), None)
        result.stalled += ((resumed or time.time() * 1000) - waited) / 1000
        for at, what, current, buffered in probe["log"]:
            if -3000 <= at - waited <= 1000:
                spans = " ".join(f"{a:.2f}-{b:.2f}" for a, b in buffered)
                moment = f"{(at - waited) / 1000:+.2f}"
                result.around_stalls.append(f"{moment} {what} @{current or 0:.2f} [{spans}]")
        result.around_stalls.append("--")
    return result


# Watching the HLS output ---------------------------------------------------------------------------


def fetch(url: str, *, timeout: float) -> bytes:
    """GET an http:// URL of the local media server."""
    assert url.startswith("http://127.0.0.1:"), url
    return urllib.request.urlopen(url, timeout=timeout).read()  # noqa: S310 (loopback http only)


@dataclass
class Watch:
    listed: list[tuple[str, float, Path]] = field(default_factory=list)  # uri, wall time, copy
    stop: threading.Event = field(default_factory=threading.Event)


def watch_playlist(base: str, folder: Path, watch: Watch) -> None:
    """Poll the playlist every 20 ms; copy each new segment as soon as it is listed."""
    seen: set[str] = set()
    while not watch.stop.is_set():
        try:
            text = fetch(f"{base}/index.m3u8", timeout=2).decode()
        except OSError:
            time.sleep(0.02)
            continue
        now = time.time()
        for line in text.splitlines():
            if line and not line.startswith("#") and line not in seen:
                seen.add(line)
                copy = folder / f"{len(seen):04d}.ts"
                with contextlib.suppress(OSError):
                    copy.write_bytes(fetch(f"{base}/{line}", timeout=5))
                    watch.listed.append((line, now, copy))
        time.sleep(0.02)


@dataclass
class Result:
    name: str
    to_live: float | None = None
    to_playlist: float | None = None
    first_frame: list[float] = field(default_factory=list)  # s, per segment
    last_frame: list[float] = field(default_factory=list)
    unreadable: int = 0
    cpu_relay: float | None = None  # CPU s per s
    cpu_web: float | None = None
    frames: int = 0
    seconds: float = 0.0
    viewers: list[ViewerResult] = field(default_factory=list)
    segments: list[tuple[float, int, float, float]] = field(default_factory=list)  # listed, frames, latencies
    listed_at: dict[int, float] = field(default_factory=dict)  # segment number -> listed (wall s)


def score(result: Result, watch: Watch, width: int, skip: int = 2) -> None:
    """Latency of each segment listed (the first ``skip`` ones are the stream's start-up)."""
    for uri, listed, _ in watch.listed:
        with contextlib.suppress(ValueError):
            result.listed_at[int(uri.split(".")[0])] = listed
    for _, listed, path in watch.listed[skip:]:
        stamps = [s for s in stamps_of_segment(path, width) if s is not None]
        result.frames += len(stamps)
        if not stamps:
            result.unreadable += 1
            continue
        listed_ms = int(listed * 1000) % 2**STAMP_BITS
        result.first_frame.append(((listed_ms - stamps[0]) % 2**STAMP_BITS) / 1000)
        result.last_frame.append(((listed_ms - stamps[-1]) % 2**STAMP_BITS) / 1000)
        result.segments.append((listed, len(stamps), result.first_frame[-1], result.last_frame[-1]))


def cpu_of(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def relay_processes(rtmp_port: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if process.info["name"] == "ffmpeg" and f":{rtmp_port}/live/" in cmdline:
            found.append(process)
    return found


# Setup ---------------------------------------------------------------------------------------------


def seed(title: str):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Membership, Organization
    from catalog.models import Product
    from catalog.variants import ensure_default_variant
    from events import services
    from liveshop import crypto

    org, _ = Organization.objects.get_or_create(slug="golive-bench", defaults={"name": "Go-live Bench"})
    host, _ = get_user_model().objects.get_or_create(username="golive-bench-host")
    Membership.objects.get_or_create(user=host, organization=org, defaults={"role": Membership.Role.HOST})
    product, _ = Product.objects.get_or_create(
        organization=org,
        sku="GOLIVE-1",
        defaults={
            "name": "Bench jacket",
            "price": "89.00",
            "external_url": "https://shop.example.com/p/golive-1",
        },
    )
    ensure_default_variant(product=product, stock=10)
    event = services.create_event(
        organization=org, title=title, scheduled_start=timezone.now(), by=host, products=[product]
    )
    client = Client()
    client.force_login(host)
    key = crypto.decrypt(event.stream_key_encrypted)
    watch = f"/e/{org.slug}/{event.slug}/"
    return event.pk, event.channel_id, event.get_absolute_url(), key, client.cookies["sessionid"].value, watch


def status_of(event_id: int) -> str:
    from events.models import LiveEvent

    return LiveEvent.objects.get(pk=event_id).status


def wait_live(db, event_id: int, since: float, timeout: float = 90) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.submit(status_of, event_id).result() == "live":
            return time.time() - since
        time.sleep(0.05)
    return None


def wait_playlist(url: str, since: float, timeout: float = 90) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            fetch(url, timeout=2)
            return time.time() - since
        time.sleep(0.02)
    return None


def frame_rate(page, seconds: float = 5) -> float:
    """Frames the compositor drew per second over ``seconds`` (the camera's rate, unless drawing lags)."""
    page.evaluate("window.liveshopGoLive.compositor.frameRate()")  # resets its count
    time.sleep(seconds)  # the measurement window
    return page.evaluate("window.liveshopGoLive.compositor.frameRate()")


def feature(event_id: int) -> str:
    from events import services
    from events.models import LiveEvent
    from events.payloads import buy_url

    event = LiveEvent.objects.select_related("organization").get(pk=event_id)
    product = event.lineup.select_related("product").get().product
    host = event.organization.memberships.get().user
    services.feature_product(event=event, product=product, by=host)
    return buy_url(product, event)


def feature_to_qr(db, event_id: int, playlist: str, tmp: Path, timeout: float = 60) -> float | None:
    """Seconds from featuring the product (the console's service) to a frame of the newest HLS
    segment holding its QR code, decodable to its buy link (zxing-cpp); pulled about once a second."""
    import zxingcpp
    from PIL import Image

    started = time.time()
    link = db.submit(feature, event_id).result()
    frame = tmp / "qr-frame.png"
    while time.time() - started < timeout:
        frame.unlink(missing_ok=True)
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-live_start_index", "-1",
             "-i", playlist, "-frames:v", "1", str(frame)],
            timeout=30, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if frame.exists() and link in [r.text for r in zxingcpp.read_barcodes(Image.open(frame))]:
            return time.time() - started
    return None


# The two publishers ------------------------------------------------------------------------------


# The page's MediaRecorder without H.264 (as in a browser that cannot set its keyframe interval):
# VP8, which the relay decodes and re-encodes with x264.
NO_H264 = """
(() => {
  const supported = MediaRecorder.isTypeSupported.bind(MediaRecorder);
  MediaRecorder.isTypeSupported = (type) => !/h264|avc1/i.test(type) && supported(type);
})();
"""


# MediaRecorder's chunks every TIMESLICE ms whatever the page asks (``--browser-videos auto@50``).
TIMESLICE = """
(() => {
  const start = MediaRecorder.prototype.start;
  MediaRecorder.prototype.start = function () {
    return start.call(this, TIMESLICE);
  };
})();
"""


def run_browser(args, server, base, db, tmp, web_pid, entry: str = "auto") -> Result:
    from playwright.sync_api import sync_playwright

    width = PRESETS[args.preset][0]
    event_id, channel, page_path, _, session, watch = db.submit(seed, "Browser bench").result()
    video, _, timeslice = entry.partition("@")
    result = Result(f"browser (MediaRecorder -> relay), video {entry}")
    hls = f"{server.public_url}/hls/{channel}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", *MEDIA_FLAGS, *PAGE_FLAGS],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        context.set_default_timeout(90_000)
        context.add_cookies([{"name": "sessionid", "value": session, "url": base, "secure": True}])
        if video == "vp8":
            context.add_init_script(NO_H264)
        if timeslice:
            context.add_init_script(TIMESLICE.replace("TIMESLICE", str(int(timeslice))))
        page = context.new_page()
        page.goto(f"{base}{page_path}")
        page.select_option("#golive-preset", args.preset)
        page.click("#golive-devices")
        page.wait_for_function("window.liveshopGoLive.name === 'ready'")
        page.evaluate("window.liveshopGoLive.compositor.overlay.stamp = true")
        started = time.time()
        page.click("#golive-start")
        result.to_live = wait_live(db, event_id, started)
        result.to_playlist = wait_playlist(f"{hls}/index.m3u8", started)
        # The viewers in a Chromium of their own, as the encoder's are (a viewer is another device).
        watching = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", *PAGE_FLAGS]
        )
        viewers = open_viewers(watching, f"{base}{watch}", args.compare_players)
        measure(args, result, server, hls, tmp / f"browser-{entry}", width, [psutil.Process(web_pid)])
        result.viewers = [read_viewer(label, p, late=0.0, warmup=args.warmup) for label, _, p in viewers]
        for _, viewer_context, _ in viewers:
            viewer_context.close()
        watching.close()
        result.insertable = page.evaluate("window.liveshopGoLive.insertable")
        result.fps_plain = frame_rate(page)
        result.feature_to_qr = feature_to_qr(db, event_id, f"{hls}/index.m3u8", tmp)
        result.fps_overlay = frame_rate(page)
        page.click("#golive-stop")
        page.wait_for_function("window.liveshopGoLive.name === 'stopped'")
        context.close()
        browser.close()
    return result


def run_encoder(args, server, base, db, tmp, keyframe: float) -> Result:
    from playwright.sync_api import sync_playwright

    width, height = PRESETS[args.preset]
    sys.path.insert(0, str(ROOT))
    from broadcast.relay import FPS, RELAY_SETTINGS

    settings = replace(RELAY_SETTINGS, keyframe_interval=keyframe)
    event_id, channel, _, key, _, watch = db.submit(seed, f"Encoder bench {keyframe:g}").result()
    result = Result(f"reference (ffmpeg encoder, a keyframe every {keyframe:g} s)")
    hls = f"{server.public_url}/hls/{channel}"
    start_ms = int(time.time() * 1000)
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
        "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={FPS}",
        "-f", "lavfi", "-i", "sine=frequency=440",
        "-vf", stamp_filter(width, start_ms),
        *settings.video_args(FPS), "-tune", "zerolatency", *settings.audio_args(),
        "-progress", "pipe:1", "-f", "flv", server.ingest(key),
    ]  # fmt: skip
    started = start_ms / 1000
    encoder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    offsets: list[float] = []  # wall time - output time: the smallest is when t=0 was drawn

    def progress():
        for line in encoder.stdout:
            if line.startswith("out_time_us=") and line.strip().split("=")[1].isdigit():
                offsets.append(time.time() - int(line.strip().split("=")[1]) / 1e6)

    threading.Thread(target=progress, daemon=True).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", *PAGE_FLAGS]
        )
        try:
            result.to_live = wait_live(db, event_id, started)
            result.to_playlist = wait_playlist(f"{hls}/index.m3u8", started)
            viewers = open_viewers(browser, f"{base}{watch}", args.compare_players)
            measure(args, result, server, hls, tmp / f"encoder-{keyframe:g}", width, [])
            # ffmpeg drew start_ms + t, but t=0 went out at min(offsets) (its start-up): correct for it.
            late = (min(offsets) - started) if offsets else 0.0
            result.viewers = [read_viewer(label, p, late=late, warmup=args.warmup) for label, _, p in viewers]
        finally:
            media.stop(encoder)
            browser.close()
    result.first_frame = [value - late for value in result.first_frame]
    result.last_frame = [value - late for value in result.last_frame]
    result.startup_correction = late
    return result


def measure(args, result: Result, server, hls: str, folder: Path, width: int, extra: list) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    relays = media.wait_for(
        lambda: relay_processes(server.rtmp_port), timeout=30, what="the publisher's ffmpeg"
    )
    watch = Watch()
    watcher = threading.Thread(target=watch_playlist, args=(hls, folder, watch), daemon=True)
    with contextlib.suppress(psutil.Error):
        result.relay_video = "copied" if "copy" in relays[0].cmdline() else "x264"
    cpu_before, web_before, began = cpu_of(relays), cpu_of(extra), time.monotonic()
    watcher.start()
    time.sleep(args.seconds)  # the measurement window itself, not a wait for a condition
    elapsed = time.monotonic() - began
    result.cpu_relay = (cpu_of(relays) - cpu_before) / elapsed
    result.cpu_web = (cpu_of(extra) - web_before) / elapsed if extra else None
    result.seconds = elapsed
    watch.stop.set()
    watcher.join(timeout=10)
    score(result, watch, width)


# Report --------------------------------------------------------------------------------------------


def stats(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {statistics.median(values):.2f} s  p95 {_common.percentile(values, 95):.2f} s  "
        f"max {max(values):.2f} s  (n={len(values)})"
    )


def report(args, results: list[Result]) -> None:
    print()
    print(f"bench/golive.py: {args.preset}, {args.seconds:g} s measured per publisher, load {load()}")
    for r in results:
        print(f"\n{r.name}")
        to_live = f"{r.to_live:.2f} s" if r.to_live is not None else "never"
        to_playlist = f"{r.to_playlist:.2f} s" if r.to_playlist is not None else "never"
        print(f"  Start -> event live       {to_live}")
        print(f"  Start -> HLS playlist     {to_playlist}")
        print(f"  first frame -> listed     {stats(r.first_frame)}")
        print(f"  last frame -> listed      {stats(r.last_frame)}")
        fps = r.frames / max(1.0, len(r.first_frame) + r.unreadable) if r.first_frame else 0
        print(f"  frames per segment        {fps:.1f} (unreadable segments: {r.unreadable})")
        if hasattr(r, "relay_video"):
            print(f"  relay's video             {r.relay_video}")
        print(f"  server CPU (ffmpeg)       {r.cpu_relay:.2f} CPU s per s" if r.cpu_relay is not None else "")
        if r.cpu_web is not None:
            print(f"  server CPU (uvicorn)      {r.cpu_web:.2f} CPU s per s (the WebM over the socket)")
        if hasattr(r, "fps_plain"):
            rates = f"{r.fps_plain:.1f} fps plain, {r.fps_overlay:.1f} with the product overlay"
            print(f"  compositor frame rate     {rates}")
            qr = f"{r.feature_to_qr:.2f} s" if r.feature_to_qr is not None else "not within 60 s"
            print(f"  Feature -> QR in HLS      {qr} (a segment's first frame decodes to the buy link)")
        if hasattr(r, "insertable"):
            how = "Insertable Streams" if r.insertable else "canvas captureStream"
            print(f"  compositor                {how}")
        if hasattr(r, "startup_correction"):
            print(f"  (clock corrected by ffmpeg's start-up: {r.startup_correction * 1000:.0f} ms)")
        if args.segments and r.segments:
            print("  segments (s since the first: listed, +gap / frames / first, last frame -> listed)")
            start, previous = r.segments[0][0], r.segments[0][0]
            for listed, frames, first, last in r.segments:
                gap = listed - previous
                print(f"    {listed - start:6.2f} +{gap:.2f}  {frames:3d}  {first:.2f}  {last:.2f}")
                previous = listed
        for v in r.viewers:
            print(f"  viewer, {v.label}:")
            print(f"    glass to glass          {stats(v.latencies)} (after a {args.warmup:g} s warm-up)")
            found = [when - r.listed_at[sn] for sn, when in v.discovered.items() if sn in r.listed_at]
            if found:
                print(f"    listed -> player knew   {stats(found)}")
            if v.requests:
                print(f"    playlist requests       {v.requests:.1f} per s")
            if v.first is not None:
                print(f"    first frame             {v.to_first:.2f} s after opening, {v.first:.2f} s late")
            rate = f"{statistics.median(v.rates):.2f}, max {max(v.rates):.2f}" if v.rates else "n/a"
            print(f"    stalls                  {v.stalls} ({v.stalled:.2f} s); playback rate p50 {rate}")
            if v.targets:
                print(
                    f"    hls.js target latency   p50 {statistics.median(v.targets):.2f} s,"
                    f" max {max(v.targets):.2f} s"
                )
            if args.segments:
                print("    hls.js around each stall (s from the stall, event, playhead, buffered)")
                print("\n".join(f"      {line}" for line in v.around_stalls))
            if args.timeline:
                print(
                    "    timeline (s since the first frame: glass to glass / hls.js target / hls.js latency)"
                )
                print(
                    "      "
                    + "  ".join(f"{t:.0f}:{g:.2f}/{n(target)}/{n(h)}" for t, g, target, h in v.timeline)
                )


def n(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def load() -> str:
    return " ".join(f"{x:.1f}" for x in psutil.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="360p")
    parser.add_argument(
        "--publishers", default="browser,encoder", help="which to run, in order (default browser,encoder)"
    )
    parser.add_argument(
        "--encoder-keyframes",
        default="",
        help="the encoder's keyframe intervals, s, one publisher each (default: the relay's)",
    )
    parser.add_argument(
        "--browser-videos",
        default="auto",
        help="the browser publisher once per entry: auto (the page's choice: H.264, copied by the relay,"
        " where the browser sets keyframes), vp8 (H.264 hidden from the page: the relay's x264);"
        " @MS after either: MediaRecorder's chunks every MS ms instead of the page's",
    )
    parser.add_argument("--warmup", type=float, default=8, help="s left out at a viewer's start")
    parser.add_argument("--timeline", action="store_true", help="each viewer's latency, second by second")
    parser.add_argument("--segments", action="store_true", help="each segment: when listed, frames, latency")
    parser.add_argument(
        "--compare-players", type=Path, help="a second viewer with this players.js instead of ours"
    )
    parser.add_argument("--db-url", default=DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    for tool in ("ffmpeg", "/usr/bin/chromium"):
        if not shutil.which(tool):
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    tmp = Path(tempfile.mkdtemp(prefix="golive-bench-"))
    try:
        return run(args, tmp)
    finally:
        if args.keep:
            print(f"scratch folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path) -> int:
    import sync  # bench/sync.py's collectstatic

    web_port = _common.free_port()
    (tmp / "media-server").mkdir()
    env = _common.server_env(
        args.db_url,
        args.redis_url,
        VIDEO_BACKEND="local",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_STATIC_ROOT=str(tmp / "static"),
        DJANGO_MEDIA_ROOT=str(tmp / "media"),
        LIVESHOP_MEDIA_SERVER_HOST="127.0.0.1",
        LIVESHOP_MEDIA_SERVER_DIR=str(tmp / "media-server"),
        LIVESHOP_MEDIA_SERVER_CALLBACK_URL=f"http://127.0.0.1:{web_port}",
    )
    step("scratch database, migrations, collectstatic")
    _common.ensure_database(args.db_url)
    _common.migrate(env)
    sync.collectstatic(env)
    server = media.start_media_server(
        tmp / "media-server", callback_url=env["LIVESHOP_MEDIA_SERVER_CALLBACK_URL"], env=env
    )
    env.update(
        LIVESHOP_MEDIA_SERVER_RTMP_PORT=str(server.rtmp_port),
        LIVESHOP_MEDIA_SERVER_HTTP_PORT=str(server.http_port),
        LIVESHOP_MEDIA_SERVER_PUBLIC_URL=server.public_url,
    )
    web = None
    db = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="django")
    results = []
    try:
        db.submit(_common.setup_django, env).result()
        web = _common.start_uvicorn(web_port, env, None, tmp / "uvicorn.log")
        base = f"http://127.0.0.1:{web_port}"
        from broadcast.relay import RELAY_SETTINGS

        keyframes = [float(k) for k in args.encoder_keyframes.split(",") if k] or [
            RELAY_SETTINGS.keyframe_interval
        ]
        for publisher in args.publishers.split(","):
            if publisher == "browser":
                for video in args.browser_videos.split(","):
                    step(f"browser publisher, video {video}")
                    results.append(run_browser(args, server, base, db, tmp, web.pid, video))
            elif publisher == "encoder":
                for keyframe in keyframes:
                    step(f"reference: ffmpeg as the encoder, a keyframe every {keyframe:g} s")
                    results.append(run_encoder(args, server, base, db, tmp, keyframe))
            else:
                raise SystemExit(f"unknown publisher {publisher!r} (browser, encoder)")
    finally:
        _common.stop(web)
        server.stop()
        db.shutdown(wait=True)
        with contextlib.suppress(Exception):
            _common.cleanup_redis(args.redis_url)
    report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
