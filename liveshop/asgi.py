"""ASGI entry point: HTTP through Django, websockets through Channels' router."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveshop.settings.base")
django_asgi_app = get_asgi_application()  # set up Django before importing consumers

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from events.page_cache import SharedResponses  # noqa: E402
from liveshop.routing import websocket_urlpatterns  # noqa: E402
from liveshop.video import warm_up  # noqa: E402

warm_up()  # the video service's client is built before the first click needs it

application = ProtocolTypeRouter(
    {
        "http": SharedResponses(django_asgi_app),  # anonymous viewers' shared pages from memory
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
