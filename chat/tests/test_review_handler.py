"""IVS Chat's review handler: Liveshop's hook answers with post_message's verdict (ALLOW with the
cleaned text, stored; DENY with the reason, nothing stored, or stored held), only to a caller
with the webhook secret; the Lambda forwards to it through a real HTTP server and denies on any
failure."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.urls import reverse

from chat import rooms, services
from chat.gateway import get_chat_backend
from chat.models import BrandChatPolicy, ChatMessage
from deploy.ivschat_review import handler as review

pytestmark = pytest.mark.django_db
SECRET = "review-secret-for-tests"


@pytest.fixture
def ivs_room(settings, event):
    settings.CHAT_BACKEND = "fake"
    settings.LIVESHOP_WEBHOOK_SECRET = SECRET
    get_chat_backend.cache_clear()
    yield rooms.ensure_room(event)
    get_chat_backend.cache_clear()


def review_input(room, user, content):
    return {"Content": content, "MessageId": "abcdefABCDEF", "RoomArn": room, "Attributes": {},
            "Sender": {"UserId": str(user.pk), "Attributes": {}, "Ip": "203.0.113.9"}}  # fmt: skip


def ask(client, data, secret=SECRET):
    return client.post(
        reverse("chat:ivschat-review"), json.dumps(data), content_type="application/json",
        headers={"X-Liveshop-Webhook-Secret": secret},
    )  # fmt: skip


def test_a_good_message_is_allowed_cleaned_and_stored(client, ivs_room, viewer):
    answer = ask(client, review_input(ivs_room, viewer, "  hi\u200b\u200b there ")).json()
    message = ChatMessage.objects.get()
    assert answer == {"ReviewResult": "ALLOW", "Content": "hi there",
                      "Attributes": {"messageId": str(message.pk), "name": "Ada", "role": ""}}  # fmt: skip


def test_refused_and_held_messages_are_denied_with_the_reason(client, ivs_room, viewer, owner, brand):
    assert ask(client, review_input(ivs_room, viewer, "   ")).json()["Attributes"]["Reason"] == "empty"
    assert not ChatMessage.objects.exists()
    services.set_blocked_words(
        organization=brand, words="knockoff", action=BrandChatPolicy.WordAction.HOLD, by=owner
    )
    answer = ask(client, review_input(ivs_room, viewer, "a knockoff?")).json()
    assert answer == {"ReviewResult": "DENY", "Attributes": {"Reason": "held_for_review"}}
    assert ChatMessage.objects.get().held
    unknown = review_input("arn:aws:ivschat:us-west-2:1:room/nope", viewer, "hi")
    assert ask(client, unknown).json()["Attributes"]["Reason"] == "not_allowed"


def test_only_the_lambda_with_the_secret_and_a_review_input_is_answered(client, ivs_room, viewer):
    assert ask(client, review_input(ivs_room, viewer, "hi"), secret="wrong").status_code == 401
    assert ask(client, {"Content": "hi"}).status_code == 400
    assert ask(client, ["not", "an", "object"]).status_code == 400
    assert not ChatMessage.objects.exists()


class _Liveshop(BaseHTTPRequestHandler):
    answer = b""
    seen = []

    def do_POST(self):
        self.seen.append(
            (
                self.headers["X-Liveshop-Webhook-Secret"],
                json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
            )
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def liveshop(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Liveshop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LIVESHOP_REVIEW_URL", f"http://127.0.0.1:{server.server_port}/hooks/ivschat/review/")
    monkeypatch.setenv("LIVESHOP_WEBHOOK_SECRET", SECRET)
    _Liveshop.seen = []
    yield _Liveshop
    server.shutdown()


def test_the_lambda_forwards_with_the_secret_and_returns_liveshops_answer(liveshop):
    liveshop.answer = b'{"ReviewResult": "ALLOW", "Content": "hi"}'
    event = {"Content": "hi", "RoomArn": "arn", "Sender": {"UserId": "1"}}
    assert review.handler(event) == {"ReviewResult": "ALLOW", "Content": "hi"}
    assert liveshop.seen == [(SECRET, event)]


def test_the_lambda_denies_on_a_wrong_answer_or_no_answer(liveshop, monkeypatch):
    liveshop.answer = b"<html>proxy error</html>"
    assert review.handler({"Content": "hi"}) == review.DENY
    monkeypatch.setenv("LIVESHOP_REVIEW_URL", "http://127.0.0.1:9/")  # nothing listens there
    assert review.handler({"Content": "hi"}) == review.DENY


def test_the_stacks_review_lambda_is_this_handler_word_for_word_and_ivs_chat_may_call_it():
    from pathlib import Path

    import yaml

    from tests.test_deploy import TEMPLATE, CloudFormationLoader

    stack = yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)  # noqa: S506 (a SafeLoader)
    resources = stack["Resources"]
    function = resources["ChatReviewFunction"]
    assert function["Properties"]["Code"]["ZipFile"] == Path(review.__file__).read_text()
    assert function["Properties"]["Environment"]["Variables"]["LIVESHOP_REVIEW_URL"] == {
        "Fn::Sub": "${AppUrl}/hooks/ivschat/review/"
    }
    assert resources["ChatReviewPermission"]["Properties"]["Principal"] == "ivschat.amazonaws.com"
    logging = resources["ChatLoggingConfiguration"]["Properties"]["DestinationConfiguration"]
    assert logging == {"S3": {"BucketName": {"Ref": "ChatLogsBucket"}}}
    assert all(
        resources[name]["Condition"] == "IvsChat"
        for name in ("ChatReviewFunction", "ChatLoggingConfiguration")
    )
