"""Fixtures for the cross-app tests: a headless Chromium page (Debian's, never a downloaded one)."""

import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts"
# Every page and worker reports Content-Security-Policy violations to the console, where the
# fixture collects them (Chromium also logs its own "Refused to ..." line for each).
REPORT_CSP_VIOLATIONS = """
self.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
    + ` (${event.sourceFile || location.href}:${event.lineNumber})`);
});
"""


def is_csp_violation(text: str) -> bool:
    return text.startswith("CSP violation:") or "Content Security Policy" in text


def wait_for_function_without_eval(page, expression: str, *, arg=None, timeout=None, polling=None):
    """``Page.wait_for_function`` for pages with a Content-Security-Policy. Playwright's own runs
    the expression through the page's eval(), which the policy (rightly) forbids; this polls it
    as a function through ``page.evaluate`` (compiled by the DevTools protocol, not by eval). An
    expression that is a function is called with ``arg``, as Playwright does."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    check = f"(arg) => {{ const v = ({expression}); return typeof v === 'function' ? v(arg) : v; }}"
    interval = polling if isinstance(polling, int | float) else 100
    deadline = time.monotonic() + (15_000 if timeout is None else timeout) / 1000
    while True:
        if page.evaluate(check, arg):
            return None
        if timeout != 0 and time.monotonic() > deadline:
            raise PlaywrightTimeoutError(f"wait_for_function: timed out waiting for {expression!r}")
        page.wait_for_timeout(interval)


@pytest.fixture
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (git-ignored), for screenshots."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture
def media_on_disk(settings, tmp_path):
    """Uploaded files on disk under a temporary MEDIA_ROOT, so the live server can serve them
    (it serves MEDIA_URL from MEDIA_ROOT; the tests' in-memory storage is invisible to it)."""
    settings.MEDIA_ROOT = tmp_path
    on_disk = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}}
    settings.STORAGES = {**settings.STORAGES, "default": on_disk}
    return tmp_path


@pytest.fixture
def page(monkeypatch):
    """A Playwright page in headless Chromium, desktop-sized, with a 15 s default timeout. The
    test fails if any page of its context reports a Content-Security-Policy violation (they are
    also in ``page.context.csp_violations``).

    Request it after fixtures that touch the database: Playwright's sync API runs an event loop
    in this thread, and Django refuses ORM calls while one runs."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import Page, sync_playwright

    monkeypatch.setattr(Page, "wait_for_function", wait_for_function_without_eval)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(15_000)
        context.csp_violations = violations = []
        context.add_init_script(REPORT_CSP_VIOLATIONS)

        def collect(message):
            if is_csp_violation(message.text):
                violations.append(message.text)

        context.on("console", collect)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
        if violations:
            pytest.fail("Content-Security-Policy violations:\n" + "\n".join(dict.fromkeys(violations)))
