"""``manage.py demo_show``: the live show of ``make demo``.

Makes sure the demo brand (``seed_demo``) has its live event with the demo products in the
lineup, draws the demo video and its SRT of product cues (demo/show.py; reused while the
products are unchanged), waits for the media server and the web server, then streams the video
into the event in a loop with ``stream_video`` (the host console's feature_product at each cue's
moment). Ctrl-C or SIGTERM stops it cleanly; if the stream drops (a server restarting), it
starts again.
"""

from __future__ import annotations

import signal
import socket
import threading
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization
from catalog.models import Product
from commerce import deals
from demo.brand import BRAND_SLUG
from demo.show import DemoVideoError, demo_video_path, write_demo_video
from events import prerecorded, selectors, services
from events.models import LiveEvent
from events.srt_cues import CueSpec, export_srt

EVENT_SLUG = "northwind-live"
EVENT_TITLE = "Northwind Live: Trail Gear Show"
RETRY_SECONDS = 5
# The demo's flash deal (commerce.deals): the lineup's first product, whenever it is featured and
# no deal of it runs (a deal lasts at most 120 minutes; the show loops longer).
DEMO_DEAL = deals.DealTerms(minutes=15, percent_off=20, limit_per_customer=2)


class Command(BaseCommand):
    help = "Stream the demo show (a generated video with product cues) into the demo event, in a loop."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir", dest="directory", type=Path, help="where the video goes; default: var/demo-show"
        )
        parser.add_argument("--once", action="store_true", help="play the show once instead of looping")

    def handle(self, *args, directory: Path | None, once: bool, **options):
        event, host, products = self.demo_event()
        directory = directory or settings.BASE_DIR / "var" / "demo-show"
        video = demo_video_path(directory, products)
        if not video.exists():
            self.stdout.write(f"Drawing the demo video ({len(products)} products) with ffmpeg…")
        try:
            cues = write_demo_video(video, products, title=EVENT_TITLE)
        except DemoVideoError as exc:
            raise CommandError(str(exc)) from None
        specs = [CueSpec(cue.product, cue.start_ms, cue.end_ms) for cue in cues]
        video.with_suffix(".srt").write_text(export_srt(specs, key="sku"), encoding="utf-8")
        viewer_url = settings.SITE_URL.rstrip("/") + reverse(
            "viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug}
        )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        self.wait_for_servers(event, stop)
        while not stop.is_set():
            self.stdout.write(self.style.SUCCESS(f"The demo show is live: {viewer_url}"))
            try:
                prerecorded.stream_video(
                    event=event,
                    video=video,
                    cues=specs,
                    loop=not once,
                    by=host,
                    stop=stop,
                    on_cue=lambda fired: self.on_cue(fired, event, host, products[0]),
                )
            except prerecorded.StreamingError as exc:
                if once:
                    raise CommandError(str(exc)) from None
                self.stderr.write(f"The stream stopped: {exc}\nStarting again in {RETRY_SECONDS} s.")
                stop.wait(RETRY_SECONDS)
                continue
            if once:
                break
        self.stdout.write("The demo show is over.")

    def on_cue(self, fired, event: LiveEvent, host, deal_product: Product) -> None:
        self.stdout.write(
            f"  {fired.media_time:8.1f} s  featured {fired.scheduled.cue.product.name}"
            + (f" (failed: {fired.error})" if fired.error else "")
        )
        if fired.scheduled.cue.product.pk == deal_product.pk:
            self.keep_deal_running(event, host, deal_product)

    def keep_deal_running(self, event: LiveEvent, host, product: Product) -> None:
        """Start the demo's flash deal on ``product`` (DEMO_DEAL) unless one of it runs; the show
        must be live (a deal is refused otherwise: said, not raised)."""
        if product.pk in deals.event_deals(event.pk):
            return
        try:
            deals.start_deal(event=event, product=product, terms=DEMO_DEAL, by=host)
        except deals.DealRefused as exc:
            self.stderr.write(f"  no flash deal on {product.name}: {exc}")
            return
        terms = DEMO_DEAL
        self.stdout.write(f"  flash deal: {terms.percent_off}% off {product.name} for {terms.minutes} min")

    def demo_event(self) -> tuple[LiveEvent, object, list[Product]]:
        """The demo event (created on first run, with its channel), its host and lineup."""
        brand = Organization.objects.filter(slug=BRAND_SLUG).first()
        if brand is None:
            raise CommandError("No demo brand: run `manage.py seed_demo` first.")
        membership = (
            Membership.objects.filter(organization=brand, role=Membership.Role.HOST)
            .select_related("user")
            .order_by("pk")
            .first()
        )
        if membership is None:
            raise CommandError("The demo brand has no host: run `manage.py seed_demo` first.")
        host = membership.user
        products = list(Product.objects.filter(organization=brand).order_by("sku"))
        if not products:
            raise CommandError("The demo brand has no products: run `manage.py seed_demo` first.")
        event = LiveEvent.objects.filter(organization=brand, slug=EVENT_SLUG).first()
        if event is None:
            owner = Membership.objects.filter(organization=brand, role=Membership.Role.OWNER).first()
            event = services.create_event(
                organization=brand,
                title=EVENT_TITLE,
                slug=EVENT_SLUG,
                description="A pre-recorded show streamed as live: the card changes with the picture.",
                scheduled_start=timezone.now() + timedelta(minutes=1),
                by=owner.user if owner else host,
                products=products,
            )
        elif not event.has_channel:
            event = services.provision_channel(event=event, by=host)
        if not event.has_channel:
            raise CommandError(f"The demo event has no video channel: {event.provisioning_error}")
        if not event.may_go_live:
            raise CommandError(
                f"The demo event “{EVENT_SLUG}” was {event.get_status_display().lower()} by its host; "
                "delete it in the studio and run this again for a new one."
            )
        return event, host, [entry.product for entry in selectors.lineup_of(event)]

    def wait_for_servers(self, event: LiveEvent, stop: threading.Event) -> None:
        """Until Redis and the ingest port take connections and the web server (nginx's callbacks)
        answers."""
        ingest = urlsplit(event.ingest_url)
        health = settings.SITE_URL.rstrip("/") + "/healthz/"
        checks = [
            (f"the media server at {ingest.netloc}", lambda: _accepts(ingest.hostname, ingest.port)),
            (f"the web server at {settings.SITE_URL}", lambda: _answers(health)),
        ]
        if settings.REDIS_URL:  # carries the cards from this process to the web server's viewers
            redis = urlsplit(settings.REDIS_URL)
            redis_up = lambda: _accepts(redis.hostname, redis.port or 6379)  # noqa: E731
            checks.insert(0, (f"Redis at {redis.netloc}", redis_up))
        else:
            self.stderr.write(
                "No REDIS_URL: the cards this process features cannot reach the web server's viewers "
                "(`make demo` starts a Redis when redis-server is installed)."
            )
        for what, ready in checks:
            if ready():
                continue
            self.stdout.write(f"Waiting for {what}…")
            while not ready():
                if stop.wait(1):
                    raise CommandError("Stopped before the show started.")


def _accepts(host: str | None, port: int | None) -> bool:
    try:
        with socket.create_connection((host or "127.0.0.1", port or 1935), timeout=1):
            return True
    except OSError:
        return False


def _answers(url: str) -> bool:
    if urlsplit(url).scheme not in ("http", "https"):
        return False
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http(s) only)
            return response.status == 200
    except OSError:
        return False
