"""The local video backend: an nginx-rtmp media server that ``manage.py media_server`` runs.

How a stream flows (facts checked in reference/local-media-server.md):

- The encoder publishes to ``rtmp://HOST:RTMP_PORT/live/<stream key>``. App ``live`` ingests and
  records (``rec/``) but writes no HLS, because HLS would be named after the secret key.
- nginx-rtmp POSTs ``on_publish`` to a loopback-only location of nginx's own http server, which
  proxies it to Django (events.media_hooks) adding the callback secret in the
  ``X-Liveshop-Media-Secret`` header: nginx-rtmp cannot add headers, and a secret in its URLs
  would be written to access logs (nginx's, Django's). Django checks the key against the
  event's stored one and answers ``302 rtmp://127.0.0.1:PORT/show/<channel id>``. nginx then
  relay-pushes the stream into app ``show`` under the public channel id; only ``show`` writes HLS.
- ``on_publish_done`` ends the session; ``on_record_done`` renames the recording off the key.
- nginx sends neither when it stops, is killed or a worker crashes: ``manage.py media_server``
  supervises it (events.media_supervisor), restarts it, and posts ``on_server_reset`` so the
  streams it dropped end (events.local_streams). An encoder that reconnects is a new stream, as
  on IVS; within RECORDING_RECONNECT_WINDOW its recording joins the one before (one replay).

Liveshop stores the stream keys (encrypted) and the media server keeps no state of its own, so
this module reads what it needs from nginx's ``/stat`` XML and drops publishers through the
control module (both loopback-only). The callbacks and this backend share one small record per
accepted publisher in Django's cache (``remember_publisher``), keyed by nginx's client id.
"""

from __future__ import annotations

import http.client
import logging
import secrets
import string
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.template import Context, Engine

from liveshop import crypto
from liveshop.video.base import (
    LATENCY_LOW,
    BackendUnavailable,
    Channel,
    ChannelNotLive,
    StreamState,
    VideoBackendError,
    check_metadata,
)

logger = logging.getLogger(__name__)

LIVE_APP = "live"  # ingest, named by the secret key: never served
SHOW_APP = "show"  # public, named by the channel id: HLS
CALLBACKS = ("on_publish", "on_publish_done", "on_record_done")
CONFIG_TEMPLATE = Path(__file__).with_name("nginx.conf.template")
STAT_HOST = "127.0.0.1"  # /stat and /control answer loopback only
# nginx-rtmp's callbacks go to <http server>/liveshop-callbacks/<name> (loopback only), which
# proxies them to Django with the callback secret in this header.
CALLBACK_HEADER = "X-Liveshop-Media-Secret"
CALLBACK_PROXY = "/liveshop-callbacks/"
HTTP_TIMEOUT = 3  # seconds; nginx on loopback answers in milliseconds
# A publisher record outlives any show (IVS caps a stream at 48 h); nginx's client ids only grow
# until it restarts, and every on_publish overwrites (or on refusal deletes) its id's record.
PUBLISHER_TTL = 48 * 3600
_ALNUM = string.ascii_letters + string.digits
# IVS's recordingReconnectWindowSeconds (ivs_setup configures 60): an encoder that comes back
# within this many seconds of its stream dropping is recorded into the same recording session
# (one replay, both parts). Setting MEDIA_SERVER_RECORDING_RECONNECT_WINDOW overrides it.
RECORDING_RECONNECT_WINDOW = 60
# IVS merges at most 20 streams into one recording, and starts a new one after 48 hours.
RECORDING_MAX_STREAMS = 20
RECORDING_MAX_SPAN = timedelta(hours=48)


def recording_reconnect_window() -> timedelta:
    """How long after a stream drops a reconnect still joins its recording (0: never)."""
    seconds = getattr(settings, "MEDIA_SERVER_RECORDING_RECONNECT_WINDOW", RECORDING_RECONNECT_WINDOW)
    return timedelta(seconds=max(0, min(int(seconds), 300)))  # IVS allows 0-300


def callback_secret() -> str:
    """The secret every callback carries in CALLBACK_HEADER (never in a URL: URLs are logged):
    derived from SECRET_KEY, so the media server and Django agree without another setting."""
    return crypto.digest("media-server-callbacks")


def new_stream_id() -> str:
    """A stream id shaped like IVS's ("st-" and 23 letters or digits), one per publish."""
    return "st-" + "".join(secrets.choice(_ALNUM) for _ in range(23))


@dataclass(frozen=True)
class Publisher:
    """An accepted publish, as the on_publish callback recorded it."""

    channel_id: str
    stream_id: str
    key_digest: str


def _publisher_key(client_id: str) -> str:
    return f"liveshop:media-server:publisher:{client_id}"


def remember_publisher(client_id: str, publisher: Publisher | None) -> None:
    """Record (or with None, forget) what nginx client ``client_id`` is publishing."""
    if not client_id.isdigit():
        return
    if publisher is None:
        cache.delete(_publisher_key(client_id))
    else:
        cache.set(_publisher_key(client_id), asdict(publisher), PUBLISHER_TTL)


