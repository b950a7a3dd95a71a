"""The stock socket of replay and video pages (``/ws/stock/?products=1,2,3``): read-only, the
products' stock on connect, then every ``stock`` frame of their brands (events.realtime.stock).

Replay and video pages have no event socket; this one follows the brand's stock topic, so one
publish per change reaches every replay of the brand, however many videos there are (a topic per
video would cost a publish per video showing the product). It sends only what every card shows
(in stock, "only N left") for active products, so it reads no user and checks nothing more; a
page ignores the products it does not show."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from catalog.models import Product
from events.consumers import CLOSE_NOT_FOUND, CLOSE_RATE_LIMITED, HubConsumer, client_ip
from events.payloads import stock_payload
from events.realtime.hub import get_hub
from events.realtime.stock import stock_topic
from events.realtime.uvicorn_fast_path import frame_writer

MAX_PRODUCTS = 100  # a page lists far fewer; more is not a page


def product_ids(query_string: bytes) -> list[int]:
    """The ``products`` parameter's ids (comma-separated; anything else is ignored)."""
    values = parse_qs(query_string.decode("latin-1")).get("products", [""])[0]
    ids = dict.fromkeys(int(part) for part in values.split(",") if part.strip().isdigit())
    return list(ids)[:MAX_PRODUCTS]


def brands_of(ids: list[int]) -> list[int]:
    """The brands of the active products among ``ids``."""
    products = Product.objects.filter(pk__in=ids, is_active=True).order_by()
    return sorted(set(products.values_list("organization_id", flat=True)))


def stock_snapshot(ids: list[int]) -> dict:
    """The ``stock`` frame of the active products among ``ids``, now."""
    products = Product.objects.filter(pk__in=ids, is_active=True).prefetch_related("variants")
    return {"type": "stock", "products": [stock_payload(product) for product in products]}


class StockConsumer(HubConsumer):
    """A replay or video page's stock: nobody's audience (no viewer count), nothing it sends is
    read. Closed 4404 when none of its products is on sale."""

    counts_as_viewer = False
    event_id = 0  # not an event's socket

    async def connect(self):
        self._pending, self.topics = [], []
        self.product_ids = product_ids(self.scope.get("query_string", b""))
        hub = get_hub()
        limit, window = settings.LIVESHOP_WS_CONNECT_LIMIT, settings.LIVESHOP_WS_CONNECT_WINDOW
        if not await hub.allow_connection(client_ip(self.scope), limit, window):
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        brands = await database_sync_to_async(brands_of)(self.product_ids)
        if not brands:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.topics = [stock_topic(brand) for brand in brands]
        for topic in self.topics:  # joined before the snapshot is read: frames wait in _pending
            await hub.join(topic, self)
        await self.accept()
        self._frame_writer = frame_writer(self.base_send)
        await self.send_snapshot(await self.snapshot())

    async def disconnect(self, code):
        for topic in self.topics:
            await get_hub().leave(topic, self)

    async def snapshot(self, shared: dict | None = None) -> dict:
        key = ("stock", tuple(self.product_ids))
        if shared is not None and key in shared:
            return shared[key]
        frame = await database_sync_to_async(stock_snapshot)(self.product_ids)
        if shared is not None:
            shared[key] = frame
        return frame

    async def send_snapshot(self, snapshot: dict) -> None:
        await self.base_send({"type": "websocket.send", "text": json.dumps(snapshot, separators=(",", ":"))})
        pending, self._pending = self._pending or [], None
        for text in pending:
            await self.base_send({"type": "websocket.send", "text": text})
        self.write_frame = self._frame_writer
