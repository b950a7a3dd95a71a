"""Stock pushed after commit (events.realtime.stock): a checkout's reservation reaches the event's
viewers, host consoles and replay pages' sockets within a second; a rolled-back one reaches
nobody; a hot product is coalesced to one frame per window across processes, its last state
always delivered. Real PostgreSQL, Redis pub/sub and the per-process hub."""

import json
import time
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from commerce import services
from commerce.exceptions import SoldOut
from commerce.models import Cart
from events.models import EventProduct
from events.realtime import stock as stock_push
from events.tests.factories import LiveEventFactory
from events.tests.test_consumers import connect, connect_studio, next_of_type
from liveshop.asgi import application

TIMEOUT = 10
PUSH_DEADLINE = 1.0  # seconds from commit to the viewer's frame


@database_sync_to_async
def make_show(stock=1, organization=None):
    event = LiveEventFactory(**({"organization": organization} if organization else {}))
    product = ProductFactory(organization=event.organization, name="Trail Runner 2", stock=stock)
    EventProduct.objects.create(event=event, product=product)
    return event, product, product.variants.get()


@database_sync_to_async
def buy(variant, quantity=1):
    cart = Cart.objects.create(organization_id=variant.organization_id)
    services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=quantity)
    return services.start_checkout(cart=cart, email="buyer@example.com")[0]


async def frames_of_type(communicator, message_type, seconds):
    """The frames of ``message_type`` received within ``seconds``."""
    found, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await communicator.receive_nothing(timeout=0.05):  # (a timed-out receive_from ends the app)
            continue
        message = json.loads(await communicator.receive_from())
        if message["type"] == message_type:
            found.append(message)
    return found


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("payment_backend")
async def test_a_checkout_pushes_sold_out_to_viewers_consoles_and_replay_pages_within_a_second(brand, host):
    event, product, variant = await make_show(stock=1, organization=brand)
    viewer, _ = await connect(event.pk)
    snapshot = json.loads(await viewer.receive_from(timeout=TIMEOUT))
    assert snapshot["stock"] == [  # the lineup's stock: a reconnect catches up on missed frames
        {
            "id": product.pk,
            "inStock": True,
            "left": 1,
            "variants": [{"id": variant.pk, "inStock": True, "left": 1}],
        }
    ]
    console, _ = await connect_studio(event.pk, host)
    snapshot = await next_of_type(console, "studio_snapshot")
    assert snapshot["stock"] == [
        {
            "id": product.pk,
            "inStock": True,
            "left": 1,
            "stock": 1,
            "variants": [{"id": variant.pk, "inStock": True, "left": 1, "stock": 1}],
        }
    ]
    replay = await connect_stock_socket(product.pk)
    assert json.loads(await replay.receive_from(timeout=TIMEOUT))["products"][0]["inStock"] is True

    await buy(variant)
    committed = time.monotonic()

    frame = await next_of_type(viewer, "stock")
    assert time.monotonic() - committed < PUSH_DEADLINE
    sold_out = {
        "id": product.pk,
        "inStock": False,
        "left": None,
        "variants": [{"id": variant.pk, "inStock": False, "left": None}],
    }
    assert frame == {"type": "stock", "products": [sold_out]}
    levels = await next_of_type(console, "stock_levels")
    assert levels["products"][0]["stock"] == 0 and levels["products"][0]["variants"][0]["stock"] == 0
    assert await next_of_type(replay, "stock") == frame
    for communicator in (viewer, console, replay):
        await communicator.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("payment_backend")
async def test_a_rolled_back_reservation_pushes_nothing():
    event, _, plenty = await make_show(stock=5)
    scarce = await database_sync_to_async(
        lambda: ProductFactory(organization=event.organization, stock=0).variants.get()
    )()
    viewer, _ = await connect(event.pk)
    await viewer.receive_from(timeout=TIMEOUT)  # its snapshot

    def buy_both():  # takes the plenty variant first (id order), then finds the scarce one sold out
        cart = Cart.objects.create(organization_id=event.organization_id)
        services.add_to_cart(cart=cart, variant_id=plenty.pk)
        services.add_to_cart(cart=cart, variant_id=scarce.pk)
        services.start_checkout(cart=cart, email="buyer@example.com")

    with pytest.raises(SoldOut):
        await database_sync_to_async(buy_both)()

    assert await frames_of_type(viewer, "stock", 3 * stock_push.WINDOW) == []
    assert await database_sync_to_async(lambda: Variant.objects.get(pk=plenty.pk).stock)() == 5
    await viewer.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("payment_backend")