def recall_publisher(client_id: str, *, key_digest: str | None = None) -> Publisher | None:
    """The record for ``client_id``; with ``key_digest``, only if it was made for that key (a
    guard against a record left over from before an nginx restart)."""
    if not client_id.isdigit():
        return None
    data = cache.get(_publisher_key(client_id))
    if not data:
        return None
    publisher = Publisher(**data)
    if key_digest is not None and not crypto.same(publisher.key_digest, key_digest):
        return None
    return publisher


def rename_recording(path: str, key: str, publisher: Publisher) -> Path:
    """Rename nginx's ``rec/<key>-<unix time>.flv`` to ``rec/<channel id>-<unix time>.flv`` so no
    file name holds the key. ValueError for any other path, OSError when the file is missing."""
    source = Path(path)
    if not source.is_absolute():  # relative to nginx's prefix when record_path is
        source = Path(settings.MEDIA_SERVER_DIR) / source
    prefix = f"{key}-"
    if (
        not key
        or source.parent.name != "rec"
        or not source.name.startswith(prefix)
        or source.suffix != ".flv"
    ):
        raise ValueError("not a recording of this stream")
    target = source.with_name(f"{publisher.channel_id}-{source.name[len(prefix) :]}")
    source.rename(target)
    return target


def render_config(
    *,
    directory: Path,
    rtmp_port: int,
    http_port: int,
    callbacks: dict[str, str],
    rtmp_listen: str = "",
    http_listen: str = "",
    user: str = "",
    module_path: str = "/usr/lib/nginx/modules/ngx_rtmp_module.so",
) -> str:
    """nginx.conf for the media server in ``directory`` (absolute paths throughout).
    ``callbacks`` maps on_publish, on_publish_done and on_record_done to Django's http:// URLs:
    nginx-rtmp calls CALLBACK_PROXY/<name>?rtmp_port=N on nginx's own http server (loopback),
    which proxies to them adding CALLBACK_HEADER (the secret lives in the 0600 config only); an
    empty listen address means every interface; ``user`` is the worker account when nginx
    starts as root."""
    query = urlencode({"rtmp_port": rtmp_port})
    proxy = f"http://{STAT_HOST}:{http_port}{CALLBACK_PROXY}"
    context = {
        "dir": str(directory.resolve()),
        "module_path": module_path,
        "user": user,
        "rtmp_listen": f"{rtmp_listen}:{rtmp_port}" if rtmp_listen else str(rtmp_port),
        "http_listen": f"{http_listen}:{http_port}" if http_listen else str(http_port),
        "stat_host": STAT_HOST,
        "live_app": LIVE_APP,
        "show_app": SHOW_APP,
        **{name: f"{proxy}{name}?{query}" for name in CALLBACKS},
        "callback_proxy": CALLBACK_PROXY,
        "callback_targets": [(name, callbacks[name]) for name in CALLBACKS],
        "callback_header": CALLBACK_HEADER,
        "callback_secret": callback_secret(),
    }
    # Django's template language: nginx's own "$variables" and single braces pass through.
    template = Engine().from_string(CONFIG_TEMPLATE.read_text(encoding="utf-8"))
    return template.render(Context(context, autoescape=False))


