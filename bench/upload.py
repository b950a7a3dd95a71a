"""Upload throughput through the studio against a plain curl upload to the same server, in the
same run (prints a table).

    .venv/bin/python bench/upload.py --file VIDEO [--rounds 2] [--part-mb 8]
                                     [--db-url postgres://.../liveshop_bench_upload]
                                     [--redis-url redis://127.0.0.1:6379/11]

One server: uvicorn with the production settings (docker/start-web's command, DEBUG off) on
loopback, media on disk, a scratch PostgreSQL database, Redis as the task broker with no worker
(the transcode is queued, not run: this measures the upload). Each round, in alternating order:

  studio   Chromium (Debian's, via Playwright) on the upload page: choose the file, Upload, until
           the video's page opens. upload.js starts the upload, asks where the parts go, PUTs them
           (LIVESHOP_UPLOAD_PART_BYTES each, three at a time), then completes it: the server joins
           the parts (a rename), ffprobes the file, makes the pending video. "parts" is the time
           until the page shows "Checking the video…" (every part arrived).
  curl     the same file as the upload form's file field, one multipart POST (the page's
           fallback without JavaScript): streamed to a temporary file, ffprobed, moved to the
           media folder, the pending video made; until the redirect to the video's page.

Both end in the same state (a pending video whose transcode is queued). MB/s = file size / wall
time; ratio = studio / curl time. The file needs to be a video (ffprobe checks it at the end):
bench/README.md says how the 30-minute one is made.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _common

ROOT = _common.ROOT
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/liveshop_bench_upload"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
DEADLINE_S = 1800


def seed() -> tuple[str, str, int]:
    """A brand and its host; returns (brand slug, session cookie, videos so far)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from accounts.models import Membership, Organization
    from recordings.models import Recording

    brand, _ = Organization.objects.get_or_create(slug="upload-bench", defaults={"name": "Upload Bench"})
    host, _ = get_user_model().objects.get_or_create(username="upload-bench-host")
    Membership.objects.get_or_create(user=host, organization=brand, defaults={"role": Membership.Role.HOST})
    client = Client()
    client.force_login(host)
    return brand.slug, client.cookies["sessionid"].value, Recording.objects.filter(organization=brand).count()


def videos(slug: str) -> list[tuple[int, int, str]]:
    from recordings.models import Recording

    rows = Recording.objects.filter(organization__slug=slug).order_by("pk")
    return [(r.pk, r.upload_size or 0, r.status) for r in rows]


def by_curl(base: str, slug: str, session: str, path: Path) -> float:
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    command = [
        "curl", "--silent", "--show-error", "--fail", "--output", "/dev/null",
        "--write-out", "%{http_code} %{redirect_url}",
        "-H", f"Cookie: sessionid={session}; csrftoken={token}", "-H", f"X-CSRFToken: {token}",
        "-F", "title=curl upload", "-F", f"file=@{path};type=video/mp4",
        f"{base}/studio/videos/new/?brand={slug}",
    ]  # fmt: skip
    started = time.perf_counter()
    answer = subprocess.run(command, check=True, capture_output=True, text=True, timeout=DEADLINE_S)
    elapsed = time.perf_counter() - started
    if not re.match(r"302 .*/studio/videos/\d+/$", answer.stdout):
        sys.exit(f"curl's upload did not make a video: {answer.stdout}")
    return elapsed


def by_studio(browser, base: str, slug: str, session: str, path: Path) -> tuple[float, float]:
    # bypass_csp: wait_for_function evaluates a string
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(DEADLINE_S * 1000)
    context.add_cookies([{"name": "sessionid", "value": session, "url": base, "secure": True}])
    page = context.new_page()
    page.goto(f"{base}/studio/videos/new/?brand={slug}")
    page.set_input_files("input[type=file]", str(path))
    page.fill("input[name=title]", "studio upload")
    started = time.perf_counter()
    page.click("[data-role=submit]")
    page.wait_for_function(
        "document.querySelector('[data-role=upload-text]').textContent.startsWith('Checking')", polling=50
    )
    parts = time.perf_counter() - started
    page.wait_for_url(re.compile(r"/studio/videos/\d+/$"))
    elapsed = time.perf_counter() - started
    context.close()
    return elapsed, parts


def run(args, scratch: Path) -> None:
    import sync  # bench/sync.py's collectstatic

    size = args.file.stat().st_size
    env = _common.server_env(
        args.db_url,
        args.redis_url,
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_STATIC_ROOT=str(scratch / "static"),
        DJANGO_MEDIA_ROOT=str(scratch / "media"),
        LIVESHOP_UPLOAD_PARTS_DIR=str(scratch / "parts"),
        LIVESHOP_UPLOAD_PART_BYTES=str(args.part_mb * 1024 * 1024),
        LIVESHOP_MAX_UPLOAD_BYTES=str(max(size * 2, 2 * 1024**3)),
        LIVESHOP_UPLOAD_MAX_DURATION_SECONDS="86400",
    )
    print("scratch database, migrations, collectstatic...", flush=True)
    _common.ensure_database(args.db_url)
    _common.migrate(env)
    sync.collectstatic(env)
    _common.setup_django(env)
    db = ThreadPoolExecutor(max_workers=1)  # Django's ORM stays off Playwright's event loop thread
    slug, session, before = db.submit(seed).result()
    port = _common.free_port()
    base = f"http://127.0.0.1:{port}"
    server = _common.start_uvicorn(port, env, None, scratch / "uvicorn.log")
    from playwright.sync_api import sync_playwright

    studio, parts, curl = [], [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            for round_ in range(args.rounds):
                order = ("studio", "curl") if round_ % 2 == 0 else ("curl", "studio")
                for which in order:
                    if which == "curl":
                        curl.append(by_curl(base, slug, session, args.file))
                        print(f"  round {round_ + 1}: curl {curl[-1]:.1f} s", flush=True)
                    else:
                        elapsed, sent = by_studio(browser, base, slug, session, args.file)
                        studio.append(elapsed)
                        parts.append(sent)
                        print(
                            f"  round {round_ + 1}: studio {elapsed:.1f} s (parts {sent:.1f} s)", flush=True
                        )
            browser.close()
    finally:
        _common.stop(server)
        _common.cleanup_redis(args.redis_url)
    made = db.submit(videos, slug).result()[before:]
    assert len(made) == 2 * args.rounds and all(s == size for _, s, _ in made), made

    mb = size / 1e6
    s, p, c = statistics.median(studio), statistics.median(parts), statistics.median(curl)
    print(
        f"\nfile {args.file.name}: {mb:.0f} MB; parts of {args.part_mb} MiB; {args.rounds} round(s), medians"
    )
    print(f"{'':8} {'wall':>8} {'MB/s':>7}")
    print(f"{'studio':8} {s:7.1f}s {mb / s:7.1f}   (parts {p:.1f} s, {mb / p:.1f} MB/s)")
    print(f"{'curl':8} {c:7.1f}s {mb / c:7.1f}")
    print(f"ratio studio / curl: {s / c:.2f}; loadavg {os.getloadavg()[0]:.1f}")


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--file", type=Path, required=True, help="the video to upload")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--part-mb", type=int, default=8, help="LIVESHOP_UPLOAD_PART_BYTES in MiB (default 8)"
    )
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="liveshop-bench-upload-") as scratch:
        run(args, Path(scratch))


if __name__ == "__main__":
    main()
