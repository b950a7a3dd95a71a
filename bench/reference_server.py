"""The fan-out reference: a plain ``websockets`` server, no Django (bench/fanout.py runs it).

    python bench/reference_server.py --port 8765 [--loop uvloop|asyncio]

Every connection except ``/trigger`` is a viewer: it gets ``{"type":"snapshot","highlight":...}``
once it is registered (so a client knows it will receive broadcasts; ``highlight`` is the last
broadcast, or ``--current`` until there is one, or null), then every broadcast. Each text message
arriving on ``/trigger`` is sent to all viewers at once with ``websockets.broadcast()``, as is.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal

import websockets
from websockets.asyncio.server import ServerConnection, serve

viewers: set[ServerConnection] = set()
current = "null"  # the last broadcast: what a (re)connecting viewer's snapshot carries


async def handler(connection: ServerConnection) -> None:
    global current
    if connection.request.path == "/trigger":
        async for message in connection:
            current = message
            websockets.broadcast(viewers, message)
        return
    viewers.add(connection)
    try:
        await connection.send('{"type":"snapshot","highlight":' + current + "}")
        await connection.wait_closed()
    finally:
        viewers.discard(connection)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, backlog=2048):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--current", default="null", help="the snapshot's highlight until a broadcast")
    args = parser.parse_args()
    current = args.current
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main(args.port))
    else:
        asyncio.run(main(args.port))
