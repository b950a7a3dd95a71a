"""The test settings with the pages' chat going through a local stand-in for IVS Chat's messaging
endpoint (chat/tests/test_ivs_browser.py starts it and names it in TEST_IVS_CHAT_URL)."""

import os

from liveshop.settings.test import *  # noqa: F403

CHAT_BACKEND = "chat.tests.test_ivs_browser.RelayChatBackend"
IVS_CHAT_MESSAGING_URL = os.environ["TEST_IVS_CHAT_URL"]
LIVESHOP_WEBHOOK_SECRET = "ivs-browser-secret"
