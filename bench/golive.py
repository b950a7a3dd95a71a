"""Going live from the browser (issue 20), local mode: how fast, how late, and what it costs the server.

    .venv/bin/python bench/golive.py [--seconds 40] [--preset 360p]

Two publishers into the same local stack, one after the other, in the same run:

  browser    headless Chromium (Debian's, fake camera and microphone) on the event's studio page:
             "Turn camera on", Start; the console's compositor draws the wall clock into every
             frame (32 black/white blocks along the top: ``overlay.stamp``), MediaRecorder WebM ->
             the publish socket -> the relay's ffmpeg (VP8 decode + x264) -> nginx-rtmp -> HLS
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
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
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


def score(result: Result, watch: Watch, width: int, skip: int = 2) -> None:
    """Latency of each segment listed (the first ``skip`` ones are the stream's start-up)."""
    for _, listed, path in watch.listed[skip:]:
        stamps = [s for s in stamps_of_segment(path, width) if s is not None]
        result.frames += len(stamps)
        if not stamps:
            result.unreadable += 1
            continue
        listed_ms = int(listed * 1000) % 2**STAMP_BITS
        result.first_frame.append(((listed_ms - stamps[0]) % 2**STAMP_BITS) / 1000)
        result.last_frame.append(((listed_ms - stamps[-1]) % 2**STAMP_BITS) / 1000)


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
    return event.pk, event.channel_id, event.get_absolute_url(), key, client.cookies["sessionid"].value


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


def run_browser(args, server, base, db, tmp, web_pid) -> Result:
    from playwright.sync_api import sync_playwright

    width = PRESETS[args.preset][0]
    event_id, channel, page_path, _, session = db.submit(seed, "Browser bench").result()
    result = Result("browser (MediaRecorder -> relay)")
    hls = f"{server.public_url}/hls/{channel}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", *MEDIA_FLAGS]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        context.set_default_timeout(90_000)
        context.add_cookies([{"name": "sessionid", "value": session, "url": base, "secure": True}])
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
        measure(args, result, server, hls, tmp / "browser", width, [psutil.Process(web_pid)])
        result.insertable = page.evaluate("window.liveshopGoLive.insertable")
        result.fps_plain = frame_rate(page)
        result.feature_to_qr = feature_to_qr(db, event_id, f"{hls}/index.m3u8", tmp)
        result.fps_overlay = frame_rate(page)
        page.click("#golive-stop")
        page.wait_for_function("window.liveshopGoLive.name === 'stopped'")
        context.close()
        browser.close()
    return result


def run_encoder(args, server, db, tmp) -> Result:
    width, height = PRESETS[args.preset]
    sys.path.insert(0, str(ROOT))
    from broadcast.relay import FPS, RELAY_SETTINGS

    event_id, channel, _, key, _ = db.submit(seed, "Encoder bench").result()
    result = Result("reference (ffmpeg encoder)")
    hls = f"{server.public_url}/hls/{channel}"
    start_ms = int(time.time() * 1000)
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
        "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={FPS}",
        "-f", "lavfi", "-i", "sine=frequency=440",
        "-vf", stamp_filter(width, start_ms),
        *RELAY_SETTINGS.video_args(FPS), "-tune", "zerolatency", *RELAY_SETTINGS.audio_args(),
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
    try:
        result.to_live = wait_live(db, event_id, started)
        result.to_playlist = wait_playlist(f"{hls}/index.m3u8", started)
        measure(args, result, server, hls, tmp / "encoder", width, [])
    finally:
        media.stop(encoder)
    # ffmpeg drew start_ms + t, but t=0 went out at min(offsets) (its start-up): correct for it.
    late = (min(offsets) - started) if offsets else 0.0
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


def load() -> str:
    return " ".join(f"{x:.1f}" for x in psutil.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="360p")
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
        step("browser publisher")
        results.append(run_browser(args, server, base, db, tmp, web.pid))
        step("reference: ffmpeg as the encoder")
        results.append(run_encoder(args, server, db, tmp))
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
