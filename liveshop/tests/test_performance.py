"""What Lighthouse checks besides speed (issue 16): robots.txt over plain http too, HSTS for a year
with preload behind HTTPS, compressed pages for signed-out visitors only (BREACH), Brotli and gzip
copies of static files, a favicon and a description on every page, no player script where nothing
plays."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from whitenoise.compress import Compressor

from events.models import LiveEvent
from events.tests.factories import LiveEventFactory, LiveNowEventFactory

ROOT = Path(__file__).resolve().parents[2]

# Production settings (DJANGO_DEBUG=false) behind the load balancer: requests over plain http
# (no X-Forwarded-Proto) and over https.
PRODUCTION_PROBE = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="shop.example.com")
robots = client.get("/robots.txt")
home = client.get("/studio/")
secure = client.get("/robots.txt", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "robots": [robots.status_code, robots.content.decode()],
    "studio_over_http": home.status_code,
    "hsts": secure.headers.get("Strict-Transport-Security"),
    "hsts_over_http": robots.headers.get("Strict-Transport-Security"),
}))
"""


def test_production_serves_robots_txt_over_http_and_hsts_for_a_year_over_https():
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env = {
        **keep,
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.base",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    }
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["robots"][0] == 200  # not the HTTPS redirect: crawlers (and Lighthouse) ask http:// too
    assert "Disallow: /studio/" in seen["robots"][1]
    assert seen["studio_over_http"] == 301  # everything else still moves to https
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["hsts_over_http"] is None  # HSTS only over HTTPS


def test_robots_txt_lets_crawlers_read_shows_but_not_the_studio(client):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "User-agent: *"
    assert {"Disallow: /studio/", "Disallow: /admin/"} <= set(lines)
    assert "Disallow: /" not in lines


@pytest.mark.django_db
def test_signed_out_pages_are_compressed_signed_in_ones_are_not(client, host):
    page = client.get("/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert page["Content-Encoding"] == "gzip"
    assert b"<html" in gzip.decompress(page.content)
    assert "Accept-Encoding" in page["Vary"]

    client.force_login(host)  # a stream key or an address may sit next to a reflected query
    own = client.get("/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert not own.has_header("Content-Encoding")
    assert b"<html" in own.content


@pytest.mark.django_db
def test_files_and_streams_are_not_compressed_by_the_middleware(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "notes.txt").write_text("x" * 5_000)

    response = client.get("/media/notes.txt", HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")  # FileResponse: streamed, sent in ranges


def test_static_files_get_brotli_and_gzip_copies(tmp_path):
    script = tmp_path / "viewer.js"
    script.write_text("export const greeting = 'hello';\n" * 200)

    written = sorted(Path(p).name for p in Compressor(quiet=True).compress(str(script)))

    assert written == ["viewer.js.br", "viewer.js.gz"]  # collectstatic's CompressedManifest storage


def test_collectstatic_leaves_source_maps_uncompressed(tmp_path):
    """Production's storage compresses scripts, not their source maps (developer tools read them;
    brotli on hls.js's took half of collectstatic's time)."""
    from liveshop.staticfiles import StaticFilesStorage

    for name in ("player.js", "player.js.map"):
        (tmp_path / name).write_text("export const greeting = 'hello';\n" * 200)

    written = StaticFilesStorage(location=tmp_path).compress_files(["player.js", "player.js.map"])

    assert sorted(compressed for _, compressed in written) == ["player.js.br", "player.js.gz"]


@pytest.mark.django_db
def test_every_page_has_the_favicon_and_the_studio_a_description(client, host):
    login = client.get("/login/")
    client.force_login(host)
    studio = client.get("/studio/", follow=True)

    for page in (login, studio):
        assert b'<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in page.content
    assert b'<meta name="description" content="Liveshop Studio:' in studio.content


@pytest.mark.django_db
def test_the_player_script_loads_only_where_something_may_play(client):
    live = LiveNowEventFactory()
    upcoming = LiveEventFactory()  # may go live while the page is open (the socket says so)
    ended = LiveEventFactory(status=LiveEvent.Status.ENDED)

    def page(event):
        return client.get(f"/e/{event.organization.slug}/{event.slug}/").content

    # hls.js's light build (no in-manifest subtitles, alternate audio or DRM: the viewer pages use
    # none of them; captions are the replay's <track>s): two fifths less script to evaluate.
    assert b"hls.light.min.js" in page(live)
    assert b"hls.light.min.js" in page(upcoming)
    assert b"hls.light.min.js" not in page(ended) and b"hls.min.js" not in page(ended)
    assert b"amazon-ivs-player" not in page(ended)
