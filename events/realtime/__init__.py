"""Delivery of event changes to viewers and host consoles.

Other apps use only the names below (publishing: ``events.realtime.publishing``). The rest of
the package is the delivery side, used by the websocket consumers alone:

- ``hub``: one per ASGI process; one Redis subscription, writes each message to local sockets;
- ``uvicorn_fast_path``: the frame written straight to each socket's transport under uvicorn;
- ``presence``: viewer counts (this process's, every process's total) and the peak viewers.

The connect limit the consumers apply lives in ``liveshop.ratelimit`` with the cue limiter.
"""

from events.realtime.publishing import (
    RESYNC,
    Undelivered,
    broadcast_to_event,
    broadcast_to_event_on_commit,
    broadcast_to_studio,
    broadcast_to_studio_on_commit,
    channel_prefix,
    encode,
    event_group_name,
    publish,
    studio_group_name,
)

__all__ = [
    "RESYNC",
    "Undelivered",
    "broadcast_to_event",
    "broadcast_to_event_on_commit",
    "broadcast_to_studio",
    "broadcast_to_studio_on_commit",
    "channel_prefix",
    "encode",
    "event_group_name",
    "publish",
    "studio_group_name",
]
