"""The replay and video pages' stock socket (/ws/stock/?products=...): the products' stock on
connect, then their brand's stock frames; refused when none of its products is on sale."""

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from catalog.variants import stock_changed_on_commit
from events.consumers import CLOSE_NOT_FOUND
from events.realtime.hub import get_hub
from liveshop.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10


async def open_socket(query: str):
    communicator = WebsocketCommunicator(
        application, f"/ws/stock/?{query}", headers=[(b"origin", b"http://localhost")]
    )
    communicator.scope["client"] = ("203.0.113.30", 5000)
    communicator.scope["user"] = AnonymousUser()
    connected, code = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected, code


@database_sync_to_async
def restock(product, stock):
    with transaction.atomic():
        Variant.objects.filter(product=product).update(stock=stock)
        stock_changed_on_commit([product.pk])


async def test_a_page_gets_its_products_stock_then_every_change():
    product = await database_sync_to_async(ProductFactory)(stock=0)
    socket, connected, _ = await open_socket(f"products={product.pk},nonsense,{product.pk}")
    assert connected

    snapshot = json.loads(await socket.receive_from(timeout=TIMEOUT))
    assert snapshot["type"] == "stock" and [p["inStock"] for p in snapshot["products"]] == [False]

    await restock(product, 4)
    while (frame := json.loads(await socket.receive_from(timeout=TIMEOUT)))["type"] != "stock":
        pass
    assert frame["products"][0] == {
        "id": product.pk,
        "inStock": True,
        "left": 4,
        "variants": [{"id": snapshot["products"][0]["variants"][0]["id"], "inStock": True, "left": 4}],
    }
    await socket.disconnect()


@pytest.mark.parametrize("query", ["", "products=", "products=abc", "products=999999999", "inactive"])
async def test_a_socket_with_no_product_on_sale_is_refused(query):
    if query == "inactive":
        product = await database_sync_to_async(ProductFactory)(is_active=False)
        query = f"products={product.pk}"

    socket, connected, code = await open_socket(query)
    await socket.disconnect()
    await hub_subscribed()

    assert not connected and code == CLOSE_NOT_FOUND


async def hub_subscribed():
    """Wait until this loop's hub (started by the refused connect's rate limit) has its Redis
    subscription: a hub cancelled in the middle of its first SUBSCRIBE hangs the loop's close."""
    deadline = time.monotonic() + TIMEOUT
    while not get_hub()._heard and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
