"""What the replay page's first HTML holds for its first paint (issue 16's Lighthouse line): the
poster (preloaded: the page's largest paint), the card of the cue on screen as the video opens (0 s
or ?t=: nothing moves when replay.js takes over, as its activeCue follows the same rule), and no
hls.js (replay.js loads it when the viewer presses play)."""

import re

import pytest
from django.urls import reverse

from recordings.models import ProductCue
from recordings.tests.test_replay_views import ended_show, ready_recording  # noqa: F401 (fixture)
from recordings.views.replay import active_cue

pytestmark = pytest.mark.django_db


def page(client, event, query: str = "") -> str:
    url = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})
    response = client.get(url + query)
    assert response.status_code == 200
    return response.content.decode()


def card_of(html: str) -> re.Match:
    return re.search(r'<article class="product-card" id="product-card"[^>]*>', html)


def test_the_poster_is_preloaded_and_hls_js_is_not_on_the_page(client, ended_show):  # noqa: F811
    event, recording, _ = ended_show
    html = page(client, event)
    poster = recording.file_url(recording.thumbnails[len(recording.thumbnails) // 3])
    assert f'poster="{poster}"' in html
    assert f'<link rel="preload" as="image" href="{poster}" fetchpriority="high">' in html
    assert 'preload="none"' in html
    assert "<script" not in re.search(r"<video[^>]*>", html).group(0)
    assert not re.search(r"<script[^>]*vendor/hls/hls\.light\.min", html)  # only its URL, for replay.js
    assert re.search(r'<video[^>]* data-hls-src="/static/vendor/hls/hls\.light\.min\.js"', html)


def test_a_recording_without_a_thumbnail_has_no_poster_to_preload(client, ended_show):  # noqa: F811
    event, recording, _ = ended_show
    recording.thumbnails = []
    recording.save(update_fields=["thumbnails"])
    html = page(client, event)
    assert "poster=" not in html and 'rel="preload" as="image"' not in html


def test_the_card_of_a_cue_at_0_s_is_in_the_first_html(client, ended_show):  # noqa: F811
    event, recording, (_, fleece, _) = ended_show
    html = page(client, event)
    assert "hidden" in card_of(html).group(0)  # the first cue starts at 3 s
    assert re.search(r'<p class="slot-empty" id="slot-empty">', html)

    opening = ProductCue.objects.create(recording=recording, product=fleece, start_ms=0, end_ms=2_000)
    html = page(client, event)
    tag = card_of(html).group(0)
    assert f'data-product-id="{fleece.pk}"' in tag and "hidden" not in tag
    assert '<p class="slot-empty" id="slot-empty" hidden>' in html
    assert fleece.name in html[card_of(html).start() : html.index("</article>", card_of(html).start())]
    chapter = re.search(rf'<button type="button" class="chapter[^"]*"[^>]*data-cue-id="{opening.pk}"', html)
    assert 'class="chapter is-current" aria-current="true"' in chapter.group(0)
    assert re.search(rf'<li class="lineup-item is-featured" data-product-id="{fleece.pk}"', html)


def test_a_link_to_a_moment_opens_with_that_moments_card(client, ended_show):  # noqa: F811
    event, _, (jacket, fleece, _) = ended_show
    assert f'data-product-id="{jacket.pk}"' in card_of(page(client, event, "?t=4")).group(0)
    assert f'data-product-id="{fleece.pk}"' in card_of(page(client, event, "?t=90")).group(0)
    for query in ("?t=7", "?t=abc", "?t=-5", "?t=nan", "?t=1e30"):  # between cues, or no moment: 0 s
        assert "hidden" in card_of(page(client, event, query)).group(0), query


def test_active_cue_follows_replay_js():
    def cue(pk, start, end=None):
        return ProductCue(pk=pk, start_ms=start, end_ms=end)

    cues = [cue(1, 0, 2_000), cue(2, 1_000), cue(3, 5_000, 6_000), cue(4, 8_000)]
    # replay.js: a cue covers [start, end), or without an end until the next cue starts; where cues
    # overlap the one that started last wins.
    expected = {
        0: 1,
        999: 1,
        1_000: 2,
        1_999: 2,
        2_000: 2,
        4_999: 2,
        5_000: 3,
        5_999: 3,
        6_000: None,
        8_000: 4,
    }
    for ms, pk in expected.items():
        found = active_cue(cues, ms)
        assert (found.pk if found else None) == pk, ms
    assert active_cue([], 0) is None


def test_the_chat_and_shop_styles_are_in_the_head(client, ended_show):  # noqa: F811
    html = page(client, ended_show[0])
    head = html[: html.index("</head>")]
    for sheet in ("viewer", "player", "chat", "shop"):  # the card's Buy link moved when shop.css came late
        assert re.search(rf'<link rel="stylesheet" href="/static/css/{sheet}\.css">', head), sheet
