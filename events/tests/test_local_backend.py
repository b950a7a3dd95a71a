"""The local video backend (liveshop/video/local.py) and ``manage.py media_server``, without
streaming: /stat answers are recorded from Debian's nginx-rtmp, the config is checked by nginx -t.
Streaming end to end is tests/test_media_e2e.py."""

import io
import re
import shutil
import socket
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from events.management.commands import media_server
from liveshop import crypto
from liveshop.video import local
from liveshop.video.base import BackendUnavailable, ChannelNotLive, PayloadTooLarge, VideoBackendError
from liveshop.video.local import LocalBackend

KEY = "sk_the-secret-stream-key-0123456789"
CHANNEL = "ch_0123456789abcdef0123"
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
needs_nginx = pytest.mark.skipif(
    not (shutil.which("nginx", path="/usr/sbin:/usr/bin") and RTMP_MODULE.exists()),
    reason="needs Debian's nginx and nginx-rtmp (apt-get install nginx libnginx-mod-rtmp)",
)

# /stat while ffmpeg publishes KEY (client 1) and nginx relays it into show/CHANNEL (clients 3, 4).
STAT_LIVE = f"""<?xml version="1.0" encoding="utf-8" ?>
<rtmp><nginx_version>1.22.1</nginx_version><pid>15553</pid><uptime>5</uptime><server>
<application><name>live</name><live>
<stream><name>sk_someone-else</name><time>9000</time>
<client><id>2</id><address>203.0.113.9</address><time>9000</time><publishing/><active/></client>
<client><id>5</id><address>127.0.0.1:19390/show/ch_other</address><time>9000</time><active/></client>
<publishing/><active/></stream>
<stream><name>{KEY}</name><time>3153</time>
<client><id>3</id><address>127.0.0.1:19390/show/{CHANNEL}</address><time>3153</time>
<flashver>ngx-local-relay</flashver><active/></client>
<client><id>1</id><address>127.0.0.1</address><time>3328</time><flashver>FMLE/3.0</flashver>
<publishing/><active/></client>
<nclients>2</nclients><publishing/><active/></stream>
<nclients>2</nclients></live></application>
<application><name>show</name><live>
<stream><name>{CHANNEL}</name><time>3058</time>
<client><id>4</id><address>127.0.0.1</address><time>3152</time><publishing/><active/></client>
<nclients>1</nclients><publishing/><active/></stream>
<nclients>1</nclients></live></application>
</server></rtmp>"""
STAT_IDLE = """<?xml version="1.0" encoding="utf-8" ?>
<rtmp><server><application><name>live</name><live><nclients>0</nclients></live></application>
<application><name>show</name><live><nclients>0</nclients></live></application></server></rtmp>"""


# /stat 9 s into a stream an encoder sends at half real time (ffmpeg -readrate 0.5), relayed into
# show/CHANNEL (Debian's nginx-rtmp; metadata left out): each client's <timestamp> is the media
# time of the last message, 4.49 s, where <time> counts the wall clock's 9 s.
STAT_SLOW = f"""<?xml version="1.0" encoding="utf-8" ?>
<rtmp><server><application><name>live</name><live>
<stream><name>{KEY}</name><time>9001</time><bw_in>0</bw_in><bytes_in>136256</bytes_in>
<client><id>2</id><address>127.0.0.1:19471/show/{CHANNEL}</address><time>9001</time>
<flashver>ngx-local-relay</flashver><dropped>0</dropped><avsync>-9</avsync><timestamp>4490</timestamp><active/></client>
<client><id>1</id><address>127.0.0.1</address><time>9185</time>
<flashver>FMLE/3.0 (compatible; Lavf59.27</flashver><dropped>0</dropped><avsync>-9</avsync>
<timestamp>4490</timestamp><publishing/><active/></client>
<nclients>2</nclients><publishing/><active/></stream><nclients>2</nclients></live></application>
<application><name>show</name><live>
<stream><name>{CHANNEL}</name><time>8913</time><bw_in>0</bw_in><bytes_in>136256</bytes_in>
<client><id>3</id><address>127.0.0.1</address><time>9001</time><flashver>LNX.11,1,102,55</flashver>
<dropped>0</dropped><avsync>-9</avsync><timestamp>4490</timestamp><publishing/><active/></client>
<nclients>1</nclients><publishing/><active/></stream><nclients>1</nclients></live></application>
</server></rtmp>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    yield
    cache.clear()


@pytest.fixture
def nginx_http(monkeypatch):
    """Stands in for nginx's loopback HTTP server: answers from ``pages``, records the paths."""
    pages = {"/stat": STAT_LIVE}
    requested, timeouts = [], []

    def get(path, timeout=local.HTTP_TIMEOUT):
        requested.append(path)
        timeouts.append(timeout)
        return pages.get(path.split("?")[0], "1").encode()

    monkeypatch.setattr(local, "_http_get", get)
    get.pages, get.requested, get.timeouts = pages, requested, timeouts
    return get


