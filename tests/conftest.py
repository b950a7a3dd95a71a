"""Fixtures for the cross-app tests: a headless Chromium page (Debian's, never a downloaded one)."""

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
def page():
    """A Playwright page in headless Chromium, desktop-sized, with a 15 s default timeout.

    Request it after fixtures that touch the database: Playwright's sync API runs an event loop
    in this thread, and Django refuses ORM calls while one runs."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
