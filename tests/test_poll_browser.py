"""Polls in a real browser against a real ASGI server: the host opens a poll from the console, two
signed-in viewers see it and vote, both see the result (aggregated by the server), a second vote
is impossible, and the console shows the counts. Screenshots in test-artifacts/."""

import secrets

import pytest

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, UserFactory, member
from events.tests.factories import LiveEventFactory
from tests.asgi_server import start_asgi_server

DEADLINE_MS = 30_000  # a busy 2-core machine runs the server, three browser pages and the test


@pytest.fixture
def show():
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    host = member(brand, role=Membership.Role.HOST, username=f"host-{secrets.token_hex(3)}")
    viewers = [
        UserFactory(username=f"{name.lower()}-{secrets.token_hex(3)}", first_name=name, is_staff=False)
        for name in ("Ada", "Grace")
    ]
    # A random id: Redis pub/sub channels are shared with concurrent runs on the same server.
    event = LiveEventFactory(id=10**9 + secrets.randbelow(10**9), organization=brand, title="Trail Gear Live")
    return event, host, viewers


@pytest.fixture
def asgi_server(show, tmp_path):
    server = start_asgi_server(tmp_path)
    yield server
    server.stop()


def log_in(page, server, user, next_url):
    page.goto(f"{server.url}/login/?next={next_url}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_host_opens_a_poll_two_viewers_vote_and_both_see_the_result(
    show, asgi_server, page, artifacts_dir
):
    from playwright.sync_api import expect

    event, host, (ada, grace) = show
    show_path = f"/e/{event.organization.slug}/{event.slug}/"
    errors = []
    browser = page.context.browser
    viewers = [
        browser.new_context().new_page(),
        browser.new_context(viewport={"width": 390, "height": 844}).new_page(),
    ]
    for viewer_page, user in zip(viewers, (ada, grace), strict=True):
        viewer_page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(viewer_page, asgi_server, user, show_path)
        expect(viewer_page).to_have_url(f"{asgi_server.url}{show_path}")
        expect(viewer_page.locator("#chat-state")).to_have_attribute(
            "data-state", "open", timeout=DEADLINE_MS
        )

    log_in(page, asgi_server, host, f"/studio/events/{event.slug}/")
    form = page.locator("#poll-form")
    expect(form).to_be_visible(timeout=DEADLINE_MS)
    page.get_by_label("Question").fill("Which colour for the shell jacket?")
    page.get_by_label("Answer 1").fill("Forest green")
    page.get_by_label("Answer 2").fill("Slate blue")
    page.get_by_role("button", name="Open poll").click()
    expect(page.locator(".poll-row.is-open")).to_have_count(1, timeout=DEADLINE_MS)

    for viewer_page in viewers:
        expect(viewer_page.locator("#poll")).to_be_visible(timeout=DEADLINE_MS)
        expect(viewer_page.locator("#poll-question")).to_have_text("Which colour for the shell jacket?")
    viewers[0].get_by_role("button", name="Forest green").click()
    viewers[1].get_by_role("button", name="Slate blue").click()
    for viewer_page in viewers:
        expect(viewer_page.locator('[data-poll="meta"]')).to_contain_text("2 votes", timeout=DEADLINE_MS)
        expect(viewer_page.locator(".poll-option").first).to_contain_text("50%")
        expect(viewer_page.locator(".poll-option").first).to_be_disabled()  # voted: once each
    expect(viewers[0].locator('.poll-option[aria-pressed="true"]')).to_contain_text("Forest green")
    expect(page.locator(".poll-row.is-open [data-field=results]")).to_contain_text(
        "2 votes", timeout=DEADLINE_MS
    )
    viewers[0].screenshot(path=artifacts_dir / "poll-desktop-viewer.png", full_page=True)
    viewers[1].screenshot(path=artifacts_dir / "poll-phone-viewer.png", full_page=True)
    page.screenshot(path=artifacts_dir / "poll-console.png", full_page=True)

    page.get_by_role("button", name="Close now").click()
    for viewer_page in viewers:
        expect(viewer_page.locator('[data-poll="meta"]')).to_contain_text(
            "Final results", timeout=DEADLINE_MS
        )
    assert errors == []