def test_create_channel_names_everything_public_by_the_channel_id(settings):
    settings.MEDIA_SERVER_HOST, settings.MEDIA_SERVER_RTMP_PORT = "192.0.2.10", 1935
    settings.MEDIA_SERVER_PUBLIC_URL = "http://192.0.2.10:8080/"

    channel = LocalBackend().create_channel("brand-7")

    assert re.fullmatch(r"ch_[0-9a-f]{20}", channel.id)
    assert channel.ingest_url == "rtmp://192.0.2.10:1935/live/"
    assert channel.playback_url == f"http://192.0.2.10:8080/hls/{channel.id}/index.m3u8"
    assert len(channel.stream_key) >= 32 and channel.stream_key not in channel.playback_url
    assert LocalBackend().create_channel("brand-7").id != channel.id


def test_keys_are_kept_by_liveshop_not_by_the_media_server():
    backend = LocalBackend()

    assert backend.stores_stream_keys is False
    with pytest.raises(VideoBackendError):
        backend.get_stream_key(CHANNEL)
    backend.delete_channel(CHANNEL)  # a no-op, twice
    backend.delete_channel(CHANNEL)


def test_get_stream_reports_the_public_stream_with_the_stream_id_on_publish_recorded(nginx_http):
    local.remember_publisher("1", local.Publisher(CHANNEL, "st-abc", crypto.digest(KEY)))

    state = LocalBackend().get_stream(CHANNEL)

    assert state.live and state.stream_id == "st-abc" and state.health == "healthy"
    assert state.viewer_count is None and state.started_at is not None


def test_get_stream_is_none_for_an_offline_channel(nginx_http):
    assert LocalBackend().get_stream("ch_offline") is None
    nginx_http.pages["/stat"] = STAT_IDLE
    assert LocalBackend().get_stream(CHANNEL) is None


def test_get_stream_needs_the_media_server(settings):
    settings.MEDIA_SERVER_HTTP_PORT = free_port()

    with pytest.raises(BackendUnavailable, match="not running"):
        LocalBackend().get_stream(CHANNEL)


def test_media_time_is_the_relayed_publishers_timestamp_not_the_wall_clock(nginx_http):
    nginx_http.pages["/stat"] = STAT_SLOW

    assert LocalBackend().media_time_ms(CHANNEL, timeout=0.3) == 4_490
    assert LocalBackend().media_time_ms("ch_offline", timeout=0.3) is None
    nginx_http.pages["/stat"] = STAT_IDLE
    assert LocalBackend().media_time_ms(CHANNEL, timeout=0.3) is None
    assert nginx_http.timeouts == [0.3, 0.3, 0.3]


def test_no_media_time_before_the_streams_first_frames(nginx_http):
    """Between the relay's connect and its first frame nginx reports timestamp 0 with no bytes
    in, whatever the encoder's clock (seen with ffmpeg -output_ts_offset 3600): not a media time."""
    stat = STAT_SLOW.replace("<bytes_in>136256</bytes_in>", "<bytes_in>0</bytes_in>")
    nginx_http.pages["/stat"] = stat.replace("<timestamp>4490</timestamp>", "<timestamp>0</timestamp>")

    assert LocalBackend().media_time_ms(CHANNEL, timeout=0.3) is None


