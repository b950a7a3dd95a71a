"""ASGI entry point: HTTP through Django, websockets through Channels' router, and the server's
startup (lifespan).

The websocket stack has no session or auth middleware: a viewer of a public event needs
neither, and the consumers read the user from the session cookie only when they need it
(events.consumers.session_user)."""

import gc
import os

from liveshop.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveshop.settings.base")
# Sets Django up before the consumers are imported. Its middleware chain and views run in one
# thread hop per request (liveshop.handlers), not one per middleware method.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from analytics.asgi import BeaconFastPath  # noqa: E402
from events.page_cache import SharedResponses  # noqa: E402
from events.realtime import drain  # noqa: E402
from events.timed_metadata import warm_up  # noqa: E402
from liveshop import metrics  # noqa: E402
from liveshop.routing import websocket_urlpatterns  # noqa: E402

warm_up()  # the first click's cue finds the video service's client (and the rate limiter) built


async def lifespan(scope, receive, send):
    """Once the server has started: what startup built (modules, settings, URL patterns, the
    gateway clients: ~150,000 objects that live as long as the process) is collected once and
    frozen out of the garbage collector's sight, so a full collection at 10,000 viewers walks
    their sockets only, not the whole of Django again. Nothing created later is frozen: a closed
    socket's cycles are still collected (freezing them would leak them)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            gc.collect()
            gc.freeze()
            drain.install()  # SIGTERM (or ECS stopping the task): viewers move elsewhere gradually
            metrics.start_web_reporter()  # the sockets held, every minute (LIVESHOP_METRICS)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


http_application = SharedResponses(django_asgi_app)  # anonymous viewers' shared pages from memory
http_application = BeaconFastPath(http_application)  # players' analytics beacons, on the event loop
if settings.DEBUG:
    # Development serves static files from the apps' folders under any server: runserver (and
    # daphne's) wraps the application to do it, uvicorn does not. Production (DJANGO_DEBUG=false)
    # serves the collected files with WhiteNoise.
    http_application = ASGIStaticFilesHandler(http_application)

application = ProtocolTypeRouter(
    {
        "http": http_application,
        # Counted for the web tasks' WebSocketConnections metric (LIVESHOP_METRICS).
        "websocket": metrics.sockets.wrap(AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))),
        "lifespan": lifespan,
    }
)
