"""Replies and the pinned message in a real browser against a real ASGI server: a viewer asks, the
host replies (the reply quotes the question on both pages) and pins the answer for everyone,
then unpins it. Screenshot in test-artifacts/."""

import pytest

from tests.test_poll_browser import DEADLINE_MS, asgi_server, log_in, show  # noqa: F401 (fixtures)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_host_replies_to_a_question_and_pins_the_answer(
    show,  # noqa: F811 (the imported fixture)
    asgi_server,  # noqa: F811 (the imported fixture)
    page,
    artifacts_dir,
):
    from playwright.sync_api import expect

    event, host, (ada, _) = show
    show_path = f"/e/{event.organization.slug}/{event.slug}/"
    errors = []
    viewer = page.context.browser.new_context().new_page()
    for each, user in ((viewer, ada), (page, host)):
        each.on("pageerror", lambda error: errors.append(str(error)))
        log_in(each, asgi_server, user, show_path)
        expect(each.locator("#chat-state")).to_have_attribute("data-state", "open", timeout=DEADLINE_MS)

    viewer.get_by_label("Your message").fill("Is the jacket waterproof?")
    viewer.get_by_label("Your message").press("Enter")
    question = page.locator(".chat-message", has_text="Is the jacket waterproof?")
    expect(question).to_be_visible(timeout=DEADLINE_MS)
    question.get_by_role("button", name="Reply to Ada").click()
    expect(page.locator("#chat-replying")).to_contain_text("Replying to Ada")
    page.get_by_label("Your message").fill("Yes, fully taped seams.")
    page.get_by_label("Your message").press("Enter")
    answer = viewer.locator(".chat-message", has_text="fully taped seams")
    expect(answer.locator(".chat-quote")).to_have_text("Ada: Is the jacket waterproof?", timeout=DEADLINE_MS)
    expect(page.locator("#chat-replying")).to_be_hidden()

    own = page.locator(".chat-message", has_text="fully taped seams")
    own.locator("summary").click()
    own.get_by_role("button", name="Pin to the top").click()
    for each in (viewer, page):
        expect(each.locator("#chat-pinned")).to_contain_text("fully taped seams", timeout=DEADLINE_MS)
    viewer.screenshot(path=artifacts_dir / "chat-pinned-reply.png", full_page=True)
    page.get_by_role("button", name="Unpin the message").click()
    expect(viewer.locator("#chat-pinned")).to_be_hidden(timeout=DEADLINE_MS)
    assert errors == []
