"""The demo show of ``make demo``: the demo event is made once from the seeded brand, and the
generated video shows each product while its cue is on (stream_video's own tests stream it)."""

import json
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product
from demo.management.commands.demo_show import EVENT_SLUG, Command
from demo.show import INTRO_MS, demo_video_path, write_demo_video
from events.models import LiveEvent

pytestmark = pytest.mark.django_db


def test_the_demo_event_is_made_once_with_the_demo_lineup():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    event, host, lineup = Command().demo_event()
    again, _, _ = Command().demo_event()

    assert again == event
    assert LiveEvent.objects.filter(slug=EVENT_SLUG).count() == 1
    assert event.has_channel
    assert host.memberships.get(organization=event.organization).role == "host"
    assert {p.sku for p in lineup} == set(
        Product.objects.filter(organization=event.organization).values_list("sku", flat=True)
    )
    assert len(lineup) == 8


def test_without_the_demo_brand_the_command_says_what_to_run():
    with pytest.raises(CommandError, match=r"run `manage\.py seed_demo` first"):
        call_command("demo_show", "--once")


def test_an_event_its_host_ended_is_not_streamed_into_again():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    event, _, _ = Command().demo_event()
    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.CANCELLED)

    with pytest.raises(CommandError, match="delete it in the studio"):
        Command().demo_event()


@pytest.mark.media
@pytest.mark.skipif(not shutil.which("ffprobe"), reason="ffmpeg is not installed (apt-get install ffmpeg)")
def test_the_demo_video_has_a_keyframe_every_second_and_ends_with_the_last_cue(tmp_path):
    products = [Product(pk=1, name="Trail: “Shell” Jacket", price="189.00", currency="USD"),
                Product(pk=2, name="Merino Beanie", price="29.00", currency="USD")]  # fmt: skip
    path = demo_video_path(tmp_path, products)

    cues = write_demo_video(path, products, title="Demo", per_product_ms=2_000)

    assert [(c.product.pk, c.start_ms, c.end_ms) for c in cues] == [
        (1, INTRO_MS, INTRO_MS + 2_000),
        (2, INTRO_MS + 2_000, INTRO_MS + 4_000),
    ]
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-skip_frame", "nokey", "-select_streams", "v:0",
         "-show_entries", "frame=pts_time:stream=codec_name:format=duration", "-of", "json", str(path)],
        capture_output=True, check=True,
    ).stdout)  # fmt: skip
    assert float(probe["format"]["duration"]) == pytest.approx(8.0, abs=0.1)
    assert probe["streams"][0]["codec_name"] == "h264"
    keyframes = [float(frame["pts_time"]) for frame in probe["frames"]]
    assert keyframes == pytest.approx([float(s) for s in range(len(keyframes))], abs=0.05)
    assert len(keyframes) == 8
    # Unchanged products reuse the video; a repriced one gets its own.
    modified = path.stat().st_mtime_ns
    write_demo_video(path, products, title="Demo", per_product_ms=2_000)
    assert path.stat().st_mtime_ns == modified
    products[1].price = "25.00"
    assert demo_video_path(tmp_path, products) != path


def test_the_demo_keeps_a_flash_deal_running_on_its_first_product_while_live(capsys):
    from commerce import deals

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    command = Command()
    event, host, lineup = command.demo_event()
    command.keep_deal_running(event, host, lineup[0])  # not live yet: refused, said
    assert deals.event_deals(event.pk) == {}
    assert "no flash deal" in capsys.readouterr().err

    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.LIVE)
    event.refresh_from_db()
    command.keep_deal_running(event, host, lineup[0])
    command.keep_deal_running(event, host, lineup[0])  # one runs: left alone

    deal = deals.event_deals(event.pk)[lineup[0].pk]
    assert (deal.percent_off, deal.limit_per_customer) == (20, 2)
    assert event.flash_deals.count() == 1


def _demo_show():
    from demo.management.commands.demo_show import ShowCues

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    event, host, lineup = Command().demo_event()
    return ShowCues(event, say=lambda line: None), event, host, lineup


def _cue(product):
    from events.srt_cues import CueSpec

    return CueSpec(product, 0, 1000)


def test_each_cue_features_the_product_as_it_is_now():
    cues, _, _, lineup = _demo_show()
    cue = _cue(lineup[0])
    Product.objects.filter(pk=lineup[0].pk).update(price="9.99")  # edited in the studio during the show

    assert str(cues.product_for(cue).price) == "9.99"
    Product.objects.filter(pk=lineup[0].pk).update(is_active=False)
    assert cues.product_for(cue) is None  # a product taken off sale is not shown


