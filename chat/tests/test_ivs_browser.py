"""The pages' IVS Chat client in a real browser: the viewer page loads amazon-ivs-chat-messaging
from our static files, gets a token from our endpoint and connects to a local stand-in for IVS
Chat's messaging endpoint (no network to AWS), which asks our review hook about each message as
the review Lambda does. A viewer's message goes through the room and reaches an anonymous page;
a denied one shows our reason; a moderator's hide is mirrored into the room (DeleteMessage with
the id IVS gave the message) and the room's messageDelete removes it; a ban reaches her open page
at once and its composer says so."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import urllib.request
from datetime import UTC, datetime

import pytest

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, UserFactory, member
from chat.gateway.fake import FakeChatBackend
from chat.models import ChatMessage, ChatRoom
from events.tests.factories import LiveEventFactory
from tests.asgi_server import start_asgi_server
from tests.conftest import artifacts_dir, page  # noqa: F401 (fixtures)
from tests.media import free_port, wait_for

DEADLINE_MS = 30_000
ROOM = "arn:aws:ivschat:us-west-2:123456789012:room/LiveshopTest1"
SECRET = "ivs-browser-secret"


class RelayChatBackend(FakeChatBackend):
    """The server's chat backend in this test: the fake (its rooms include the show's, made by the
    test), whose DeleteMessage reaches the stand-in."""

    def __init__(self) -> None:
        super().__init__()
        self.rooms.add(ROOM)

    def create_token(self, room_id, user_id, **kwargs):
        # An hour, as IVS answers (the fake's 2030 would overflow the SDK's reconnect timer).
        from datetime import timedelta

        from chat.gateway import ChatToken

        token = super().create_token(room_id, user_id, **kwargs)
        soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        return ChatToken(token.token, soon, soon)

    def delete_message(self, room_id: str, message_id: str, reason: str) -> None:
        import os

        from websockets.sync.client import connect

        super().delete_message(room_id, message_id, reason)
        with connect(os.environ["TEST_IVS_CHAT_URL"] + "/delete") as stand_in:
            stand_in.send(json.dumps({"id": message_id, "reason": reason}))
            stand_in.recv(timeout=5)  # done


class MessagingStandIn:
    """IVS Chat's messaging websocket, as the SDK speaks it: SEND_MESSAGE is reviewed by our hook
    (as the Lambda does), then MESSAGE to every client or ERROR 406 to the sender; a frame
    on /delete (from RelayChatBackend) is aws:DELETE_MESSAGE to every client."""

    def __init__(self, sender_id: int):
        self.port, self.sender_id, self.review_url = free_port(), sender_id, ""
        self.clients: set = set()
        self.deleted: list[dict] = []
        self.reviewed: list[dict] = []
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.start(), self.loop).result(10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        from websockets.asyncio.server import serve

        self.server = await serve(
            self.handle, "127.0.0.1", self.port,
            select_subprotocol=lambda connection, protocols: protocols[0] if protocols else None,
        )  # fmt: skip

    async def handle(self, connection) -> None:
        if connection.request.path == "/delete":
            order = json.loads(await connection.recv())
            await self.delete(order["id"], order["reason"])
            await connection.send("done")
            return
        self.clients.add(connection)
        try:
            async for text in connection:
                await self.on_request(connection, json.loads(text))
        finally:
            self.clients.discard(connection)

    async def on_request(self, connection, request: dict) -> None:
        message_id = secrets.token_hex(6)
        review = {"Content": request["Content"], "MessageId": message_id, "RoomArn": ROOM,
                  "Attributes": request.get("Attributes") or {},
                  "Sender": {"UserId": str(self.sender_id), "Attributes": {}, "Ip": "127.0.0.1"}}  # fmt: skip
        answer = await asyncio.to_thread(self.ask, review)
        self.reviewed.append({"id": message_id, **answer})
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        if answer["ReviewResult"] == "DENY":
            await connection.send(json.dumps({"Type": "ERROR", "Id": secrets.token_hex(6),
                "RequestId": request["RequestId"], "ErrorCode": 406,
                "ErrorMessage": f"Message denied: {answer['Attributes']['Reason']}"}))  # fmt: skip
            return
        for client in list(self.clients):
            frame = {"Type": "MESSAGE", "Id": message_id, "Content": answer["Content"], "SendTime": now,
                     "Sender": {"UserId": str(self.sender_id), "Attributes": {}},
                     "Attributes": answer["Attributes"]}  # fmt: skip
            if client is connection:
                frame["RequestId"] = request["RequestId"]
            await client.send(json.dumps(frame))

    def ask(self, review: dict) -> dict:
        request = urllib.request.Request(  # noqa: S310 (our own server's URL)
            self.review_url, data=json.dumps(review).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-Liveshop-Webhook-Secret": SECRET},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    async def delete(self, message_id: str, reason: str) -> None:
        self.deleted.append({"id": message_id, "reason": reason})
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        event = {"Type": "EVENT", "Id": secrets.token_hex(6), "EventName": "aws:DELETE_MESSAGE",
                 "SendTime": now, "Attributes": {"MessageID": message_id, "Reason": reason}}  # fmt: skip
        for client in list(self.clients):
            await client.send(json.dumps(event))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)


@pytest.fixture
def show():
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    moderator = member(brand, role=Membership.Role.MODERATOR, username=f"mod-{secrets.token_hex(3)}")
    ada = UserFactory(username=f"ada-{secrets.token_hex(3)}", first_name="Ada", is_staff=False)
    # A random id: Redis pub/sub channels are shared with concurrent runs on the same server.
    event = LiveEventFactory(id=10**9 + secrets.randbelow(10**9), organization=brand, title="Trail Gear Live")
    ChatRoom.objects.create(event=event, backend_room_id=ROOM)  # the show's room in "IVS Chat"
    from chat import services

    services.set_blocked_words(organization=brand, words="knockoff", by=moderator)
    return event, moderator, ada


@pytest.fixture
def stand_in(show):
    server = MessagingStandIn(sender_id=show[2].pk)
    yield server
    server.close()


@pytest.fixture
def asgi_server(show, stand_in, tmp_path):
    server = start_asgi_server(
        tmp_path,
        env={"DJANGO_SETTINGS_MODULE": "chat.tests.ivs_browser_settings", "TEST_IVS_CHAT_URL": stand_in.url},
    )
    stand_in.review_url = f"{server.url}/hooks/ivschat/review/"
    yield server
    server.stop()


def in_thread(query):
    """``query()`` in a thread of its own: Playwright's loop runs in this one, and Django refuses
    ORM calls where a loop runs."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def run():
        try:
            return query()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def log_in(tab, server, user, next_url):
    tab.goto(f"{server.url}/login/?next={next_url}")
    tab.get_by_label("Username").fill(user.username)
    tab.get_by_label("Password").fill("pw-for-tests")
    tab.get_by_role("button", name="Log in").click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_viewer_chats_through_the_ivs_room_and_a_hide_is_mirrored_into_it(
    show,
    stand_in,
    asgi_server,
    page,  # noqa: F811 (tests/conftest.py's fixture)
    artifacts_dir,  # noqa: F811
):
    from playwright.sync_api import expect

    event, moderator, ada = show
    show_path = f"/e/{event.organization.slug}/{event.slug}/"
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    console = []
    page.on("console", lambda message: console.append(message.text))
    browser = page.context.browser
    anonymous = browser.new_context().new_page()
    staff = browser.new_context().new_page()
    sdk = []
    page.on("request", lambda request: sdk.append(request.url) if "ivs-chat" in request.url else None)

    log_in(page, asgi_server, ada, show_path)
    try:
        expect(page.locator("#chat")).to_have_attribute("data-chat-via", "ivs", timeout=DEADLINE_MS)
    except AssertionError:
        print("\n".join(console))
        raise
    assert sdk and all(url.startswith(asgi_server.url + "/static/vendor/ivs-chat/") for url in sdk)
    anonymous.goto(asgi_server.url + show_path)
    log_in(staff, asgi_server, moderator, show_path)

    box = page.get_by_label("Your message")
    box.fill("Is the rose one waterproof?")
    box.press("Enter")
    for viewer in (page, anonymous, staff):
        expect(viewer.locator(".chat-message", has_text="rose one waterproof")).to_be_visible(
            timeout=DEADLINE_MS
        )
    expect(box).to_have_value("", timeout=DEADLINE_MS)
    message = in_thread(lambda: ChatMessage.objects.get(body="Is the rose one waterproof?"))
    assert message.backend_message_id == stand_in.reviewed[0]["id"]  # IVS's id, from its review

    box.fill("is this a knockoff?")
    box.press("Enter")
    expect(page.locator("#chat-error")).to_have_text(
        "Your message contains a word this chat does not allow.", timeout=DEADLINE_MS
    )
    assert not in_thread(ChatMessage.objects.filter(body__contains="knockoff").exists)

    staff_line = staff.locator(".chat-message", has_text="rose one waterproof")
    staff_line.get_by_label("Moderate the message from Ada").click()
    staff_line.get_by_role("button", name="Hide message").click()
    for viewer in (page, anonymous, staff):
        expect(viewer.locator(".chat-message", has_text="rose one waterproof")).to_have_count(
            0, timeout=DEADLINE_MS
        )
    # The stand-in notes the delete on its own thread: our socket's hide can reach pages first.
    wait_for(lambda: stand_in.deleted, what="IVS's delete of the hidden message")
    assert stand_in.deleted == [{"id": message.backend_message_id, "reason": "Removed by a moderator"}]

    # A ban reaches her open page at once (chat_removed on our socket): the composer says so, and
    # her next attempt is refused with the same sentence.
    box.fill("one more thing")
    box.press("Enter")
    staff_line = staff.locator(".chat-message", has_text="one more thing")
    expect(staff_line).to_be_visible(timeout=DEADLINE_MS)
    staff.on("dialog", lambda dialog: dialog.accept())
    staff_line.get_by_label("Moderate the message from Ada").click()
    staff_line.get_by_role("button", name="Ban from the brand's chats").click()
    expect(page.locator("#chat-error")).to_have_text(
        "You were removed from chat by a moderator.", timeout=DEADLINE_MS
    )
    page.locator("#chat-error").evaluate("(box) => { box.hidden = true; }")
    box.fill("but why?")
    box.press("Enter")  # refused by the socket itself, with the same sentence; the draft stays
    expect(page.locator("#chat-error")).to_have_text(
        "You were removed from chat by a moderator.", timeout=DEADLINE_MS
    )
    expect(box).to_have_value("but why?")
    page.screenshot(path=str(artifacts_dir / "chat-ivs-client.png"))
    assert errors == []
