"""The ASGI application's lifespan: the server's startup freezes what startup built."""

import gc

import pytest

from liveshop.asgi import application


@pytest.mark.asyncio
async def test_startup_freezes_what_startup_built_and_nothing_after(monkeypatch):
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent, frozen, freezes = [], [], []
    freeze = gc.freeze

    def counted_freeze():
        freezes.append(True)
        freeze()

    # Counted, not read off gc.get_freeze_count() at each step: that count moved by 2 between the
    # two steps once in a CI run with no freeze in between.
    monkeypatch.setattr(gc, "freeze", counted_freeze)

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])
        frozen.append((gc.get_freeze_count(), len(freezes)))

    try:
        await application({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    finally:
        gc.unfreeze()  # this test process is not a server: give its objects back to the collector

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert frozen[0][0] > 10_000  # modules, classes, settings: what startup built
    assert [calls for _, calls in frozen] == [1, 1]  # shutting down freezes nothing more