class LocalBackend:
    """The video gateway on a local nginx-rtmp server (laptop demo and CI; IVS in production)."""

    name = "local"
    stores_stream_keys = False

    def create_channel(
        self, name: str, *, latency: str = LATENCY_LOW, record: bool = True, private: bool = False
    ) -> Channel:
        """A new channel id and key. Nothing is provisioned: nginx accepts any key the
        on_publish callback approves, so the channel exists once Liveshop stores the key."""
        channel_id = "ch_" + secrets.token_hex(10)
        return Channel(
            id=channel_id,
            ingest_url=f"rtmp://{settings.MEDIA_SERVER_HOST}:{settings.MEDIA_SERVER_RTMP_PORT}/{LIVE_APP}/",
            playback_url=f"{settings.MEDIA_SERVER_PUBLIC_URL.rstrip('/')}/hls/{channel_id}/index.m3u8",
            stream_key=self._new_key(),
        )

    def delete_channel(self, channel_id: str) -> None:
        """Nothing to delete on the media server (idempotent no-op)."""

    def get_stream_key(self, channel_id: str) -> str:
        raise VideoBackendError("The local media server keeps no stream keys: Liveshop stores them.")

    def rotate_stream_key(self, channel_id: str) -> str:
        """A new key (the caller stores it, which revokes the old one) and the current publisher
        cut off. A media server that is not running has nobody to cut off."""
        self.stop_stream(channel_id)
        return self._new_key()

    def get_stream(self, channel_id: str) -> StreamState | None:
        """The ``show/<channel id>`` stream from /stat, or None. BackendUnavailable when nginx
        cannot be reached. nginx cannot count HLS viewers, so viewer_count is None."""
        stat = _read_stat()
        stream = _find_stream(stat, SHOW_APP, channel_id)
        if stream is None or stream.find("publishing") is None:
            return None
        client_id = _ingest_client_id(stat, channel_id)
        publisher = recall_publisher(client_id) if client_id else None
        uptime = timedelta(milliseconds=int(stream.findtext("time") or 0))
        return StreamState(
            live=True,
            stream_id=publisher.stream_id if publisher and publisher.channel_id == channel_id else None,
            started_at=datetime.now(UTC) - uptime,
            viewer_count=None,
            health="healthy" if stream.find("active") is not None else "starving",
        )

    def media_time_ms(self, channel_id: str, *, timeout: float = HTTP_TIMEOUT) -> int | None:
        """The media time of ``show/<channel id>``'s publisher (the relay of the encoder's
        stream) in /stat: the RTMP timestamp of the last message nginx received, which is the
        encoder's clock (from 0 at its first frame for ffmpeg and OBS), not the wall clock; the
        recording is cut from the same clock. None when the channel is offline or says none, or
        before its first frames (nginx then reports 0 whatever the encoder's clock: no bytes in)."""
        stream = _find_stream(_read_stat(timeout=timeout), SHOW_APP, channel_id)
        if stream is None or stream.find("publishing") is None or stream.findtext("bytes_in") == "0":
            return None
        for client in stream.iterfind("client"):
            if client.find("publishing") is not None:
                value = client.findtext("timestamp") or ""
                return int(value) if value.isdigit() else None
        return None

    def put_metadata(self, channel_id: str, payload: str) -> None:
        """Check the payload as IVS would, then nothing: nginx-rtmp's HLS has no in-band timed
        metadata, so local viewers get product cues over the websocket only."""
        check_metadata(payload)
        if self.get_stream(channel_id) is None:
            raise ChannelNotLive(f"Channel {channel_id} is not live.")

    def stop_stream(self, channel_id: str) -> None:
        """Disconnect the channel's publisher. Idempotent: nothing happens when the channel (or
        the whole media server) is offline.

        The ingest stream is named by the key, which this backend never learns; /stat shows the
        relay push into ``show/<channel id>`` as a client of that stream, so the publisher is
        found by its neighbour and dropped by client id alone, without reading the name."""
        try:
            client_id = _ingest_client_id(_read_stat(), channel_id)
        except _NotRunning:
            return
        if client_id is None:
            return
        _http_get(f"/control/drop/publisher?app={LIVE_APP}&clientid={client_id}")
        logger.info("Publisher dropped", extra={"channel_id": channel_id, "client_id": client_id})

    def playback_url_for(
        self, *, channel_id: str, playback_url: str, private: bool, viewer_id: str | None = None
    ) -> str:
        """``playback_url`` itself: the local server signs nothing (the viewer page guards
        private events)."""
        return playback_url

    @staticmethod
    def _new_key() -> str:
        return "sk_" + secrets.token_urlsafe(24)


class _NotRunning(BackendUnavailable):
    """Connection refused: no media server is listening."""


def _http_get(path: str, *, timeout: float = HTTP_TIMEOUT) -> bytes:
    port = settings.MEDIA_SERVER_HTTP_PORT
    connection = http.client.HTTPConnection(STAT_HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    except ConnectionRefusedError as exc:
        raise _NotRunning(f"The local media server is not running (nothing on port {port}).") from exc
    except OSError as exc:
        raise BackendUnavailable(f"The local media server on port {port} did not answer: {exc}") from exc
    finally:
        connection.close()
    if response.status != 200:
        raise BackendUnavailable(
            f"The local media server answered {response.status} to {path.split('?')[0]}."
        )
    return body


def _read_stat(*, timeout: float = HTTP_TIMEOUT) -> ET.Element:
    try:
        return ET.fromstring(_http_get("/stat", timeout=timeout))  # noqa: S314 (our own nginx, on loopback)
    except ET.ParseError as exc:
        raise BackendUnavailable("The local media server's /stat is not XML: is it nginx-rtmp?") from exc


def _find_stream(stat: ET.Element, app: str, name: str) -> ET.Element | None:
    for stream in stat.iterfind(f"server/application[name='{app}']/live/stream"):
        if stream.findtext("name") == name:
            return stream
    return None


def _ingest_client_id(stat: ET.Element, channel_id: str) -> str | None:
    """The client id of whoever publishes into the ingest stream relayed to ``channel_id``."""
    relay_target = f"/{SHOW_APP}/{channel_id}"
    for stream in stat.iterfind(f"server/application[name='{LIVE_APP}']/live/stream"):
        clients = stream.findall("client")
        if any((client.findtext("address") or "").endswith(relay_target) for client in clients):
            for client in clients:
                if client.find("publishing") is not None:
                    return client.findtext("id")
    # Just after on_publish nginx has not started the relay push yet: then only the record
    # on_publish made links a publishing client to its channel.
    for client in stat.iterfind(f"server/application[name='{LIVE_APP}']/live/stream/client"):
        client_id = client.findtext("id")
        if client.find("publishing") is not None and client_id:
            publisher = recall_publisher(client_id)
            if publisher is not None and publisher.channel_id == channel_id:
                return client_id
    return None
