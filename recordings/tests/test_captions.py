"""Captions (issue 16): WebVTT files checked whole (every problem with its line, nothing stored
from a bad file), attached in the studio by the brand's editors, served to whoever may watch the
recording and named by the replay page's <track>."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory
from recordings import webvtt
from recordings.models import CaptionTrack, Recording
from recordings.services.captions import attach_captions

pytestmark = pytest.mark.django_db

GOOD = """WEBVTT - spring looks

NOTE written by hand

1
00:00.500 --> 00:02.000 line:90%
Welcome to the <b>spring</b> show

00:01.500 --> 00:04.000
Overlapping: a second speaker

01:00:00.000 --> 01:00:01.250
Ünïcödé stays
"""


def problems(data: bytes) -> list[str]:
    with pytest.raises(webvtt.InvalidWebVtt) as caught:
        webvtt.parse_webvtt(data)
    return [str(problem) for problem in caught.value.problems]


def test_a_good_file_is_read_with_its_cues_overlapping_ones_included():
    vtt = webvtt.parse_webvtt(("\ufeff" + GOOD.replace("\n", "\r\n")).encode())

    assert [(c.start_ms, c.end_ms, c.line) for c in vtt.cues] == [
        (500, 2000, 6),
        (1500, 4000, 9),
        (3_600_000, 3_601_250, 12),
    ]
    assert vtt.cues[0].text == "Welcome to the <b>spring</b> show"
    assert vtt.text.startswith("WEBVTT - spring looks\n") and "\r" not in vtt.text


def test_a_file_that_is_not_webvtt_is_refused_at_line_one():
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nHello\n"
    assert problems(srt) == ["line 1: A WebVTT file starts with the line WEBVTT."]
    assert problems(b"WEBVTTX\n\n00:01.000 --> 00:02.000\nHi\n") == [
        "line 1: A WebVTT file starts with the line WEBVTT."
    ]


def test_every_bad_timestamp_is_reported_with_its_line():
    text = (
        "WEBVTT\n\n"
        "00:01,000 --> 00:02.000\nSRT's comma\n\n"  # line 3
        "00:03.000 --> 00:61.000\nSixty-one seconds\n\n"  # line 6
        "00:05.000 --> 00:04.000\nBackwards\n\n"  # line 9
        "cue-4\n00:06.000 -> 00:07.000\nHalf an arrow\n\n"  # line 12 (its block)
        "00:08.000 --> 00:09.000\nText with --> inside\n\n"  # line 16, its text 17
        "00:08.000 --> 00:09.000\nFine\n\n"  # line 19
        "00:07.000 --> 00:10.000\nOut of order\n"  # line 22
    )
    assert problems(text.encode()) == [
        "line 3: “00:01,000” is not a WebVTT time (mm:ss.ttt or hh:mm:ss.ttt).",
        "line 6: “00:61.000” is not a WebVTT time (mm:ss.ttt or hh:mm:ss.ttt).",
        "line 9: The end must come after the start.",
        "line 12: Expected a timing line like 00:01.000 --> 00:04.000.",
        "line 17: A caption's text may not hold “-->” (a blank line missing?).",
        "line 22: Cues must be in order of their start time.",
    ]


def test_a_non_utf8_file_names_the_line_of_its_first_bad_byte():
    data = "WEBVTT\n\n00:01.000 --> 00:02.000\nCafé\n".encode("latin-1")
    assert problems(data) == ["line 4: This is not UTF-8 text; save the file as UTF-8."]


def test_a_huge_or_empty_file_is_refused():
    huge = b"WEBVTT\n\n" + b"00:01.000 --> 00:02.000\n" + b"x" * webvtt.MAX_BYTES
    assert problems(huge) == ["The file is larger than 512 KB, the most allowed."]
    assert problems(b"WEBVTT\n\nNOTE nothing else\n") == ["The file has no captions."]


# The studio ------------------------------------------------------------------------------------


@pytest.fixture
def video(brand):
    return Recording.objects.create(
        organization=brand,
        backend=Recording.Backend.UPLOAD,
        title="Spring looks",
        slug="spring-looks",
        status=Recording.Status.READY,
        duration_ms=60_000,
        master_path="replays/uploads/1/master.m3u8",
        published_at="2026-01-01T00:00:00Z",
    )


@pytest.fixture
def host(client, brand):
    client.force_login(member(brand, role=Membership.Role.HOST))
    return client


def upload(client, video, data: bytes, **fields):
    file = SimpleUploadedFile("captions.vtt", data, content_type="text/vtt")
    return client.post(
        reverse("videos:captions", args=[video.pk]), {"language": "en", **fields, "file": file}
    )


def test_an_editor_uploads_captions_and_a_new_file_replaces_the_language(host, video):
    response = upload(host, video, GOOD.encode(), language="de")
    assert response.status_code == 302
    assert response["Location"] == reverse("videos:detail", args=[video.pk]) + "#captions"
    track = CaptionTrack.objects.get(recording=video)
    assert (track.language, track.label, track.cue_count) == ("de", "Deutsch", 3)

    upload(host, video, b"WEBVTT\n\n00:01.000 --> 00:02.000\nNur eins\n", language="de", label="German")
    track = CaptionTrack.objects.get(recording=video)
    assert (track.label, track.cue_count) == ("German", 1)
    page = host.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert 'German <span class="muted">(de, 1 caption)</span>' in page
    assert "Remove: German" in page


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"1\n00:00:01,000 --> 00:00:02,000\nHi\n", "line 1: A WebVTT file starts with the line WEBVTT."),
        (b"WEBVTT\n\n00:01.000 --> 00:0x.000\nHi\n", "line 3: “00:0x.000” is not a WebVTT time"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nÀ\n".encode("cp1252"), "line 4: This is not UTF-8 text"),
        (b"WEBVTT\n\n" + b"a" * (webvtt.MAX_BYTES + 1), "The file is larger than 512 KB"),
    ],
)
def test_a_bad_file_shows_the_form_again_with_its_lines_and_stores_nothing(host, video, data, expected):
    response = upload(host, video, data)

    assert response.status_code == 400
    errors = response.context["captions_form"].errors["file"]
    assert any(error.startswith(expected) for error in errors), errors
    assert expected.split("“")[0] in response.content.decode()
    assert not CaptionTrack.objects.exists()


def test_a_bad_language_tag_is_a_form_error(host, video):
    response = upload(host, video, GOOD.encode(), language="english please")
    assert response.status_code == 400
    assert response.context["captions_form"].errors["language"] == [
        "Write a language tag such as en, de or pt-BR."
    ]
    assert not CaptionTrack.objects.exists()


def test_only_the_brands_editors_attach_or_remove_captions(client, brand, video):
    client.force_login(member(brand, role=Membership.Role.MODERATOR))
    assert upload(client, video, GOOD.encode()).status_code == 403
    client.force_login(member(OrganizationFactory()))
    assert upload(client, video, GOOD.encode()).status_code == 404
    with pytest.raises(PermissionDenied):
        attach_captions(
            recording=video,
            data=GOOD.encode(),
            language="en",
            label="English",
            by=member(OrganizationFactory()),
        )
    track = attach_captions(
        recording=video, data=GOOD.encode(), language="en", label="English", by=member(brand)
    )
    delete = reverse("videos:captions-delete", args=[video.pk, track.pk])
    assert client.post(delete).status_code == 404
    client.force_login(member(brand))
    assert client.post(delete).status_code == 302
    assert not CaptionTrack.objects.exists()


# Viewers -----------------------------------------------------------------------------------------


def test_the_replay_page_names_its_tracks_and_serves_them(client, brand, video):
    track = attach_captions(
        recording=video, data=GOOD.encode(), language="de", label="Deutsch", by=member(brand)
    )
    page = client.get(reverse("replays:video", args=[brand.slug, video.slug]))
    assert page.status_code == 200
    url = page.context["captions"][0]["url"]
    assert url.startswith(reverse("replays:captions", args=[track.pk]) + "?v=")
    html = page.content.decode()
    assert f'<track kind="captions" src="{url}" srclang="de" label="Deutsch"' in html.replace("&amp;", "&")

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert response.content.decode() == GOOD
    assert "private" in response["Cache-Control"]  # an uploaded video's media is private


def test_captions_follow_the_recordings_watch_rule(client, brand):
    event = LiveEventFactory(organization=brand, status=LiveEvent.Status.ENDED, is_private=True)
    recording = Recording.objects.create(
        organization=brand, event=event, status=Recording.Status.READY, master_path="r/1/master.m3u8"
    )
    track = attach_captions(
        recording=recording, data=GOOD.encode(), language="en", label="English", by=member(brand)
    )
    url = reverse("replays:captions", args=[track.pk])
    assert client.get(url).status_code == 404  # a private show's captions: not for outsiders
    client.force_login(member(brand))
    assert client.get(url).status_code == 200

    event.is_private = False
    event.save(update_fields=["is_private"])
    client.logout()
    response = client.get(url)
    assert response.status_code == 200 and "public" in response["Cache-Control"]
