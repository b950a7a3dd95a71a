"""Chat in a real browser against a real ASGI server: a viewer signs up from the show and posts; a
second, anonymous viewer sees it and taps reactions (the first sees the total); the brand's
moderator hides the message (gone from every page) and times the viewer out, whose next message
is refused with the reason. Screenshots in test-artifacts/."""

import secrets

import pytest

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from events.tests.factories import LiveEventFactory
from tests.asgi_server import start_asgi_server

DEADLINE_MS = 20_000  # a busy 2-core machine runs the server, three browser pages and the test
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def show():
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    moderator = member(brand, role=Membership.Role.MODERATOR, username=f"mod-{secrets.token_hex(3)}")
    # A random id: Redis pub/sub channels are shared with concurrent runs on the same server.
    event = LiveEventFactory(
        id=10**9 + secrets.randbelow(10**9), organization=brand, title="Spring Trail Gear Live"
    )
    return event, moderator


@pytest.fixture
def asgi_server(show, tmp_path):
    server = start_asgi_server(tmp_path)
    yield server
    server.stop()


def chat_texts(page) -> list[str]:
    return page.evaluate("window.liveshopChat ? window.liveshopChat.messages().map((m) => m.text) : []")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_viewer_signs_up_and_chats_and_a_moderator_hides_and_times_out(
    show, asgi_server, page, artifacts_dir
):
    from playwright.sync_api import expect

    event, moderator = show
    show_url = f"{asgi_server.url}/e/{event.organization.slug}/{event.slug}/"
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    browser = page.context.browser
    anonymous = browser.new_context(viewport=PHONE).new_page()
    staff = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()

    # An anonymous viewer reads, and is offered a sign-up that brings them back.
    anonymous.goto(show_url)
    expect(anonymous.get_by_role("link", name="Sign up to chat")).to_be_visible()
    expect(anonymous.locator("#chat-form")).to_have_count(0)

    page.goto(show_url)
    page.get_by_role("link", name="Sign up to chat").click()
    page.get_by_label("E-mail").fill(f"ada-{secrets.token_hex(3)}@example.com")
    page.get_by_label("Display name").fill("Ada")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(show_url)
    expect(page.locator("#chat-state")).to_have_attribute("data-state", "open", timeout=DEADLINE_MS)

    message_box = page.get_by_label("Your message")
    message_box.fill("Does the shell jacket come in <b>green</b>?")
    message_box.press("Enter")
    ada_line = page.locator(".chat-message", has_text="Does the shell jacket come in <b>green</b>?")
    expect(ada_line).to_be_visible(timeout=DEADLINE_MS)
    expect(message_box).to_have_value("")
    expect(anonymous.locator(".chat-message", has_text="shell jacket")).to_be_visible(timeout=DEADLINE_MS)
    assert anonymous.locator(".chat-body b").count() == 0  # shown as text, never as HTML
    # Reactions: taps float at once; everyone gets the show's totals within a second or so.
    for _ in range(3):
        anonymous.get_by_role("button", name="Love it").click()
    expect(page.locator('[data-total="heart"]')).to_have_text("3", timeout=DEADLINE_MS)
    anonymous.screenshot(path=artifacts_dir / "chat-phone-anonymous.png", full_page=True)

    # The moderator logs in and comes to the show: each message has a moderation menu.
    staff.goto(f"{asgi_server.url}/login/?next=/e/{event.organization.slug}/{event.slug}/")
    staff.get_by_label("Username").fill(moderator.username)
    staff.get_by_label("Password").fill("pw-for-tests")
    staff.get_by_role("button", name="Log in").click()
    expect(staff).to_have_url(show_url)
    staff_line = staff.locator(".chat-message", has_text="shell jacket")
    expect(staff_line).to_be_visible(timeout=DEADLINE_MS)
    staff.get_by_label("Your message").fill(
        "Yes! Forest green, sizes S-XL: https://shop.example.com/nw-jkt-001"
    )
    staff.get_by_label("Your message").press("Enter")
    staff_reply = page.locator(".chat-message.is-staff", has_text="Forest green")
    expect(staff_reply).to_be_visible(timeout=DEADLINE_MS)
    expect(staff_reply.locator(".badge")).to_have_text("Moderator")
    expect(staff_reply.get_by_role("link")).to_have_attribute("href", "https://shop.example.com/nw-jkt-001")
    page.screenshot(path=artifacts_dir / "chat-desktop-viewer.png", full_page=True)

    staff_line.get_by_label("Moderate the message from Ada").click()
    staff.screenshot(path=artifacts_dir / "chat-desktop-moderator-menu.png")
    staff_line.get_by_role("button", name="Hide message").click()
    for viewer_page in (page, anonymous, staff):
        expect(viewer_page.locator(".chat-message", has_text="shell jacket")).to_have_count(
            0, timeout=DEADLINE_MS
        )

    # Time Ada out through one of her later messages: her next post is refused with the reason.
    message_box.fill("Hello again")
    message_box.press("Enter")
    line = staff.locator(".chat-message", has_text="Hello again")
    expect(line).to_be_visible(timeout=DEADLINE_MS)
    line.get_by_label("Moderate the message from Ada").click()
    line.get_by_role("button", name="Time out 5 minutes").click()
    expect(staff.locator("#chat-notice")).to_have_text("Timed out for 5 minutes.", timeout=DEADLINE_MS)
    message_box.fill("Why?")
    message_box.press("Enter")
    expect(page.locator("#chat-error")).to_contain_text("You are timed out", timeout=DEADLINE_MS)
    expect(message_box).to_have_value("Why?")  # kept, to send later
    page.screenshot(path=artifacts_dir / "chat-desktop-timed-out.png", full_page=True)
    assert chat_texts(anonymous) == [
        "Yes! Forest green, sizes S-XL: https://shop.example.com/nw-jkt-001",
        "Hello again",
    ]
    assert errors == []
