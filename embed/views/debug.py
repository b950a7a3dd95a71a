"""``/embed/demo-shop/``, in DEBUG only: a shop's page embedding a show (``?event=``, ``?brand=``)
or an uploaded video (``?video=<brand>/<video>``) the way a brand's site does, from the other
loopback name (localhost <-> 127.0.0.1), so the frame is cross-origin as on
a real shop. make demo prints its address; tests/test_embed_browser.py drives it."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views import View

from demo.brand import BRAND_NAME, BRAND_SLUG
from recordings.models import Recording

LOOPBACK_TWIN = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}
DEMO_EVENT = f"{BRAND_SLUG}/{BRAND_SLUG}-live"


class DemoShopView(View):
    def get(self, request):
        if not settings.DEBUG:
            raise Http404("The demo shop is served only in development (DJANGO_DEBUG).")
        host, _, port = request.get_host().partition(":")
        twin = LOOPBACK_TWIN.get(host)
        if twin is None:
            raise Http404("Open the demo shop on localhost or 127.0.0.1.")
        liveshop = f"{request.scheme}://{twin}" + (f":{port}" if port else "")
        event = request.GET.get("event", DEMO_EVENT)
        brand = request.GET.get("brand", "")
        video = "" if brand else request.GET.get("video", "")
        view = "shows" if request.GET.get("view") == "shows" else ""
        context = {
            "liveshop": liveshop,
            "event": event,
            "brand": brand,
            "video": video,
            "view": view,
            "videos": demo_videos(),
            "shop_origin": request.build_absolute_uri("/").rstrip("/"),
            "shop_name": BRAND_NAME,
        }
        response = render(request, "embed/demo_shop.html", context)
        # The shop's own policy: Liveshop's loader script and frame come from the twin origin.
        mode = "_csp_update_ro" if settings.LIVESHOP_CSP_REPORT_ONLY else "_csp_update"
        setattr(response, mode, {"script-src": [liveshop], "frame-src": [liveshop]})
        return response


def demo_videos() -> list[str]:
    """The demo brand's published videos ("<brand>/<video>"), linked from the page for ``?video=``."""
    published = Recording.objects.filter(
        organization__slug=BRAND_SLUG,
        backend=Recording.Backend.UPLOAD,
        published_at__isnull=False,
        status=Recording.Status.READY,
    ).exclude(slug="")
    slugs = published.order_by("-published_at").values_list("slug", flat=True)[:5]
    return [f"{BRAND_SLUG}/{slug}" for slug in slugs]
