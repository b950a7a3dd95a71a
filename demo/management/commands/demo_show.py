"""``manage.py demo_show``: the live show of ``make demo``.

Makes sure the demo brand (``seed_demo``) has its live event with the demo products in the
lineup, draws the demo video and its SRT of product cues (demo/show.py; reused while the
products are unchanged), waits for the media server and the web server, then streams the video
into the event in a loop with ``stream_video`` (the host console's feature_product at each cue's
moment). Ctrl-C or SIGTERM stops it cleanly; if the stream drops (a server restarting), it
starts again.

Each cue's product is read afresh when its moment plays (a price or stock edited during the show
reaches the next card), and a host's own Feature in the console pauses the automatic cues for
MANUAL_PAUSE_SECONDS (the console says so: static/js/console/demo_show.js).

Without Redis (no redis-server on the machine) a card featured in this process could not reach
the web server's viewers, so ``make demo`` runs the show inside the web server instead
(``manage.py demo_runserver``, demo/running.py) and this process, started ``--beside-web``, says
so and waits.
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
from demo.checks import MEDIA_PACKAGES, has_rtmp_nginx, search_path
from demo.show import DemoVideoError, demo_video_path, write_demo_video
from events import prerecorded, realtime, selectors, services, timed_metadata
from events.models import Highlight, LiveEvent
from events.srt_cues import CueSpec, export_srt

EVENT_SLUG = "northwind-live"
EVENT_TITLE = "Northwind Live: Trail Gear Show"
RETRY_SECONDS = 5
# A host's own Feature stays on this long before the demo's automatic cues resume.
MANUAL_PAUSE_SECONDS = 30
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
        parser.add_argument(
            "--beside-web",
            action="store_true",
            help="make demo's show process: without Redis the web server runs the show, so only wait",
        )

    def handle(self, *args, directory: Path | None, once: bool, beside_web: bool = False, **options):
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            # Ctrl-C (honcho sends SIGINT to every process) ends the show without a traceback,
            # and at once: the closing card's cue is sent, not retried against a stopped stack.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: (stop.set(), timed_metadata.stop_retrying()))
        if beside_web and not settings.REDIS_URL:
            self.stdout.write(
                "No Redis: the web server runs the demo show itself (its viewers get the cards)."
            )
            stop.wait()
            return
        self.run_show(directory=directory, once=once, stop=stop)

    def run_show(self, *, directory: Path | None, once: bool, stop: threading.Event) -> None:
        """Stream the show until ``stop`` (or its end with ``once``)."""
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
        if not has_rtmp_nginx(search_path()):
            self.play_as_video(event, video, specs, stop)
            return
        viewer_url = settings.SITE_URL.rstrip("/") + reverse(
            "viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug}
        )
        self.wait_for_servers(event, stop)
        cues = ShowCues(event, say=self.stdout.write)
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
                    on_cue=lambda fired: self.on_cue(fired, event, host, products[0], cues),
                    cue_product=cues.product_for,
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

    def play_as_video(self, event: LiveEvent, video: Path, specs, stop: threading.Event) -> None:
        """No media server here: the show becomes the brand's published shoppable video."""
        from demo.video_show import VideoShowFailed, publish_demo_video

        self.stderr.write(
            f"No live video: nginx with its RTMP module is not installed (apt-get install {MEDIA_PACKAGES}). "
            "The demo show plays as a published video instead (converting it first)…"
        )
        owner = Membership.objects.filter(organization=event.organization, role=Membership.Role.OWNER).first()
        try:
            url = publish_demo_video(
                organization=event.organization, video=video, cues=specs, by=owner.user, stop=stop
            )
        except VideoShowFailed as exc:
            raise CommandError(str(exc)) from None
        if url:
            self.stdout.write(self.style.SUCCESS(f"The demo show, as a shoppable video: {url}"))
            stop.wait()  # make demo's process runner stops every process when one ends

    def on_cue(self, fired, event: LiveEvent, host, deal_product: Product, cues: ShowCues) -> None:
        cues.made(fired)
        if fired.passed:
            return
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


class ShowCues:
    """Which product each cue of the demo show features: the product as it is now in the
    database, or None (the cue is passed) while a host's own pick is on: a highlight of the event
    that the show did not make, less than MANUAL_PAUSE_SECONDS old. The pause is said once, here
    and in the host console (a "demo.cues_paused" frame on the studio topic)."""

    def __init__(self, event: LiveEvent, *, say=print):
        self.event = event
        self.say = say
        self.ours: set[int] = set()  # the highlights this show made
        self.paused_for: int | None = None  # the host's highlight the show yields to

    def made(self, fired) -> None:
        if fired.highlight is not None:
            self.ours.add(fired.highlight.pk)

    def product_for(self, cue) -> Product | None:
        latest = Highlight.objects.filter(event=self.event).values("pk", "created_at").first()
        if latest and latest["pk"] not in self.ours:
            left = MANUAL_PAUSE_SECONDS - (timezone.now() - latest["created_at"]).total_seconds()
            if left > 0:
                self.pause(latest["pk"], left)
                return None
        return Product.objects.filter(pk=cue.product.pk, is_active=True).first()

    def pause(self, highlight_id: int, left: float) -> None:
        if self.paused_for == highlight_id:
            return
        self.paused_for = highlight_id
        self.say(f"  a host featured a product: the automatic cues pause for {left:.0f} s")
        payload = {"seconds": round(left), "until": (timezone.now() + timedelta(seconds=left)).isoformat()}
        realtime.broadcast_to_studio(self.event.pk, "demo.cues_paused", payload)
