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
