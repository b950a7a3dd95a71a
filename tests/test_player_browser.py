"""The player (issue 16) in a real browser against a real ASGI server, on the replay fixtures of
tests/test_replay_browser.py (a 12 s ffmpeg HLS VOD played by hls.js): the controls work from the
keyboard with named buttons, captions uploaded as WebVTT show on the replay, and an ended show's
page says nothing is on now, rendered so and when the show ends while a viewer watches."""

from __future__ import annotations

import math
import secrets
import threading
import time
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.tests.factories import member
from events import services
from events.models import EventProduct
from events.tests.factories import LiveNowEventFactory
from recordings.services.captions import attach_captions
from tests.test_accessibility_browser import AXE, violations
from tests.test_replay_browser import (  # noqa: F401 (fixtures)
    DEADLINE_MS,
    PHONE,
    asgi_server,
    in_a_thread,
    recordings_on_disk,
    replay,
)

CAPTIONS = """WEBVTT

00:00.000 --> 00:06.000
Hello from the trail

00:06.000 --> 00:12.000
Packs into its own pocket
"""


@pytest.fixture
def captioned(replay, recordings_on_disk):  # noqa: F811
    """The replay with English captions and a master playlist of two renditions (the same
    segments under two sizes: hls.js lists two levels, so the quality menu shows)."""
    event, recording, _ = replay
    master = recording.master_path.replace("master.m3u8", "two-sizes.m3u8")
    Path(recordings_on_disk.path(master)).write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"\n'
        "360p/playlist.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,CODECS="avc1.64001e,mp4a.40.2"\n'
        "360p/playlist.m3u8\n"
    )
    recording.master_path = master
    recording.save(update_fields=["master_path"])
    attach_captions(
        recording=recording,
        data=CAPTIONS.encode(),
        language="en",
        label="English",
        by=member(event.organization),
    )
    return replay


SET_TRACK_MODE = """(mode) => new Promise((done) => {
  for (const t of document.getElementById('video').textTracks) {
    if (t.mode !== 'disabled') t.mode = mode;
  }
  requestAnimationFrame(() => requestAnimationFrame(done));
})"""


REWRITTEN_ATTRIBUTES = """(ms) => new Promise((done) => {
  const rewritten = [];
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      if (r.oldValue === r.target.getAttribute(r.attributeName)) rewritten.push(r.attributeName);
    }
  });
  const bar = document.querySelector('.player-controls');
  observer.observe(bar, { subtree: true, attributes: true, attributeOldValue: true });
  setTimeout(() => { observer.disconnect(); done(rewritten); }, ms);
})"""


def video_shots(page, *modes: str | None) -> list:
    """Grey screenshots of the paused video, one per mode: None as drawn now, else with its
    showing tracks set to that mode ("hidden", "showing") and two frames drawn."""
    import io

    from PIL import Image

    shots = []
    for mode in modes:
        if mode is not None:
            page.evaluate(SET_TRACK_MODE, mode)
        shots.append(Image.open(io.BytesIO(page.locator("#video").screenshot())).convert("L"))
    return shots


def caption_pixels(page) -> int:
    """How many pixels of the paused video's picture the captions change: its screenshot with
    the showing track hidden against the same with it showing (their letters and any box)."""
    from PIL import ImageChops

    without, drawn = video_shots(page, "hidden", "showing")
    return sum(ImageChops.difference(without, drawn).histogram()[41:])  # pixels changed by > 40


def caption_box(page):
    """Where on the paused video's picture the captions are drawn now: the box (left, top, right,
    bottom, in CSS pixels) of what hiding the track changes, or None."""
    from PIL import ImageChops

    now, without, _ = video_shots(page, None, "hidden", "showing")  # as drawn, without, and back
    return ImageChops.difference(now, without).point(lambda value: 255 if value > 40 else 0).getbbox()