async def test_a_hot_product_sends_one_frame_per_window_and_its_last_state():
    event, _, variant = await make_show(stock=30)
    viewer, _ = await connect(event.pk)
    await viewer.receive_from(timeout=TIMEOUT)

    started = time.monotonic()
    for _ in range(20):  # 20 sales as fast as checkout goes
        await buy(variant)
    elapsed = time.monotonic() - started

    frames = await frames_of_type(viewer, "stock", 8 * stock_push.WINDOW)  # generous: a busy machine
    assert 1 <= len(frames) <= elapsed / stock_push.WINDOW + 2
    # Fewer frames than sales, unless the sales were slower than a window each (a starved machine).
    assert len(frames) < 20 or elapsed > 20 * stock_push.WINDOW
    assert frames[-1]["products"][0]["left"] == 10  # the last state: 30 - 20, at the threshold
    await viewer.disconnect()


@pytest.mark.parametrize("processes", [2, 1])
def test_processes_selling_one_product_share_its_window_and_the_last_state_goes_out(
    monkeypatch, settings, processes
):
    """Two pushers (two web processes) on the test Redis, or one without Redis (the demo): ~100
    changes/s of one product make at most one publish per window, and one after the last change."""
    if processes == 1:
        settings.REDIS_URL = ""
    published: list[float] = []
    monkeypatch.setattr(stock_push, "publish_stock", lambda ids: published.append(time.monotonic()))
    product_id = 9_000_000 + int(time.time() * 1000) % 1_000_000  # a window key no other test uses
    pushers = [stock_push.StockPusher() for _ in range(processes)]

    for n in range(100):
        pushers[n % processes].changed({product_id})
        last_change = time.monotonic()  # before the sleep: a publish in it carries this change
        time.sleep(0.01)
    deadline = last_change + 40 * stock_push.WINDOW  # generous: a busy machine
    while time.monotonic() < deadline and not (published and published[-1] >= last_change):
        time.sleep(0.02)
    time.sleep(2 * stock_push.WINDOW)  # nothing more should come

    span = published[-1] - published[0]
    assert published[-1] >= last_change  # the state after the last change went out
    assert len(published) <= span / (stock_push.WINDOW * 0.9) + 1  # one per window at most
    assert all(not pusher._pending for pusher in pushers)


def test_a_failed_push_is_tried_again_a_window_later(monkeypatch, settings):
    settings.REDIS_URL = ""
    calls: list[float] = []

    def publish(ids):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("the database is restarting")

    monkeypatch.setattr(stock_push, "publish_stock", publish)
    pusher = stock_push.StockPusher()
    pusher.changed({1})
    deadline = time.monotonic() + 10 * stock_push.WINDOW
    while time.monotonic() < deadline and (len(calls) < 2 or pusher._pending):
        time.sleep(0.02)

    assert len(calls) == 2 and calls[1] - calls[0] >= 0.9 * stock_push.WINDOW
    assert not pusher._pending


def test_the_take_statement_names_the_variant_table():
    # commerce.stock writes its UPDATEs by hand (they return the product in the same statement).
    assert Variant._meta.db_table == "catalog_variant"


@pytest.mark.django_db
def test_the_console_lists_each_lineup_variants_stock(host_client, event, brand):
    product = event.lineup.get().product
    product.variants.update(stock=3)
    Variant.objects.create(organization=brand, product=product, sku="XL-1", label="XL", stock=0)
    Variant.objects.create(
        organization=brand, product=product, sku="S-1", label="S", stock=40, price_override=Decimal(1)
    )

    page = host_client.get(f"/studio/events/{event.slug}/?brand={brand.slug}").content.decode()

    assert f'data-stock-of="{product.pk}"' in page
    assert ">3 left<" in page and ">XL: Sold out<" in page and ">S: 40 in stock<" in page


async def connect_stock_socket(*product_ids):
    ids = ",".join(str(pk) for pk in product_ids)
    communicator = WebsocketCommunicator(
        application, f"/ws/stock/?products={ids}", headers=[(b"origin", b"http://localhost")]
    )
    communicator.scope["client"] = ("203.0.113.11", 5000)
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    return communicator
