"""Lighthouse scores (issue 16's goal: >= 95 mobile / 100 desktop performance, accessibility
100, best practices 100, CLS < 0.02) of the pages viewers and hosts use: the live event page
(bench/_common.seed_show: live, with a featured product) and the replay page (an ended show of the
same brand with a ready recording: seed_replay) for an anonymous viewer, and the host console for
its host, each with Lighthouse's mobile and desktop settings.

One production-settings uvicorn process (collected static files, DEBUG off); Lighthouse from npm
(``npx --yes lighthouse@12``: fetched on first use, by hand only) drives Debian's Chromium
(CHROME_PATH=/usr/bin/chromium). The requests carry X-Forwarded-Proto: https, as from the load
balancer that ends TLS (the HTTPS redirect is off: Lighthouse's own fetches of source maps and
robots.txt carry no extra header; robots.txt is exempt from it in production too). A busy
machine lowers the performance score: compare runs of one session.

    .venv/bin/python bench/lighthouse.py
    .venv/bin/python bench/lighthouse.py --runs 3

The live page plays 20 s of HLS that ffmpeg draws into the collected static files (same origin),
as a live playlist (joined near its edge; ``--live-as-vod``: as a VOD from its start, as before);
``--fake-stream`` keeps the seeded show's unreachable IVS URL instead (as before 2026-12). The
replay plays the same 20 s from the "recordings" storage on disk (a temporary MEDIA_ROOT that
Django serves, as on a single machine: DJANGO_SERVE_MEDIA), with a product cue from 0 s and one
from 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROMIUM = "/usr/bin/chromium"
REPLAY_SLUG = "bench-replay-show"


def lighthouse(url: str, *, desktop: bool, headers: dict, out: Path, profile: Path | None = None) -> dict:
    """One Lighthouse run, in a Chromium of ``profile`` (signed_in_profile) or a new one."""
    flags = "--headless=new --no-sandbox --disable-gpu" + (f" --user-data-dir={profile}" if profile else "")
    cmd = [
        "npx", "--yes", "lighthouse@12", url, "--quiet", "--output=json", f"--output-path={out}",
        f"--chrome-flags={flags}",
        f"--only-categories={','.join(CATEGORIES)}", f"--extra-headers={json.dumps(headers)}",
    ]  # fmt: skip
    if desktop:
        cmd.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    # Lighthouse now and then loses its trace of the load ("NO_NAVSTART", exit 1): once more.
    if subprocess.run(cmd, timeout=240, env=env).returncode != 0:
        subprocess.run(cmd, check=True, timeout=240, env=env)
    report = json.loads(out.read_text())
    scores = {name: round(100 * (report["categories"][name]["score"] or 0)) for name in CATEGORIES}
    scores["CLS"] = report["audits"]["cumulative-layout-shift"]["numericValue"]
    scores["LCP ms"] = report["audits"]["largest-contentful-paint"]["numericValue"]
    scores["failing"] = sorted(
        audit_id
        for audit_id, audit in report["audits"].items()
        if audit.get("score") is not None
        and audit["score"] < 0.9
        and audit.get("scoreDisplayMode") == "binary"
    )
    return scores


def write_stream(folder: Path) -> Path:
    """20 s of 720p HLS (2 s segments) drawn by ffmpeg into ``folder``, which WhiteNoise serves
    from STATIC_ROOT; the playlist's path."""
    folder.mkdir(parents=True, exist_ok=True)
    playlist = folder / "index.m3u8"
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=20",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=20",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60",
            "-c:a", "aac", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", str(playlist),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return playlist


def live_playlist(playlist: Path) -> Path:
    """The same segments as a live stream's playlist (no ENDLIST, no VOD type), beside it: a viewer
    joins it near its edge (players.js: two segments back), as a live show, instead of loading a
    VOD from its start (hls.js then buffered all 20 s, 7 MB, before the page went quiet)."""
    live = playlist.with_name("live.m3u8")
    dropped = ("#EXT-X-ENDLIST", "#EXT-X-PLAYLIST-TYPE:VOD")
    live.write_text("".join(f"{line}\n" for line in playlist.read_text().splitlines() if line not in dropped))
    return live