def video_state(page) -> dict:
    return page.evaluate(
        """() => { const v = document.getElementById('video');
                   return {paused: v.paused, muted: v.muted, volume: v.volume, time: v.currentTime,
                           full: document.fullscreenElement && document.fullscreenElement.id}; }"""
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_replay_controls_work_from_the_keyboard_and_show_captions(
    captioned,
    asgi_server,  # noqa: F811
    page,
    artifacts_dir,
):
    from playwright.sync_api import expect

    event, _, _ = captioned
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{asgi_server.url}{reverse('replays:event', args=[event.organization.slug, event.slug])}")
    # The bar is there before anything of the video loads (replay.js loads it on play: K below).
    page.wait_for_function("() => window.liveshop?.screen === 'replay'", timeout=DEADLINE_MS)
    assert page.evaluate("document.getElementById('video').controls") is False  # ours, not the browser's
    bar = page.locator(".player-controls")
    play = bar.get_by_role("button", name="Play")
    expect(play).to_be_visible()
    for name in ("Mute", "Full screen", "Captions"):
        expect(bar.get_by_role("button", name=name)).to_be_visible()
    expect(bar.get_by_role("slider", name="Volume")).to_be_visible()
    expect(bar.get_by_role("slider", name="Seek")).to_be_visible()
    expect(bar.get_by_role("button", name="Jump to live")).to_have_count(0)  # a recording has no live edge
    if AXE.exists():  # axe-core (npm): no serious or critical WCAG 2.2 AA finding with the bar on
        assert violations(page) == []

    # The keyboard, from the page (nothing focused): M mutes, K plays, Space pauses.
    page.locator("h1").click()
    page.keyboard.press("m")
    expect(bar.get_by_role("button", name="Unmute")).to_be_visible()
    assert video_state(page)["muted"] is True
    page.keyboard.press("k")
    page.wait_for_function(
        "() => { const v = document.getElementById('video'); return !v.paused && v.currentTime > 0.5; }",
        timeout=DEADLINE_MS,
    )
    expect(bar.get_by_role("button", name="Pause")).to_be_visible()
    # Playing, the bar is updated on every timeupdate and each second, but writes only what
    # changed (a `hidden` written again wakes the lower-third observer, which reads the layout).
    rewritten = page.evaluate(REWRITTEN_ATTRIBUTES, 2500)
    assert rewritten == [], rewritten
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('video').paused", timeout=DEADLINE_MS)
    expect(play).to_be_visible()
    # M again brings the sound back; the arrows set the volume.
    page.keyboard.press("m")
    assert video_state(page)["muted"] is False
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert video_state(page)["volume"] == pytest.approx(0.8)
    page.keyboard.press("ArrowUp")
    assert video_state(page)["volume"] == pytest.approx(0.9)
    expect(bar.locator('[data-field="status"]')).to_have_text("Volume 90%")
    # Left/right seek 5 s.
    before = video_state(page)["time"]
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "t => Math.abs(document.getElementById('video').currentTime - t) < 0.3",
        arg=min(before + 5, 12),
        timeout=DEADLINE_MS,
    )

    # Tab reaches the buttons; Space on a focused button presses that button (not the page's Space).
    bar.get_by_role("button", name="Play").focus()
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.getElementById('video').paused", timeout=DEADLINE_MS)
    page.keyboard.press("Space")
    page.wait_for_function("() => document.getElementById('video').paused", timeout=DEADLINE_MS)

    # F: the player (with its bar and the card's slot beside it) goes full screen, and back.
    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement?.id === 'player'", timeout=DEADLINE_MS)
    expect(bar.get_by_role("button", name="Exit full screen")).to_be_visible()
    page.keyboard.press("f")
    page.wait_for_function("() => !document.fullscreenElement", timeout=DEADLINE_MS)

    # Quality: Auto, or one of the stream's renditions (hls.js's levels), tallest first.
    quality = bar.get_by_role("combobox", name="Quality")
    expect(quality).to_be_visible()
    expect(quality.locator("option")).to_have_text(["Auto", "360p", "180p"])
    quality.select_option(label="180p")
    page.wait_for_function(
        "() => { const h = window.liveshop.hls; return h.levels[h.currentLevel]?.height === 180; }",
        timeout=DEADLINE_MS,
    )
    quality.select_option(label="Auto")
    page.wait_for_function("() => window.liveshop.hls.autoLevelEnabled", timeout=DEADLINE_MS)

    # Captions: the .vtt served beside the replay, off until the CC button (or C) turns them on.
    captions = bar.get_by_role("button", name="Captions")
    expect(captions).to_have_attribute("aria-pressed", "false")
    page.evaluate("document.getElementById('video').currentTime = 7")
    captions.click()
    expect(captions).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        """() => { const v = document.getElementById('video');
                   const t = [...v.textTracks].find(t => t.mode === 'showing');
                   return t && t.activeCues
                     && [...t.activeCues].some(c => c.text === 'Packs into its own pocket'); }""",
        timeout=DEADLINE_MS,
    )
    page.screenshot(path=artifacts_dir / "player-replay-captions.png")
    # Drawn above the control bar's buttons (the bar shows while paused), not under them.
    drawn = caption_box(page)
    buttons_top = play.bounding_box()["y"] - page.locator("#video").bounding_box()["y"]
    assert drawn is not None and drawn[3] <= buttons_top, (drawn, buttons_top)

    # The caption style menu beside CC: size and background, drawn at once, kept in the browser.
    style = bar.locator('[data-control="caption-style"]')
    expect(style).to_be_visible()
    medium = caption_pixels(page)
    style.locator("summary").click()
    style.get_by_role("combobox", name="Size").select_option(label="Extra large")
    style.get_by_role("combobox", name="Background").select_option(label="Shadow, no box")
    player = page.locator("#player")
    expect(player).to_have_attribute("data-cc-size", "xlarge")
    expect(player).to_have_attribute("data-cc-background", "shadow")
    page.keyboard.press("Escape")  # closes the menu, focus back on its button
    expect(style).not_to_have_attribute("open", "")
    larger = caption_pixels(page)
    style.locator("summary").click()
    style.get_by_role("combobox", name="Background").select_option(label="Dark box")
    boxed = caption_pixels(page)
    assert boxed > 1.5 * medium, (medium, boxed)  # the letters, and their box, grew
    assert larger < 0.7 * boxed, (larger, boxed)  # without the box, fewer pixels change
    style.get_by_role("combobox", name="Background").select_option(label="Shadow, no box")
    page.keyboard.press("Escape")
    page.screenshot(path=artifacts_dir / "player-replay-captions-styled.png")
    page.reload()
    page.wait_for_function("() => window.liveshop?.screen === 'replay'", timeout=DEADLINE_MS)
    expect(player).to_have_attribute("data-cc-size", "xlarge")  # remembered
    expect(bar.locator('[data-control="caption-style"] select[data-caption="size"]')).to_have_value("xlarge")
    captions.click()  # on again after the reload
    expect(captions).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("c")
    expect(captions).to_have_attribute("aria-pressed", "false")

    # A phone: the bar is under the picture, not over its lower third.
    page.set_viewport_size(PHONE)
    video_box = page.locator("#video").bounding_box()
    bar_box = bar.bounding_box()
    assert bar_box["y"] >= video_box["y"] + video_box["height"] - 1, (bar_box, video_box)
    page.screenshot(path=artifacts_dir / "player-replay-phone.png", full_page=True)
    assert errors == []