def test_a_hosts_own_feature_pauses_the_automatic_cues_and_says_so_in_the_console(broadcasts):
    from datetime import timedelta

    from django.utils import timezone

    from demo.management.commands.demo_show import MANUAL_PAUSE_SECONDS
    from events import services
    from events.models import Highlight

    cues, event, host, lineup = _demo_show()
    manual = services.feature_product(event=event, product=lineup[3], by=host)  # the console's Feature

    assert cues.product_for(_cue(lineup[0])) is None
    assert cues.product_for(_cue(lineup[1])) is None
    paused = [m for m in broadcasts if m["type"] == "demo.cues_paused"]
    assert len(paused) == 1  # said once per pick
    assert paused[0]["audience"] == "studio"
    assert MANUAL_PAUSE_SECONDS - 5 <= paused[0]["payload"]["seconds"] <= MANUAL_PAUSE_SECONDS

    Highlight.objects.filter(pk=manual.pk).update(
        created_at=timezone.now() - timedelta(seconds=MANUAL_PAUSE_SECONDS)
    )
    assert cues.product_for(_cue(lineup[0])).pk == lineup[0].pk  # the cues resume


def test_the_shows_own_features_do_not_pause_it():
    from events import services
    from events.prerecorded.show import CueFired

    cues, event, host, lineup = _demo_show()
    own = services.feature_product(event=event, product=lineup[0], by=host)
    cues.made(CueFired(scheduled=None, media_time=4.0, highlight=own))

    assert cues.product_for(_cue(lineup[1])).pk == lineup[1].pk


@pytest.mark.media
@pytest.mark.django_db(transaction=True)  # the upload's transcode is queued after a real commit
@pytest.mark.skipif(not shutil.which("ffprobe"), reason="ffmpeg is not installed (apt-get install ffmpeg)")
def test_without_a_media_server_the_show_plays_as_a_published_shoppable_video(tmp_path, client, settings):
    import threading

    from demo.video_show import publish_demo_video
    from events.srt_cues import CueSpec

    settings.CELERY_TASK_ALWAYS_EAGER = True  # as make demo without Redis
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    event, host, lineup = Command().demo_event()
    products = lineup[:2]
    video = demo_video_path(tmp_path, products)
    cues = [
        CueSpec(c.product, c.start_ms, c.end_ms)
        for c in write_demo_video(video, products, title="Demo", per_product_ms=2_000)
    ]

    url = publish_demo_video(
        organization=event.organization, video=video, cues=cues, by=host, stop=threading.Event()
    )
    again = publish_demo_video(
        organization=event.organization, video=video, cues=cues, by=host, stop=threading.Event()
    )

    assert url == again  # found by its title the next time, not uploaded twice
    page = client.get(url.removeprefix(settings.SITE_URL.rstrip("/")))
    assert page.status_code == 200
    from recordings.models import Recording

    recording = Recording.objects.get(title__startswith="Northwind Trail Gear Show")
    assert recording.is_ready and recording.is_published
    assert [cue.product_id for cue in recording.cues.order_by("start_ms")] == [p.pk for p in products]


def test_without_nginx_rtmp_the_show_command_says_so_and_plays_the_video_instead(monkeypatch, tmp_path):
    import io
    import threading

    from demo import video_show
    from demo.management.commands import demo_show
    from demo.show import demo_cues

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    monkeypatch.setattr(demo_show, "has_rtmp_nginx", lambda path: False)
    monkeypatch.setattr(demo_show, "write_demo_video", lambda path, products, title: demo_cues(products))
    published = []
    monkeypatch.setattr(
        video_show,
        "publish_demo_video",
        lambda **kw: published.append(kw) or "http://127.0.0.1:8000/v/northwind/x/",
    )
    out, err = io.StringIO(), io.StringIO()
    stop = threading.Event()
    stop.set()  # the process's Ctrl-C, so that the command returns once it has published

    Command(stdout=out, stderr=err).run_show(directory=tmp_path, once=False, stop=stop)

    assert "apt-get install nginx libnginx-mod-rtmp" in err.getvalue()
    assert "as a shoppable video: http://127.0.0.1:8000/v/northwind/x/" in out.getvalue()
    assert len(published[0]["cues"]) == 8