def still(stream: Path, target: Path) -> Path:
    """A frame 7 s into ``stream`` as a JPEG 480 px high, as a local recording's thumbnails
    (recordings/services/local.py)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", "7", "-i", str(stream),
            "-frames:v", "1", "-vf", "scale=-2:480", "-q:v", "4", str(target),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return target


def seed_replay(event, products, host, stream: Path, media_root: Path):
    """Idempotent: an ended show of ``event``'s brand with ``products`` in its lineup and one ready
    recording (``stream``'s HLS copied into the "recordings" storage under ``media_root``, with a
    thumbnail: the page's poster), the
    first product cued from 0 s (its card is on the page as it opens), the second from 10 s.
    Returns the ended event."""
    from datetime import timedelta

    from django.utils import timezone

    from events.models import EventProduct, LiveEvent
    from recordings.models import ProductCue, Recording

    now = timezone.now()
    replay_event, _ = LiveEvent.objects.update_or_create(
        organization=event.organization,
        slug=REPLAY_SLUG,
        defaults={
            "title": "Bench replay show",
            "scheduled_start": now - timedelta(days=1),
            "status": LiveEvent.Status.ENDED,
            "status_changed_at": now - timedelta(hours=23),
            "created_by": host,
        },
    )
    for position, product in enumerate(products, 1):
        EventProduct.objects.get_or_create(
            event=replay_event, product=product, defaults={"position": position}
        )
    Recording.objects.filter(event=replay_event).delete()
    prefix = f"replays/{replay_event.pk}/bench"
    shutil.copytree(stream.parent, media_root / "recordings" / prefix / "hls")
    # Its poster, as a local recording's thumbnail.
    thumbnail = f"{prefix}/media/thumbnails/thumb0.jpg"
    still(stream, media_root / "recordings" / thumbnail)
    recording = Recording.objects.create(
        organization=event.organization,
        event=replay_event,
        status=Recording.Status.READY,
        started_at=now - timedelta(days=1),
        duration_ms=20_000,
        cdn_prefix=prefix,
        master_path=f"{prefix}/hls/{stream.name}",
        thumbnails=[thumbnail],
    )
    ProductCue.objects.create(recording=recording, product=products[0], start_ms=0, end_ms=10_000)
    ProductCue.objects.create(recording=recording, product=products[1], start_ms=10_000)
    return replay_event


def signed_in_profile(base: str, cookie: str, profile: Path) -> Path:
    """A Chromium profile whose cookie jar holds the host's session cookie for ``base``, for
    Lighthouse's Chromium (its --user-data-dir). A Cookie among Lighthouse's extra headers only
    reached the page itself: the console's own fetches and its socket went without it (403s in
    the console: best practices' errors-in-console). Lighthouse leaves cookies alone."""
    from urllib.request import urlopen

    from websockets.sync.client import connect

    port = _common.free_port()
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}"]
    proc = subprocess.Popen(
        [CHROMIUM, *flags, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: _common.stop
    )
    try:
        _common.wait_for_port(port, proc)
        version = json.load(urlopen(f"http://127.0.0.1:{port}/json/version", timeout=10))
        browser = version["webSocketDebuggerUrl"]
        name, value = cookie.split("=", 1)
        expires = time.time() + 3600  # kept on disk (a session cookie would not be)
        cookies = [{"name": name, "value": value, "url": base, "httpOnly": True, "expires": expires}]
        with connect(browser, max_size=None) as socket:
            socket.send(json.dumps({"id": 1, "method": "Storage.setCookies", "params": {"cookies": cookies}}))
            answer = json.loads(socket.recv(timeout=10))
            if "error" in answer:
                sys.exit(f"Chromium refused the host's cookie: {answer['error']}")
            socket.send(json.dumps({"id": 2, "method": "Browser.close"}))  # writes the cookie jar
        proc.wait(30)
    finally:
        _common.stop(proc)
    return profile


def host_cookie(host) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(host.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = host.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1, help="runs per page and preset (median kept)")
    parser.add_argument("--pages", default="live,replay,console", help="live,replay,console or some of them")
    parser.add_argument("--db-url", default=_common.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    parser.add_argument(
        "--fake-stream",
        action="store_true",
        help="keep the seeded show's unreachable IVS URL (the player's failed fetches cost best practices)",
    )
    parser.add_argument(
        "--live-as-vod",
        action="store_true",
        help="the live page plays the 20 s as a VOD playlist, from its start (as before 2026-12-04)",
    )
    args = parser.parse_args()
    if shutil.which("npx") is None or not Path(CHROMIUM).exists():
        sys.exit("npx (npm) and Debian's chromium are needed")

    static_root = Path(tempfile.mkdtemp(prefix="liveshop-lighthouse-static-"))
    media_root = Path(tempfile.mkdtemp(prefix="liveshop-lighthouse-media-"))
    # No TLS here: Lighthouse's own fetches (source maps) carry none of --extra-headers, so the
    # HTTPS redirect would answer them 301. The pages' requests still say https (HSTS is sent).
    env = _common.server_env(
        args.db_url,
        args.redis_url,
        DJANGO_STATIC_ROOT=str(static_root),
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_MEDIA_ROOT=str(media_root),
        DJANGO_SERVE_MEDIA="true",  # the replay's files, from the recordings storage on disk
    )
    collect = [_common.PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"]
    subprocess.run(collect, cwd=_common.ROOT, env=env, check=True, timeout=300)
    _common.ensure_database(args.db_url)
    _common.migrate(env)
    _common.setup_django(env)
    from django.core.files import File

    from events.models import Highlight

    event, products, host = _common.seed_show()
    # The card on the page (written directly: featuring would queue its cue for a Celery worker).
    Highlight.objects.create(event=event, product=products[0], featured_by=host)
    cookie = host_cookie(host)
    server = None
    work = Path(tempfile.mkdtemp(prefix="liveshop-lighthouse-"))
    try:
        port = _common.free_port()
        playlist = write_stream(static_root / "bench-stream")
        replay_event = seed_replay(event, products, host, playlist, media_root)
        # The show's picture (the discover page's, the live player's poster until the video plays).
        with still(playlist, work / "event.jpg").open("rb") as picture:
            event.thumbnail.save("bench-live-show.jpg", File(picture), save=True)
        if not args.fake_stream:  # the live page plays a stream of our own origin, as with a CDN in front
            live = playlist if args.live_as_vod else live_playlist(playlist)
            url = f"http://127.0.0.1:{port}/static/{live.relative_to(static_root)}"
            type(event).objects.filter(pk=event.pk).update(playback_url=url)
        server = _common.start_uvicorn(port, env, None, work / "uvicorn.log")
        base = f"http://127.0.0.1:{port}"
        pages = {
            "live page": (f"{base}/e/{event.organization.slug}/{event.slug}/", False),
            "replay page": (f"{base}/e/{event.organization.slug}/{replay_event.slug}/replay/", False),
            # Not reverse(): loading the URLs here would import bench/chat.py for the chat app.
            "host console": (f"{base}/studio/events/{event.slug}/?brand={event.organization.slug}", True),
        }
        print("| page | preset | " + " | ".join(CATEGORIES) + " | CLS | LCP ms | failing audits |")
        print("|---|---|" + "---|" * (len(CATEGORIES) + 3))
        names = {"live": "live page", "replay": "replay page", "console": "host console"}
        wanted = {names[page.strip()] for page in args.pages.split(",")}
        for name, (url, signed_in) in pages.items():
            if name not in wanted:
                continue
            profile = signed_in_profile(base, cookie, work / "host-profile") if signed_in else None
            for desktop in (False, True):
                runs = [
                    lighthouse(
                        url,
                        desktop=desktop,
                        headers={"X-Forwarded-Proto": "https"},
                        out=work / f"{name.replace(' ', '-')}-{desktop}-{n}.json",
                        profile=profile,
                    )
                    for n in range(args.runs)
                ]
                best = {
                    key: statistics.median(r[key] for r in runs) for key in (*CATEGORIES, "CLS", "LCP ms")
                }
                failing = sorted({audit for r in runs for audit in r["failing"]})
                cells = " | ".join(f"{best[c]:.0f}" for c in CATEGORIES)
                print(
                    f"| {name} | {'desktop' if desktop else 'mobile'} | {cells} | {best['CLS']:.3f} | "
                    f"{best['LCP ms']:.0f} | {', '.join(failing) or '-'} |"
                )
        print(f"\nreports: {work}")
    finally:
        _common.stop(server)
        _common.cleanup_redis(args.redis_url)
        shutil.rmtree(static_root, ignore_errors=True)
        shutil.rmtree(media_root, ignore_errors=True)


if __name__ == "__main__":
    main()
