"""Accessibility (issue 16): axe-core (npm, served from node_modules, never a CDN) finds no serious
or critical WCAG 2.2 A/AA violation, and a keyboard walk finds every Tab stop a named control with
a visible focus ring, on the pages viewers and hosts use: the home page, the live event page with
a featured product (desktop and phone), the replay page (desktop and phone), the host console and
the studio's event list, video page (the timeline editor) and orders list.

One ASGI server for the module (the local video backend, both storages on disk under the module's
MEDIA_ROOT); each test makes its rows (the database is emptied between tests) and the replay's
HLS files from one ffmpeg VOD made once."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from catalog.models import Product, Variant
from commerce.tests.orders import place_order, start_order
from events import services
from events.models import LiveEvent
from recordings.models import ProductCue, Recording
from tests.asgi_server import running_asgi_server
from tests.test_console_browser import _log_in, _make_show
from tests.test_replay_browser import DURATION_S, make_hls_vod

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SERIOUS = ("serious", "critical")
DEADLINE_MS = 30_000  # generous: two shared cores run the server, Chromium and other tests
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture(scope="module")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("accessibility-media")


@pytest.fixture(scope="module")
def vod(tmp_path_factory) -> Path:
    """A 12 s HLS VOD (master playlist and one rendition), made once and copied per recording."""
    folder = tmp_path_factory.mktemp("accessibility-vod")
    make_hls_vod(folder)
    return folder


@pytest.fixture(scope="module")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory, media_root):
    """One ASGI server for the module's tests, on the test database (each test's committed rows)."""
    with django_db_blocker.unblock():
        env = {"VIDEO_BACKEND": "local", "DJANGO_MEDIA_ROOT": str(media_root)}
        directory = tmp_path_factory.mktemp("accessibility-server")
        with running_asgi_server(directory, env=env, disk_storages=True) as server:
            yield server.url


def in_another_thread(function):
    """Run ORM code while Playwright's event loop owns this thread (Django refuses it here)."""

    def call():
        try:
            return function()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def ready_recording(media_root: Path, vod: Path, prefix: str, **fields) -> Recording:
    """A ready recording whose HLS (a copy of ``vod``) the server serves from its storage."""
    shutil.copytree(vod, media_root / "recordings" / prefix / "hls")
    return Recording.objects.create(
        status=Recording.Status.READY,
        started_at=timezone.now() - timedelta(hours=2),
        duration_ms=DURATION_S * 1000,
        cdn_prefix=prefix,
        master_path=f"{prefix}/hls/master.m3u8",
        renditions=[
            {"name": "360p", "resolution": "640x360", "playlist": f"{prefix}/hls/360p/playlist.m3u8"}
        ],
        **fields,
    )


@pytest.fixture
def pages(asgi_server, media_root, vod, settings) -> dict:
    """The console test's show (three products, the first featured), plus: an ended show with a
    ready replay (its first product's card from 0 s), a published uploaded video with two cues
    (the studio's timeline editor), and three orders (two paid, one waiting for payment). Returns
    the pages' URLs, the show and its host's session."""
    from commerce.payments import get_payment_backend

    show = _make_show(settings)
    event, products = show["event"], show["products"]
    brand, host = event.organization, event.created_by
    Product.objects.filter(pk=products[1].pk).update(external_url="https://shop.example.com/night-cream")
    services.feature_product(event=event, product=products[0], by=host)

    ended = services.create_event(
        organization=brand,
        title="Winter warmers",
        scheduled_start=timezone.now() - timedelta(days=1),
        by=host,
        products=products,
        description="Last winter's show.",
    )
    LiveEvent.objects.filter(pk=ended.pk).update(
        status=LiveEvent.Status.ENDED, status_changed_at=timezone.now()
    )
    replay = ready_recording(media_root, vod, f"replays/{ended.pk}/1", organization=brand, event=ended)
    ProductCue.objects.create(recording=replay, product=products[1], start_ms=0, end_ms=6_000)
    ProductCue.objects.create(recording=replay, product=products[2], start_ms=6_000)

    video = ready_recording(
        media_root,
        vod,
        f"videos/{brand.pk}/trail",
        organization=brand,
        backend=Recording.Backend.UPLOAD,
        title="Spring looks",
        slug="spring-looks",
        published_at=timezone.now(),
    )
    ProductCue.objects.create(recording=video, product=products[0], start_ms=1_500, end_ms=5_000)
    ProductCue.objects.create(recording=video, product=products[1], start_ms=5_000)

    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    variants = [Variant.objects.get(product=product, is_default=True) for product in products]
    place_order(variants[0], quantity=2, email="ann@example.com", event=event)
    place_order(variants[1], email="bo@example.com", recording=video)
    start_order(variants[2], email="cy@example.com", event=event)
    get_payment_backend.cache_clear()

    base = asgi_server
    yield {
        **show,
        "base": base,
        "home": f"{base}/",
        "live page": f"{base}/e/{brand.slug}/{event.slug}/",
        "replay page": f"{base}/e/{brand.slug}/{ended.slug}/replay/",
        "host console": f"{base}{event.get_absolute_url()}",
        "studio events": f"{base}/studio/",
        "studio video": f"{base}/studio/videos/{video.pk}/",
        "studio orders": f"{base}/studio/orders/",
    }


