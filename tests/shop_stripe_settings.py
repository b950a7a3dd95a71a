"""Settings of a test server whose Stripe API is a local fake (tests/test_shop_browser.py, the
Payment Element test): the test settings, with the stripe library's API base pointed at
LIVESHOP_TEST_STRIPE_API, so nothing reaches the network."""

import os

import stripe._stripe_client

from liveshop.settings.test import *  # noqa: F403

stripe._stripe_client.DEFAULT_API_BASE = os.environ["LIVESHOP_TEST_STRIPE_API"]
