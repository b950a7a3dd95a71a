"""Link previews of an event page: Open Graph and Twitter card tags with absolute URLs and public
fields only, and the share button's script (replay pages: recordings/tests/test_replay_share.py)."""

from html.parser import HTMLParser

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from events.models import LiveEvent
from events.templatetags.sharing import is_signed

pytestmark = pytest.mark.django_db


class HeadTags(HTMLParser):
    """The <meta property/name> contents and <link rel> hrefs of a page's head."""

    def __init__(self):
        super().__init__()
        self.meta, self.links, self.scripts = {}, {}, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and (key := attrs.get("property") or attrs.get("name")):
            self.meta[key] = attrs.get("content", "")
        elif tag == "link":
            self.links[attrs["rel"]] = attrs["href"]
        elif tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])


def head_tags(response) -> HeadTags:
    html = response.content.decode()
    parser = HeadTags()
    parser.feed(html[: html.index("</head>")])
    return parser


def test_event_page_unfurls_with_title_description_thumbnail_and_canonical_url(client, event):
    LiveEvent.objects.filter(pk=event.pk).update(
        description="Lipsticks & more", thumbnail="events/spring.jpg"
    )
    path = f"/e/acme/{event.slug}/"

    tags = head_tags(client.get(path, {"utm_source": "x"}))

    page = f"http://testserver{path}"
    assert tags.links["canonical"] == page and tags.meta["og:url"] == page  # without the query
    assert tags.meta["og:title"] == tags.meta["twitter:title"] == "Spring drop · Acme"
    assert tags.meta["og:description"] == tags.meta["twitter:description"] == "Lipsticks & more"
    assert tags.meta["og:image"] == tags.meta["twitter:image"] == "http://testserver/media/events/spring.jpg"
    assert tags.meta["twitter:card"] == "summary_large_image"
    assert "/static/js/viewer/share.js" in tags.scripts


def test_event_page_tags_carry_no_secret(client, event, video):
    event.refresh_from_db()
    tags = head_tags(client.get(f"/e/acme/{event.slug}/"))
    values = " ".join([*tags.meta.values(), *tags.links.values()])

    stream_key = video.get_stream_key(event.channel_id)
    for secret in filter(None, (event.ingest_url, event.channel_id, event.stream_key_encrypted, stream_key)):
        assert secret not in values
    assert "og:image" not in tags.meta and tags.meta["twitter:card"] == "summary"  # no picture yet


def test_a_signed_url_is_never_a_preview_image():
    signed = "https://d1.cloudfront.net/private/k/thumb1.jpg?Expires=1&Signature=abc&Key-Pair-Id=K2"
    request = RequestFactory().get("/v/acme/boots/")
    template = Template("{% load sharing %}{% share_image first second %}")

    assert is_signed(signed) and not is_signed("https://d1.cloudfront.net/public/thumb1.jpg?v=2")
    rendered = template.render(
        Context({"request": request, "first": signed, "second": "/media/events/a.jpg"})
    )
    assert rendered == "http://testserver/media/events/a.jpg"
    assert template.render(Context({"request": request, "first": signed, "second": ""})) == ""
