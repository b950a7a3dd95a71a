"""Our ES modules as production serves them: ``collectstatic`` with the production storage (hashed
names, liveshop/staticfiles.py) rewrites every relative import of static/js to a hashed file, and
WhiteNoise serves them with a JavaScript MIME type (a browser runs no module without one). The
browser test opens the viewer page from a WSGI server with DEBUG off and WhiteNoise in front, as
in production, and checks that its module and every import load under the page's policy."""

import re
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.urls import reverse

from events.tests.factories import LiveEventFactory
from liveshop.tests.test_static_cdn import build_image

# Every static import or re-export of a relative path, its semicolon or not: Django rewrites only
# those that end in one, so a missing semicolon shows here as an unhashed import.
IMPORT = re.compile(r"""^(?:import|export)\b[^;]*?\bfrom\s*["'](?P<url>\.[^"']+)["']""", re.M)
HASHED = re.compile(r"\.[0-9a-f]{12}\.js$")


PRODUCTION_STORAGE = {"BACKEND": "liveshop.staticfiles.StaticFilesStorage"}


@pytest.fixture(scope="session")
def collected_once(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """STATIC_ROOT filled by collectstatic with the production storage, as the image's build
    runs it (once per run; the session's scope, as the run's order may part this module's two
    tests); its manifest's paths. WhiteNoise's Brotli and gzip copies are left out (they rename
    nothing and took ~17 of its ~19 s: liveshop/tests/test_performance.py checks them)."""
    root = tmp_path_factory.mktemp("collected") / "static"
    _, paths = build_image(root)
    return root, paths


@pytest.fixture
def collected(collected_once, settings) -> tuple[Path, dict[str, str]]:
    settings.STATIC_ROOT = collected_once[0]
    settings.STORAGES = {**settings.STORAGES, "staticfiles": PRODUCTION_STORAGE}
    return collected_once


def test_collected_modules_import_hashed_files(collected):
    root, manifest = collected
    modules = {
        name: hashed for name, hashed in manifest.items() if name.startswith("js/") and name.endswith(".js")
    }
    assert {"js/viewer.js", "js/lib/socket.js", "js/lib/card.js"} <= modules.keys()
    imports = 0
    for hashed in modules.values():
        source = root / hashed
        for url in IMPORT.findall(source.read_text()):
            target = (source.parent / url).resolve().relative_to(root.resolve()).as_posix()
            assert HASHED.search(target) and target in manifest.values(), f"{hashed} imports {url}"
            imports += 1
    assert imports >= 10


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def production_server(collected, settings, transactional_db):
    """Django over WSGI with DEBUG off and WhiteNoise serving the collected files (a thread)."""
    settings.DEBUG = False
    settings.MIDDLEWARE = [*settings.MIDDLEWARE]
    settings.MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=WSGIServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def scheduled_event(transactional_db):
    return LiveEventFactory()  # scheduled: no video to load


def test_viewer_page_runs_its_hashed_modules_from_whitenoise(production_server, scheduled_event, page):
    event = scheduled_event
    url = production_server + reverse(
        "viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug}
    )
    scripts = {}
    page.on("response", lambda r: scripts.update({r.url: r}) if r.request.resource_type == "script" else None)

    page.goto(url)
    page.wait_for_function("window.liveshop && window.liveshop.status === 'scheduled'")

    modules = {u: r for u, r in scripts.items() if "/static/js/" in u}
    assert any("/static/js/lib/socket." in u for u in modules) and any(
        "/static/js/lib/card." in u for u in modules
    )
    for script_url, response in modules.items():
        assert response.status == 200 and HASHED.search(script_url), script_url
        assert response.headers["content-type"].startswith("text/javascript"), response.headers
