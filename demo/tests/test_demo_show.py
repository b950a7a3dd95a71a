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
