"""Suggestions travel on the host consoles' socket only: a console of the event gets the
``discovery_suggestion`` and ``discovery_status`` frames, a viewer of the same event never does."""

import json

import numpy as np
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from discovery import services
from discovery.detectors import get_detector
from discovery.detectors.base import Detection
from events.models import EventProduct
from events.tests.factories import LiveNowEventFactory
from liveshop.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10


async def connect(path, user):
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
    communicator.scope["client"] = ("203.0.113.30", 1)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    return communicator


async def next_of_type(communicator, message_type):
    while True:
        message = json.loads(await communicator.receive_from(timeout=TIMEOUT))
        if message["type"] == message_type:
            return message


@database_sync_to_async
def live_show():
    event = LiveNowEventFactory()
    product = ProductFactory(organization=event.organization, name="Blue mug")
    EventProduct.objects.create(event=event, product=product)
    return event, product, member(event.organization, role=Membership.Role.HOST)


@database_sync_to_async
def two_frames(event, product):
    detector = get_detector()
    detector.answers = [[Detection(product.pk, 0.8, (0.1, 0.2, 0.3, 0.4), True)]]
    tracker = services.new_tracker()
    frame = np.zeros((270, 480, 3), np.uint8)
    for second in range(2):
        services.analyse_frame(
            event=event, frame=frame, tracker=tracker, now=float(second), at=timezone.now()
        )
    services.report_status(event.pk, state="running", at=timezone.now().isoformat(), fps=1.0, result=[])


async def test_suggestions_reach_the_hosts_console_and_never_a_viewer(settings):
    settings.DISCOVERY_BACKEND = "fake"
    get_detector.cache_clear()
    event, product, host = await live_show()
    console = await connect(f"/ws/studio/events/{event.pk}/", host)
    viewer = await connect(f"/ws/events/{event.pk}/", AnonymousUser())
    await next_of_type(console, "studio_snapshot")
    await next_of_type(viewer, "snapshot")

    await two_frames(event, product)

    suggestion = await next_of_type(console, "discovery_suggestion")
    assert suggestion["product"]["name"] == "Blue mug" and suggestion["box"] == [0.1, 0.2, 0.3, 0.4]
    assert (await next_of_type(console, "discovery_status"))["state"] == "running"
    received = []
    while not await viewer.receive_nothing(timeout=1):
        received.append(json.loads(await viewer.receive_from())["type"])
    assert not [kind for kind in received if kind.startswith("discovery")]
    await console.disconnect()
    await viewer.disconnect()
    get_detector.cache_clear()