def violations(page) -> list[dict]:
    """Every WCAG A/AA violation axe finds on the page (any impact)."""
    page.evaluate(AXE.read_text())
    return page.evaluate(RUN_AXE, TAGS)


def ready(page, pages: dict, name: str) -> None:
    """Wait until ``name``'s page shows what it is checked with (deadlines, no fixed sleeps)."""
    from playwright.sync_api import expect

    card = page.locator("#product-card")
    if name == "live page":
        expect(card).to_be_visible()
    elif name == "replay page":  # the page's script running, and the card of the cue at 0 s
        page.wait_for_function("window.liveshop?.screen === 'replay'", timeout=DEADLINE_MS)
        expect(card).to_have_attribute("data-product-id", str(pages["products"][1].pk), timeout=DEADLINE_MS)
        expect(card).to_be_visible()
    elif name == "host console":
        expect(page.locator("#console-connection")).to_have_attribute(
            "data-state", "live", timeout=DEADLINE_MS
        )
    elif name == "studio video":  # the timeline editor: the video loaded, its two cues listed
        page.wait_for_function("document.getElementById('editor-video').readyState >= 1", timeout=DEADLINE_MS)
        expect(page.locator("#cue-rows tr")).to_have_count(2)
    elif name == "studio orders":
        expect(page.get_by_text("ann@example.com")).to_be_visible()


def visit(page, pages: dict, name: str) -> None:
    """Open ``name``'s page, as its host for the studio's pages (the anonymous ones come first)."""
    signed_in = any(cookie["name"] == "sessionid" for cookie in page.context.cookies(pages["base"]))
    if name in STUDIO and not signed_in:
        _log_in(page, pages["base"], pages["session"])
    page.goto(pages[name])
    ready(page, pages, name)


ANONYMOUS = ("home", "live page", "replay page")
STUDIO = ("host console", "studio events", "studio video", "studio orders")
ON_PHONES = ("live page", "replay page")


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci)")
def test_no_serious_accessibility_violations(pages, page, artifacts_dir):
    report = {}
    for name in ANONYMOUS + STUDIO:
        visit(page, pages, name)
        report[name] = violations(page)
        if name in ON_PHONES:
            page.set_viewport_size(PHONE)
            report[f"{name} (phone)"] = violations(page)
            page.set_viewport_size(DESKTOP)

    # Every finding lands in the report (moderate and minor ones too); serious or critical fail.
    (artifacts_dir / "accessibility.json").write_text(json.dumps(report, indent=2))
    serious = {name: [v for v in found if v["impact"] in SERIOUS] for name, found in report.items()}
    assert serious == {name: [] for name in report}, json.dumps(serious, indent=2)


