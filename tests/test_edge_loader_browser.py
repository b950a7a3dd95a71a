"""The live player's playlist loader (static/js/lib/edge_loader.js) in Chromium with hls.js, against a
playlist that gains a 0.5 s segment at a time, as nginx-rtmp's does: the player learns of each
segment as soon as it is listed, whatever the phase of hls.js's reload timer, so it does not sit up
to a segment further behind than it aims (bench/golive.py measures it at a viewer's screen).

The server here is a small Python one (real segments made by ffmpeg), so the test controls when
each segment is listed and sees every request."""

import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HLS_JS = ROOT / "node_modules" / ".liveshop" / "hls" / "hls.min.js"
LIB = ROOT / "static" / "js" / "lib"
GAPS = (0.5, 0.6)  # s between two listings, in turn: the browser relay's 10 and 11 frame segments
WINDOW = 6  # segments in the playlist

PAGE = """<!doctype html>
<video id="video" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script type="module">
import { playHls } from "/lib/player.js";
window.__known = [];
window.__errors = [];
playHls(document.getElementById("video"), "/live/index.m3u8", {
  liveEdge: true,
  config: { lowLatencyMode: true, liveSyncDurationCount: 2 },
  on: {
    LEVEL_LOADED: ({ details, stats }) =>
      window.__known.push([details.endSN, performance.timeOrigin + stats.loading.first, details.live]),
    ERROR: (d) => window.__errors.push(`${d.details} ${d.fatal}`),
  },
});
</script>
"""


@pytest.fixture(scope="module")
def segments(tmp_path_factory) -> list[bytes]:
    """24 MPEG-TS segments of 0.5 s (a keyframe every 15 frames at 30 fps), made by ffmpeg."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed")
    folder = tmp_path_factory.mktemp("segments")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=30",
         "-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-keyint_min", "15",
         "-sc_threshold", "0", "-f", "hls", "-hls_time", "0.5", "-hls_list_size", "0",
         "-hls_segment_filename", str(folder / "%d.ts"), str(folder / "source.m3u8")],
        check=True,
        timeout=120,
    )  # fmt: skip
    return [(folder / f"{n}.ts").read_bytes() for n in range(24)]


class Show:
    """A live playlist that lists one more segment at a time (``list_next``), served with the
    segments, hls.js and our lib/ modules; notes when each segment was listed and every request."""

    def __init__(self, segments: list[bytes]) -> None:
        self.segments = segments
        self.listed_at: dict[int, float] = {}
        self.requests: list[str] = []
        self.ended = False
        self.last = WINDOW - 1
        self.lock = threading.Lock()
        for n in range(WINDOW):
            self.listed_at[n] = time.time()
        show = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                show.serve(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def playlist(self) -> str:
        with self.lock:
            first = max(0, self.last - WINDOW + 1)
            lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
            lines.append("#EXT-X-TARGETDURATION:1")
            for n in range(first, self.last + 1):
                lines += ["#EXTINF:0.500,", f"{n}.ts"]
            if self.ended:
                lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def list_next(self) -> None:
        with self.lock:
            self.last += 1
            self.listed_at[self.last] = time.time()

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?")[0]
        if path == "/live/index.m3u8":
            self.requests.append(request.path)
            body, kind = self.playlist().encode(), "application/vnd.apple.mpegurl"
        elif path.startswith("/live/") and path.endswith(".ts"):
            body, kind = self.segments[int(path[6:-3])], "video/mp2t"
        elif path == "/hls.min.js":
            body, kind = HLS_JS.read_bytes(), "text/javascript"
        elif path.startswith("/lib/") and (LIB / path[5:]).is_file():
            body, kind = (LIB / path[5:]).read_bytes(), "text/javascript"
        elif path == "/":
            body, kind = PAGE.encode(), "text/html"
        else:
            request.send_error(404)
            return
        request.send_response(200)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("Cache-Control", "no-cache")
        request.end_headers()
        request.wfile.write(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def show(segments):
    if not HLS_JS.exists():
        pytest.skip("hls.js is not installed (npm ci)")
    show = Show(segments)
    yield show
    show.close()


def known(page) -> dict[int, float]:
    """Segment number -> when (wall s) the player got the first playlist listing it."""
    first: dict[int, float] = {}
    for sn, when, _ in page.evaluate("window.__known"):
        first.setdefault(sn, when / 1000)
    return first


@pytest.mark.browser
def test_the_player_learns_of_each_segment_as_soon_as_it_is_listed(show, page):
    page.goto(show.url)
    page.wait_for_function("window.__known.length > 0 && document.getElementById('video').currentTime > 0")

    # Eight segments listed 0.5 and 0.6 s apart.
    for n in range(8):
        time.sleep(GAPS[n % 2])  # the publisher's pace: what the test is about
        show.list_next()
    page.wait_for_function(f"window.__known.some(([sn]) => sn === {show.last})", timeout=10_000)
    got = known(page)
    listed = range(WINDOW, show.last + 1)
    # Each on its own (hls.js got every playlist, none skipped)...
    assert all(n in got for n in listed), (sorted(got), list(listed))
    # ... and soon after it was listed: within two polls, where hls.js's own timer learns of a
    # segment up to one segment (its reload interval) later, at the same phase all show long.
    lags = sorted(got[n] - show.listed_at[n] for n in listed)
    assert lags[len(lags) // 2] < 0.2, lags
    assert lags[-1] < 0.35, lags
    # The server saw the plain playlist URL (no low-latency directive for a cache to key on), and
    # a few requests per segment, not a poll every 100 ms all the time.
    requests = list(show.requests)
    assert requests and all(path == "/live/index.m3u8" for path in requests), set(requests)
    assert len(requests) <= 6 * (len(listed) + 2), len(requests)

    # The publisher stops for 4 s (more than the three target durations a request is held): the
    # player keeps asking, four times a target duration, without an error; it learns of the next
    # segment within a quarter target duration, and of the one after within two polls again.
    paused = len(show.requests)
    time.sleep(4)  # the pause itself
    assert len(show.requests) - paused <= 26, len(show.requests) - paused  # 40 at every poll
    for gap in GAPS:
        show.list_next()
        page.wait_for_function(f"window.__known.some(([sn]) => sn === {show.last})", timeout=10_000)
        assert known(page)[show.last] - show.listed_at[show.last] < (0.5 if gap == GAPS[0] else 0.35)
        time.sleep(gap)  # the publisher's pace
    assert page.evaluate("window.__errors.filter((e) => e.endsWith('true'))") == []

    # The show ends: the held request hands the ended playlist over at once, and the player stops
    # asking for it.
    with show.lock:
        show.ended = True
        ended_at = time.time()
    page.wait_for_function("window.__known.some(([, , live]) => !live)", timeout=10_000)
    ended = next(when for _, when, live in page.evaluate("window.__known") if not live) / 1000
    assert ended - ended_at < 0.35
    asked = len(show.requests)
    page.wait_for_timeout(1500)  # a reload would have come by now: there is none to wait for
    assert len(show.requests) == asked