class GrowingPlaylist(threading.Thread):
    """A live HLS playlist that grows in real time from the VOD's segments (cycled, with a
    discontinuity at each wrap), a sliding window of WINDOW segments, as a media server's."""

    WINDOW = 5

    def __init__(self, folder: Path):
        super().__init__(daemon=True)
        vod = (folder / "playlist.m3u8").read_text().splitlines()
        self.segments = [
            (float(line.split(":")[1].rstrip(",")), vod[i + 1])
            for i, line in enumerate(vod)
            if line.startswith("#EXTINF:")
        ]
        self.folder, self.stopping = folder, threading.Event()
        self.count = 3  # segments listed so far
        self.write()

    def write(self) -> None:
        first = max(0, self.count - self.WINDOW)
        n = len(self.segments)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{math.ceil(max(d for d, _ in self.segments))}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{first // n}",
        ]
        for index in range(first, self.count):
            duration, name = self.segments[index % n]
            if index % n == 0 and index > first:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{duration:.3f},", name]
        temporary = self.folder / "live.m3u8.tmp"
        temporary.write_text("\n".join(lines) + "\n")
        temporary.replace(self.folder / "live.m3u8")

    def run(self) -> None:
        while not self.stopping.wait(self.segments[self.count % len(self.segments)][0]):
            self.count += 1
            self.write()


