"""The media server's callback secret travels in a header, never in a URL (issue #12, finding 8):
nginx-rtmp cannot add headers, so its callbacks go to a loopback location of nginx's own http
server that proxies them to Django with the X-Liveshop-Media-Secret header. For real (nginx-rtmp,
ffmpeg, this test's live server): every callback Django receives carries the header and no
secret in its URL (which uvicorn's access log would print), and no nginx log holds the secret."""

import pytest

from events import media_hooks
from liveshop import crypto
from liveshop.video import local
from tests import media
from tests.test_media_e2e import (  # noqa: F401 (fixtures)
    host,
    is_live,
    local_backend,
    new_event,
    playlist,
    publish,
    publishers,
)


@pytest.fixture
def seen(monkeypatch):
    """(path with query, secret header) of every callback Django's views check."""
    calls = []
    checked = media_hooks._authorized

    def recording(request):
        calls.append((request.get_full_path(), request.headers.get(local.CALLBACK_HEADER)))
        return checked(request)

    monkeypatch.setattr(media_hooks, "_authorized", recording)
    return calls


@pytest.mark.media
@pytest.mark.django_db(transaction=True)
def test_callbacks_carry_the_secret_in_a_header_and_no_log_holds_it(
    media_server,
    local_backend,  # noqa: F811
    publishers,  # noqa: F811
    host,  # noqa: F811
    seen,
):
    event = new_event(host)
    secret = local.callback_secret()

    ffmpeg = publish(media_server, publishers, crypto.decrypt(event.stream_key_encrypted), seconds=20)
    media.wait_for(lambda: is_live(event), what=f"the event to go live\n{media_server.output()}")
    # Media first: an encoder stopped before its first frame leaves no recording, and nginx then
    # sends no on_record_done (a warm shared media server goes live within ~0.1 s of connecting).
    media.wait_for(lambda: playlist(media_server, event.channel_id), what="an HLS playlist with segments")
    ffmpeg.terminate()
    media.wait_for(lambda: event.sessions.get().ended_at, what="the session to end")
    try:
        media.wait_for(lambda: any("on_record_done" in path for path, _ in seen), what="on_record_done")
    except AssertionError as exc:  # what nginx sent and the relay passed on, to tell where it stopped
        access = (media_server.directory / "logs" / "access.log").read_text(errors="replace")
        raise AssertionError(f"{exc}\n{media_server.output()}\n{access[-4000:]}") from None

    assert {path.split("?")[0].rsplit("/", 1)[1] for path, _ in seen} >= {
        "on_publish",
        "on_publish_done",
        "on_record_done",
    }
    assert all(header == secret for _, header in seen)
    assert not [path for path, _ in seen if secret in path or "secret" in path]
    logs = [*(media_server.directory / "logs").iterdir(), media_server.log]
    assert [path.name for path in logs if secret in path.read_text(errors="replace")] == []
    assert (
        "liveshop-callbacks/on_publish?rtmp_port="
        in (media_server.directory / "logs" / "access.log").read_text()
    )


@pytest.mark.django_db
@pytest.mark.parametrize("hook", ["on_publish", "on_publish_done", "on_record_done", "on_server_reset"])
def test_a_callback_with_the_secret_in_the_url_only_is_refused(client, hook):
    """What the old nginx config sent: ``?secret=`` (which access logs keep) and no header."""
    response = client.post(
        f"/hooks/media/{hook}?secret={local.callback_secret()}&rtmp_port=1935",
        data="app=live&name=sk_x&clientid=1&call=server_reset&at=1700000000",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 403
    assert response.content == b"Missing or wrong callback secret."


def test_nginx_refuses_the_callback_locations_to_other_addresses(tmp_path):
    config = local.render_config(
        directory=tmp_path,
        rtmp_port=19350,
        http_port=18090,
        callbacks={name: f"http://127.0.0.1:8000/hooks/media/{name}" for name in local.CALLBACKS},
    )

    for name in local.CALLBACKS:
        block = config.split(f"location = /liveshop-callbacks/{name} {{", 1)[1].split("}", 1)[0]
        assert "allow 127.0.0.1;" in block and "deny all;" in block
        assert f'proxy_set_header X-Liveshop-Media-Secret "{local.callback_secret()}";' in block
        assert f"proxy_pass http://127.0.0.1:8000/hooks/media/{name};" in block
        assert f"on_{name[3:]} http://127.0.0.1:18090/liveshop-callbacks/{name}?rtmp_port=19350;" in config
    assert config.count(local.callback_secret()) == len(local.CALLBACKS)  # in those headers only
