"""Accessibility (issue 16): axe-core (npm, served from node_modules, never a CDN) finds no serious
or critical WCAG 2.2 A/AA violation on the pages viewers and hosts use: the home page, the live
event page with a featured product (desktop and phone) and the host console."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from events import services
from tests.test_console_browser import _log_in, asgi_server, show  # noqa: F401 (fixtures)

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SERIOUS = ("serious", "critical")
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ")),
  }));
}"""


def violations(page) -> list[dict]:
    page.evaluate(AXE.read_text())
    found = page.evaluate(RUN_AXE, TAGS)
    return [violation for violation in found if violation["impact"] in SERIOUS]


def feature(event, product, host_id):
    from concurrent.futures import ThreadPoolExecutor

    from django.contrib.auth import get_user_model
    from django.db import connections

    def call():
        try:
            return services.feature_product(
                event=event, product=product, by=get_user_model().objects.get(pk=host_id)
            )
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.mark.browser
@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci)")
def test_no_serious_accessibility_violations(asgi_server, show, page, artifacts_dir):  # noqa: F811
    from playwright.sync_api import expect

    event, products = show["event"], show["products"]
    host_id = event.created_by_id
    feature(event, products[0], host_id)
    report = {}

    page.goto(f"{asgi_server}/")
    report["home"] = violations(page)

    page.goto(f"{asgi_server}/e/{event.organization.slug}/{event.slug}/")
    expect(page.locator("#product-card")).to_be_visible()
    report["live page"] = violations(page)
    page.set_viewport_size({"width": 390, "height": 844})
    report["live page (phone)"] = violations(page)
    page.set_viewport_size({"width": 1280, "height": 800})

    _log_in(page, asgi_server, show["session"])
    page.goto(f"{asgi_server}{event.get_absolute_url()}")
    expect(page.locator("#console-connection")).to_have_attribute("data-state", "live")
    report["host console"] = violations(page)

    (artifacts_dir / "accessibility.json").write_text(json.dumps(report, indent=2))
    assert report == {name: [] for name in report}, json.dumps(report, indent=2)


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


@pytest.mark.browser
def test_the_keyboard_reaches_only_named_controls_each_with_a_visible_focus_ring(
    asgi_server,  # noqa: F811
    show,  # noqa: F811
    page,
    artifacts_dir,
):
    """WCAG 2.2 AA by keyboard on the live page (a featured product) and the host console: every
    Tab stop is a control (no stop on non-interactive elements) with an accessible name, and its
    focus ring contrasts at least 3:1 with what is behind it."""
    from playwright.sync_api import expect

    event, products = show["event"], show["products"]
    feature(event, products[0], event.created_by_id)
    walks = {}

    page.goto(f"{asgi_server}/e/{event.organization.slug}/{event.slug}/")
    expect(page.locator("#product-card")).to_be_visible()
    walks["live page"] = keyboard_walk(page)
    # What changes by itself is announced politely: the featured product, the chat, the shop's notes.
    announced = page.evaluate(
        "() => [...document.querySelectorAll('[aria-live=polite], [role=status]')]"
        ".map((e) => e.getAttribute('aria-label') || e.id)"
    )
    assert {"Featured product", "Chat messages", "shop-toast"} <= set(announced), announced

    _log_in(page, asgi_server, show["session"])
    page.goto(f"{asgi_server}{event.get_absolute_url()}")
    expect(page.locator("#console-connection")).to_have_attribute("data-state", "live")
    walks["host console"] = keyboard_walk(page)

    (artifacts_dir / "keyboard-walk.json").write_text(json.dumps(walks, indent=2))
    assert all(len(stops) >= 5 for stops in walks.values()), walks  # the walk went round the page
    problems = {name: keyboard_problems(stops) for name, stops in walks.items()}
    assert problems == {name: [] for name in walks}, json.dumps(problems, indent=2)