@pytest.fixture
def live_show(replay, media_on_disk):  # noqa: F811
    """A live show of the replay's brand streaming the replay's segments as a growing live
    playlist (hls.js plays it as live), served from the test server's media."""
    event, recording, products = replay
    folder = Path(media_on_disk) / recording.cdn_prefix / "media" / "hls" / "360p"
    stream = GrowingPlaylist(folder)
    stream.start()
    show = LiveNowEventFactory(
        id=10**9 + secrets.randbelow(10**9),
        organization=event.organization,
        title="Trail gear, live",
        channel_id="",  # nothing to revoke in the fake video backend when the show ends
        playback_url=f"/media/{recording.cdn_prefix}/media/hls/360p/live.m3u8",
    )
    for position, product in enumerate(products):
        EventProduct.objects.create(event=show, product=product, position=position)
    yield show, products, member(event.organization), stream
    stream.stopping.set()
    stream.join(timeout=5)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_live_controls_and_a_show_that_ends_while_watching(
    live_show,
    replay,  # noqa: F811
    asgi_server,  # noqa: F811
    page,
    artifacts_dir,
):
    from playwright.sync_api import expect

    show, products, host, stream = live_show
    ended, _, _ = replay
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # An ended show's page, as rendered: no card, no "On now", no watcher count.
    page.goto(f"{asgi_server.url}{reverse('viewer:watch', args=[ended.organization.slug, ended.slug])}")
    page.wait_for_function("() => window.liveshop.socket === 'open'", timeout=DEADLINE_MS)
    expect(page.locator("#status-pill")).to_have_text("Ended")
    expect(page.locator(".product-slot")).to_be_hidden()
    expect(page.locator("#viewer-count")).to_be_hidden()
    expect(page.locator(".lineup-on:visible")).to_have_count(0)
    expect(page.locator(".player-controls")).to_be_hidden()

    # A live show: the video plays muted; the bar's buttons and keys work.
    page.goto(f"{asgi_server.url}{reverse('viewer:watch', args=[show.organization.slug, show.slug])}")
    page.wait_for_function(
        "() => { const v = document.getElementById('video'); return !v.paused && v.currentTime > 0; }",
        timeout=DEADLINE_MS,
    )
    bar = page.locator(".player-controls")
    expect(bar).to_be_visible()
    expect(bar.get_by_role("button", name="Unmute")).to_be_visible()
    expect(bar.get_by_role("slider", name="Seek")).to_have_count(0)
    page.locator("h1").click()
    page.keyboard.press("m")  # the first "tap": sound
    expect(bar.get_by_role("button", name="Mute")).to_be_visible()
    expect(page.locator("#unmute")).to_be_hidden()
    page.keyboard.press("m")  # and it stays reachable: silence again
    expect(bar.get_by_role("button", name="Unmute")).to_be_visible()
    # Paused, the show goes on without the viewer: "Jump to live" appears and brings them back.
    jump = bar.get_by_role("button", name="Jump to live")
    expect(jump).to_be_hidden()
    page.keyboard.press("k")
    page.wait_for_function("() => document.getElementById('video').paused", timeout=DEADLINE_MS)
    paused_at = page.evaluate("document.getElementById('video').currentTime")
    expect(jump).to_be_visible()
    grown_to = stream.count + 2  # two more segments filmed while paused
    deadline = time.monotonic() + DEADLINE_MS / 1000
    while stream.count < grown_to and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    page.screenshot(path=artifacts_dir / "player-live-behind.png")
    jump.click()
    page.wait_for_function(
        "t => { const v = document.getElementById('video'); return !v.paused && v.currentTime > t + 3; }",
        arg=paused_at,
        timeout=DEADLINE_MS,
    )
    expect(jump).to_be_hidden(timeout=DEADLINE_MS)

    # A phone: the bar comes under the picture once the video plays; its room is kept from the
    # first paint, so what is below the player does not move then (a layout shift).
    phone = page.context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto(page.url, wait_until="domcontentloaded")
    screen, before = phone.evaluate(
        "() => [document.getElementById('player').dataset.screen,"
        " document.querySelector('.product-slot').getBoundingClientRect().top + scrollY]"
    )
    assert screen != "none", screen  # measured before the video plays
    phone.wait_for_function(
        "() => document.getElementById('player').dataset.screen === 'none'", timeout=DEADLINE_MS
    )
    expect(phone.locator(".player-controls")).to_be_visible()
    slot_top = "() => document.querySelector('.product-slot').getBoundingClientRect().top + scrollY"
    after = phone.evaluate(slot_top)
    assert abs(after - before) <= 1, (before, after)
    phone.close()

    # A short frame (an embed, say) where the cart button would sit on the picture's lower third:
    # it goes to the top instead.
    page.set_viewport_size({"width": 390, "height": 400})
    page.evaluate("document.getElementById('cart-button').hidden = false")
    cart = page.locator("#cart-button")
    expect(cart).to_have_attribute("data-clear-player", "")
    player_box, cart_box = page.locator("#video").bounding_box(), cart.bounding_box()
    lower_third_top = player_box["y"] + player_box["height"] * 2 / 3
    assert cart_box["y"] + cart_box["height"] <= lower_third_top, (cart_box, player_box)
    page.screenshot(path=artifacts_dir / "player-live-short-frame.png")
    page.evaluate("document.getElementById('cart-button').hidden = true")
    page.set_viewport_size({"width": 1280, "height": 800})

    in_a_thread(lambda: services.feature_product(event=show, product=products[0], by=host))
    expect(page.locator("#product-card")).to_be_visible(timeout=DEADLINE_MS)
    expect(page.locator("#viewer-count")).to_be_visible(timeout=DEADLINE_MS)
    expect(page.locator(".lineup-item.is-featured .lineup-on")).to_be_visible()
    page.screenshot(path=artifacts_dir / "player-live.png")
    if AXE.exists():
        assert violations(page) == []

    # The show ends while the viewer watches: the socket's end hides every live bit.
    in_a_thread(lambda: services.end_event(event=show, by=host))
    expect(page.locator("#status-pill")).to_have_text("Ended", timeout=DEADLINE_MS)
    expect(page.locator("#product-card")).to_be_hidden()
    expect(page.locator("#viewer-count")).to_be_hidden()
    expect(page.locator(".lineup-on:visible")).to_have_count(0)
    expect(bar).to_be_hidden()
    page.screenshot(path=artifacts_dir / "player-live-ended.png", full_page=True)
    assert errors == []