# What the focused element is, by keyboard: whether it is something one can use, its accessible
# name, and the contrast of its focus ring (the box-shadow's or outline's outermost colour) with
# the background behind it (WCAG 2.2 1.4.11: at least 3:1).
FOCUSED = """async () => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  await Promise.all(el.getAnimations().map((animation) => animation.finished));  // the ring's transition
  const rgba = (text) => [...text.matchAll(/rgba?\\(([^)]+)\\)/g)].map((m) => {
    const [r, g, b, a = 1] = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  });
  const over = (c, bg) => ({
    r: c.r * c.a + bg.r * (1 - c.a), g: c.g * c.a + bg.g * (1 - c.a), b: c.b * c.a + bg.b * (1 - c.a),
  });
  const channel = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  const lum = ({ r, g, b }) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const contrast = (x, y) => {
    const [hi, lo] = [lum(x), lum(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  let bg = null;
  for (let node = el.parentElement; node && !bg; node = node.parentElement) {
    const [c] = rgba(getComputedStyle(node).backgroundColor);
    if (c && c.a >= 0.5) bg = c;
  }
  bg ??= { r: 255, g: 255, b: 255, a: 1 };
  const style = getComputedStyle(el);
  const rings = [];
  if (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) {
    rings.push(...rgba(style.outlineColor));
  }
  if (style.boxShadow !== "none") rings.push(...rgba(style.boxShadow).slice(-1));
  const ring = rings.length ? Math.max(...rings.map((c) => contrast(over(c, bg), bg))) : 0;
  const controls = "a[href], button, input, select, textarea, summary, iframe, video[controls], "
    + "audio[controls], [contenteditable=true], [tabindex='0'][aria-label], [tabindex='0'][aria-labelledby]";
  const roles = ["button", "link", "tab", "menuitem", "checkbox", "radio", "slider", "switch", "textbox",
    "combobox", "log", "region", "listbox"];
  const interactive = el.matches(controls) || roles.includes(el.getAttribute("role"));
  const labelled = el.getAttribute("aria-labelledby");
  const name = (el.getAttribute("aria-label") || (labelled && document.getElementById(labelled)?.textContent)
    || el.labels?.[0]?.textContent || el.getAttribute("title") || el.innerText || el.getAttribute("alt")
    || el.getAttribute("placeholder") || el.value || "").trim().replace(/\\s+/g, " ");
  const classes = typeof el.className === "string" && el.className.trim();
  const path = el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "")
    + (classes ? `.${classes.split(/\\s+/).join(".")}` : "");
  return { path, interactive, name: name.slice(0, 50), ring: Math.round(ring * 100) / 100 };
}"""


# Marks the focused element as visited; true when it already was.
MARK_VISITED = """() => {
  const el = document.activeElement;
  if (el.dataset.keyboardWalk) return true;
  el.dataset.keyboardWalk = "1";
  return false;
}"""


def keyboard_walk(page, limit: int = 150) -> list[dict]:
    """Every element Tab reaches, in order, once round the page."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        if page.evaluate(MARK_VISITED):  # round the page: back at the first stop
            break
        stops.append(focused)
    return stops


def keyboard_problems(stops: list[dict]) -> list[str]:
    problems = []
    for stop in stops:
        if not stop["interactive"]:
            problems.append(f"{stop['path']}: a Tab stop on something one cannot use")
        if not stop["name"]:
            problems.append(f"{stop['path']}: no accessible name")
        if stop["ring"] < 3:
            problems.append(f"{stop['path']} ({stop['name']}): focus ring contrast {stop['ring']} < 3")
    return problems


def test_the_keyboard_reaches_only_named_controls_each_with_a_visible_focus_ring(pages, page, artifacts_dir):
    """WCAG 2.2 AA by keyboard on the live page (a featured product), the replay page (a card on
    screen), the host console and the studio's event list, video page (the timeline editor) and
    orders list: every Tab stop is a control (no stop on non-interactive elements) with an
    accessible name, and its focus ring contrasts at least 3:1 with what is behind it."""
    walks = {}
    for name in ANONYMOUS[1:] + STUDIO:
        visit(page, pages, name)
        walks[name] = keyboard_walk(page)
        if name == "live page":
            # What changes by itself is announced politely: the featured product, the chat, the shop's notes.
            announced = page.evaluate(
                "() => [...document.querySelectorAll('[aria-live=polite], [role=status]')]"
                ".map((e) => e.getAttribute('aria-label') || e.id)"
            )
            assert {"Featured product", "Chat messages", "shop-toast"} <= set(announced), announced

    (artifacts_dir / "keyboard-walk.json").write_text(json.dumps(walks, indent=2))
    assert all(len(stops) >= 5 for stops in walks.values()), walks  # the walk went round the page
    problems = {name: keyboard_problems(stops) for name, stops in walks.items()}
    assert problems == {name: [] for name in walks}, json.dumps(problems, indent=2)
