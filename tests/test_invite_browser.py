"""An invite link in a real browser: the secret after "#" is posted by token_link.js (never sent
in a URL), the anonymous visitor asks for a one-time sign-in link, follows it in the same
browser, and lands on the private event's page. No request URL ever holds either secret."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import member
from events import invitations
from events.models import Invitation, InviteLink
from events.tests.factories import LiveEventFactory


def in_a_thread(read):
    """Run an ORM read off this thread (Django refuses it while Playwright's event loop runs)."""

    def call():
        try:
            return read()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def private_show(settings, live_server):
    settings.SITE_URL = live_server.url  # the links in e-mails point at the test server
    event = LiveEventFactory(is_private=True, title="VIP Early Access")
    host = member(event.organization)
    _, token = invitations.create_invite_link(
        event=event, by=host, expires_at=timezone.now() + timedelta(days=1), max_uses=2
    )
    return event, token


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_invited_customer_follows_the_link_signs_in_by_email_and_watches(
    live_server, private_show, page, artifacts_dir
):
    from playwright.sync_api import expect

    event, token = private_show
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}{reverse('viewer:invite')}#{token}")
    expect(page.get_by_role("heading", name="You're invited")).to_be_visible()
    expect(page.get_by_text("VIP Early Access")).to_be_visible()
    page.get_by_label("Your e-mail address").fill("vip@example.com")
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()

    [letter] = mail.outbox
    link = re.search(r"(http://\S+/signin/#(\S+))", letter.body)
    page.goto(link.group(1))
    expect(page.get_by_label("Code from your e-mail (the part of the link after “#”)")).to_be_hidden()
    assert "#" not in page.url  # taken out of the address bar and the history
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="VIP Early Access")).to_be_visible()
    assert page.url.endswith(
        reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})
    )
    page.screenshot(path=artifacts_dir / "invite-accepted.png")
    assert requested and not any(token in url or link.group(2) in url for url in requested)
    assert in_a_thread(lambda: Invitation.objects.get(event=event).user.email) == "vip@example.com"
    assert in_a_thread(lambda: InviteLink.objects.get(event=event).use_count) == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_host_invites_by_email_and_makes_an_invite_link_in_the_studio(
    live_server, private_show, client, page, artifacts_dir
):
    from playwright.sync_api import expect

    event, _ = private_show
    host = in_a_thread(lambda: event.organization.memberships.get().user)
    in_a_thread(lambda: client.force_login(host))
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])

    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    panel = page.locator("#invitations")
    panel.get_by_label("E-mail addresses").fill("ana@example.com, nope")
    panel.get_by_role("button", name="Invite", exact=True).click()
    expect(page.locator("#invitations")).to_contain_text("Not e-mail addresses: “nope”")
    page.locator("#invitations").get_by_label("E-mail addresses").fill("ana@example.com\nli@example.com")
    page.locator("#invitations").get_by_role("button", name="Invite", exact=True).click()
    expect(page.get_by_text("Invited 2 people.")).to_be_visible()

    panel = page.locator("#invitations")
    panel.get_by_label("Label").fill("Newsletter VIPs")
    panel.get_by_label("Number of uses").fill("25")
    panel.get_by_role("button", name="Create invite link").click()
    new_link = page.locator("#new-invite-link")
    expect(new_link).to_contain_text(f"{live_server.url}/i/#")
    expect(page.locator("#invitations")).to_contain_text("Newsletter VIPs")
    expect(page.locator("#invitations")).to_contain_text("0 / 25")
    page.locator("#invitations").screenshot(path=artifacts_dir / "invitations-panel.png")
    assert len(mail.outbox) == 2
