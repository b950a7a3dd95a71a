"""The hub's fast path under uvicorn (``--ws websockets`` or ``websockets-sansio``): a message's
websocket frame is built once and its bytes written straight to each socket's transport, as
``websockets.broadcast()`` does: no coroutine, ASGI message or timer per socket.

This module alone knows uvicorn's and websockets' internals (the protocol behind an ASGI
``send``, its ``transport``, the connection ``state``); both libraries are pinned in
requirements.txt and events/tests/test_uvicorn_fast_path.py checks the bytes on the wire with
each implementation, so an upgrade that moves them fails there, not in production. Any other
server (daphne, the test communicator) gets no writer, and the hub uses the ASGI send.
"""

from __future__ import annotations

import asyncio

# Bytes queued for one socket (beyond what the kernel took) above which the fast path leaves it
# to its ASGI send, which waits (up to the hub's SEND_DEADLINE) for it to drain: the transport's
# default high-water mark, so a backlogged socket is treated exactly as without the fast path.
BACKLOG_LIMIT = 64 * 1024


def text_frame(text: str) -> bytes:
    """``text`` as one unfragmented, unmasked websocket text frame (RFC 6455 5.2), the bytes a
    server puts on the wire. Uncompressed frames are valid with permessage-deflate too (RSV1 0)."""
    data = text.encode()
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 1 << 16:
        return b"\x81\x7e" + size.to_bytes(2, "big") + data
    return b"\x81\x7f" + size.to_bytes(8, "big") + data


class FrameWriter:
    """Writes an encoded frame straight to one socket's transport. Calling it returns True once
    written; None when the socket is closing (skipped: its consumer leaves on disconnect); False,
    writing nothing, when more than BACKLOG_LIMIT bytes wait for it (the hub then uses the ASGI
    send and its deadline). A small slotted object rather than a closure: one GC-tracked object
    per socket, not a function, its cells and their tuple."""

    __slots__ = ("connection", "is_open", "transport")

    def __init__(self, connection, transport, is_open):
        self.connection = connection
        self.transport = transport
        self.is_open = is_open

    def __call__(self, frame: bytes) -> bool | None:
        transport = self.transport
        if self.connection.state is not self.is_open or transport.is_closing():
            return None
        if transport.get_write_buffer_size() > BACKLOG_LIMIT:
            return False
        transport.write(frame)  # whole frames only, like the protocol's own writes: no interleaving
        return True


def frame_writer(send) -> FrameWriter | None:
    """For a consumer's ASGI ``send`` under uvicorn's websockets implementations, the socket's
    FrameWriter; None for any other server."""
    try:
        from websockets.protocol import State
    except ImportError:  # no websockets library, so no uvicorn websockets implementation either
        return None

    protocol = _server_protocol(send)
    transport = getattr(protocol, "transport", None)
    if transport is None:
        return None
    if isinstance(getattr(protocol, "state", None), State):  # websockets' legacy protocol
        connection = protocol
    elif isinstance(getattr(getattr(protocol, "conn", None), "state", None), State):  # sans-I/O
        connection = protocol.conn
    else:
        return None
    return FrameWriter(connection, transport, State.OPEN)


def _server_protocol(send):
    """The server's connection (an asyncio protocol) whose bound method ``send`` is, possibly
    behind a middleware that keeps the server's send as ``real_send`` (Channels' sessions)."""
    for _ in range(4):
        owner = getattr(send, "__self__", None)
        if owner is None or isinstance(owner, asyncio.BaseProtocol):
            return owner
        send = getattr(owner, "real_send", None)
    return None