def test_media_time_needs_the_media_server(settings):
    settings.MEDIA_SERVER_HTTP_PORT = free_port()

    with pytest.raises(BackendUnavailable, match="not running"):
        LocalBackend().media_time_ms(CHANNEL, timeout=0.3)


def test_stop_stream_drops_the_relayed_publisher_by_client_id_without_naming_the_key(nginx_http):
    LocalBackend().stop_stream(CHANNEL)

    assert nginx_http.requested == ["/stat", "/control/drop/publisher?app=live&clientid=1"]


def test_stop_stream_is_a_no_op_for_an_offline_channel(nginx_http):
    LocalBackend().stop_stream("ch_offline")

    assert nginx_http.requested == ["/stat"]


def test_stop_stream_is_a_no_op_when_the_media_server_is_not_running(settings):
    settings.MEDIA_SERVER_HTTP_PORT = free_port()

    LocalBackend().stop_stream(CHANNEL)


def test_rotate_stream_key_returns_a_new_key_and_cuts_the_publisher_off(nginx_http):
    backend = LocalBackend()

    keys = {backend.rotate_stream_key(CHANNEL), backend.rotate_stream_key(CHANNEL)}

    assert len(keys) == 2 and KEY not in keys
    assert "/control/drop/publisher?app=live&clientid=1" in nginx_http.requested


def test_put_metadata_checks_the_payload_and_needs_a_live_stream(nginx_http):
    backend = LocalBackend()

    backend.put_metadata(CHANNEL, '{"productId": 12}')  # accepted; nginx-rtmp HLS cannot carry it
    with pytest.raises(PayloadTooLarge):
        backend.put_metadata(CHANNEL, "x" * 1001)
    with pytest.raises(ChannelNotLive):
        backend.put_metadata("ch_offline", '{"productId": 12}')


def test_playback_url_is_served_as_is():
    url = f"http://127.0.0.1:8080/hls/{CHANNEL}/index.m3u8"

    assert LocalBackend().playback_url_for(channel_id=CHANNEL, playback_url=url, private=True) == url


def test_rename_recording_only_renames_this_streams_recording(tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / f"{KEY}-1700000000.flv").write_bytes(b"FLV")
    publisher = local.Publisher(CHANNEL, "st-abc", crypto.digest(KEY))

    for path, key in [
        (rec / "other-1.flv", KEY),
        (tmp_path / f"{KEY}-1.flv", KEY),
        (rec / f"{KEY}-1.flv", ""),
    ]:
        with pytest.raises(ValueError, match="not a recording"):
            local.rename_recording(str(path), key, publisher)
    renamed = local.rename_recording(str(rec / f"{KEY}-1700000000.flv"), KEY, publisher)

    assert renamed == rec / f"{CHANNEL}-1700000000.flv" and renamed.read_bytes() == b"FLV"


def render(tmp_path, **overrides):
    options = {
        "directory": tmp_path,
        "rtmp_port": 19350,
        "http_port": 18090,
        "callbacks": {name: f"http://127.0.0.1:8000/hooks/media/{name}" for name in local.CALLBACKS},
        **overrides,
    }
    return local.render_config(**options)


def _app_block(config: str, app: str) -> str:
    return re.search(rf"application {app} \{{(.*?)\}}", config, re.S).group(1)


def test_only_the_public_app_writes_hls_and_only_the_ingest_app_calls_back(tmp_path):
    config = render(tmp_path)
    live, show = _app_block(config, "live"), _app_block(config, "show")

    assert "hls off;" in live and "hls on;" not in live and "on_publish" in live
    assert "hls on;" in show and "on_publish" not in show
    assert "allow publish 127.0.0.1;\n            deny publish all;" in show
    assert f'hls_path "{tmp_path.resolve()}/hls_public";' in show
    assert "on_publish http://127.0.0.1:18090/liveshop-callbacks/on_publish?rtmp_port=19350;" in live
    assert local.callback_secret() not in live  # only in the loopback proxy's header
    assert "worker_processes 1;" in config and "user " not in config
    assert "$name" not in config  # nginx's access log would hold the key


