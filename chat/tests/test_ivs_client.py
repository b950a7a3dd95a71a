"""The pages' IVS Chat client (CHAT_BACKEND=ivs): signed-in people's viewer page loads the
amazon-ivs-chat-messaging SDK from our own static files (package.json's vendor:ivs-chat) and names
the token endpoint and region; the policy lets the page reach IVS Chat's messaging endpoint.
Anonymous visitors and the local backend load nothing of it."""

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from chat.gateway import get_chat_backend
from chat.tests.conftest import make_viewer

pytestmark = pytest.mark.django_db
SDK = "vendor/ivs-chat/amazon-ivs-chat-messaging.min.js"


@pytest.fixture
def chat_backend(settings):
    settings.IVS_REGION = "us-west-2"

    def use(name):
        settings.CHAT_BACKEND = name
        get_chat_backend.cache_clear()

    yield use
    get_chat_backend.cache_clear()


def watch(client, event):
    return client.get(reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug}))


def test_the_sdk_is_one_of_our_static_files():
    path = finders.find(SDK)
    assert path, "npm ci (package.json's vendor:ivs-chat) bundles the SDK into node_modules/.liveshop/"
    with open(path, encoding="utf-8") as bundle:
        text = bundle.read()
    assert "var IVSChat=" in text and "edge.ivschat." in text  # the global the page uses


def test_a_signed_in_viewers_page_chats_through_ivs_with_our_token_endpoint(client, event, chat_backend):
    chat_backend("ivs")
    client.force_login(make_viewer("Ada"))

    response = watch(client, event)

    page = response.content.decode()
    assert f'/static/{SDK}"' in page
    assert 'data-chat-backend="ivs"' in page and 'data-chat-region="us-west-2"' in page
    assert f'data-token-url="{reverse("chat:token", args=[event.pk])}"' in page
    assert "wss://edge.ivschat.us-west-2.amazonaws.com" in response["Content-Security-Policy"]


def test_anonymous_visitors_and_the_local_backend_load_none_of_it(client, event, chat_backend):
    chat_backend("ivs")
    anonymous = watch(client, event).content.decode()
    chat_backend("local")
    client.force_login(make_viewer("Ada"))
    local = watch(client, event)

    for page in (anonymous, local.content.decode()):
        assert SDK not in page and "data-chat-backend" not in page
    assert "ivschat" not in local["Content-Security-Policy"]