def test_segments_are_as_short_as_the_relays_keyframes_allow(tmp_path):
    """nginx-rtmp cuts a segment at the first keyframe after hls_fragment: with the browser relay's
    keyframe every 0.5 s, 0.5 s segments (a viewer two segments from the edge plays ~1 s behind it,
    not 2 s: bench/golive.py)."""
    from broadcast.relay import FPS, RELAY_SETTINGS, relay_command

    show = _app_block(render(tmp_path), "show")
    fragment_ms = int(re.search(r"hls_fragment (\d+)ms;", show).group(1))

    assert fragment_ms == 500 and "hls_playlist_length 6s;" in show
    assert RELAY_SETTINGS.keyframe_interval * 1000 == fragment_ms
    command = relay_command("rtmp://127.0.0.1/live/key")
    assert command[command.index("-g") + 1] == str(RELAY_SETTINGS.gop(FPS)) == "15"


def test_the_root_variant_runs_workers_as_the_starting_account(tmp_path):
    assert "\nuser root root;" in render(tmp_path, user="root root")


def test_worker_user_is_set_only_when_started_as_root(monkeypatch):
    monkeypatch.setattr(media_server.os, "geteuid", lambda: 1000)
    assert media_server._worker_user() == ""
    monkeypatch.setattr(media_server.os, "geteuid", lambda: 0)
    monkeypatch.setattr(media_server.os, "getegid", lambda: 0)
    assert media_server._worker_user() == "root root"


@needs_nginx
def test_media_server_check_renders_a_config_nginx_accepts(tmp_path):
    out = io.StringIO()

    call_command("media_server", "--check", "--dir", str(tmp_path), "--rtmp-port", "19350", stdout=out)

    assert "is valid" in out.getvalue()
    assert {p.name for p in tmp_path.iterdir()} >= {"nginx.conf", "rec", "hls_public", "tmp", "logs"}
    assert (tmp_path / "nginx.conf").stat().st_mode & 0o077 == 0  # it holds the callback secret


def test_media_server_names_the_packages_when_nginx_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(media_server.shutil, "which", lambda *args, **kwargs: None)

    with pytest.raises(CommandError, match="apt-get install nginx libnginx-mod-rtmp"):
        call_command("media_server", "--check", "--dir", str(tmp_path))


def test_media_server_names_the_packages_when_the_rtmp_module_is_missing(monkeypatch, tmp_path):
    fake_nginx = tmp_path / "nginx"
    fake_nginx.write_text('#!/bin/sh\necho "configure arguments: --modules-path=/nonexistent" >&2\n')
    fake_nginx.chmod(0o755)
    monkeypatch.setattr(media_server, "_find_nginx", lambda: str(fake_nginx))

    with pytest.raises(CommandError, match="libnginx-mod-rtmp"):
        call_command("media_server", "--check", "--dir", str(tmp_path))


@needs_nginx
def test_media_server_refuses_a_busy_port(monkeypatch, tmp_path):
    monkeypatch.setattr(media_server.media_supervisor.Supervisor, "run", pytest.fail)  # never nginx here
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        with pytest.raises(CommandError, match=f"RTMP port {port} is already in use"):
            call_command(
                "media_server", "--dir", str(tmp_path), "--rtmp-port", str(port), stdout=io.StringIO()
            )


def test_media_server_refuses_an_https_callback_url(settings, tmp_path):
    settings.MEDIA_SERVER_CALLBACK_URL = "https://shop.example.com"

    with pytest.raises(CommandError, match="http://"):
        call_command("media_server", "--check", "--dir", str(tmp_path))
