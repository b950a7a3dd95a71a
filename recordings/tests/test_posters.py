"""A brand uploads a picture as its video's poster: stored as a fresh JPEG (upright, without its
metadata, fitted in 1920x1920) under a new name, the previous picked poster deleted; anything that
is not a readable JPEG, PNG or WebP of a sensible size is refused with what is wrong, and changes
nothing. (The frame picker: test_video_files.py.)"""

from __future__ import annotations

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.middleware.csrf import _get_new_csrf_string
from django.urls import reverse
from PIL import Image

from accounts.models import Membership
from accounts.tests.factories import member
from recordings.exceptions import InvalidUpload
from recordings.models import Recording
from recordings.services import posters
from recordings.tests.test_upload_limits import post_through_asgi
from recordings.tests.upload_media import files_in

pytestmark = pytest.mark.django_db


def picture(size=(400, 200), kind="JPEG", **save) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, kind, **save)
    return out.getvalue()


@pytest.fixture
def video(brand, on_disk):
    (on_disk[1] / "private/abc").mkdir(parents=True)
    (on_disk[1] / "private/abc/poster-old.jpg").write_bytes(picture())
    return Recording.objects.create(
        organization=brand, backend="upload", title="Clip", slug="clip", status="ready",
        upload="uploads/1/key/clip.mp4", cdn_prefix="private/abc", duration_ms=2000,
        thumbnails=["private/abc/poster-old.jpg"],
    )  # fmt: skip


def send(client, video, image: bytes, name="poster.jpg", content_type="image/jpeg", **data):
    file = SimpleUploadedFile(name, image, content_type=content_type)
    return client.post(reverse("videos:poster", args=[video.pk]), {"image": file, **data}, follow=True)


def test_an_uploaded_picture_becomes_the_poster_upright_and_without_its_metadata(host_client, video, on_disk):
    exif = Image.Exif()
    exif[0x0112] = 6  # the phone was held sideways: turn 90 degrees to show it upright
    exif[0x8825] = {2: (52.0, 31.0, 0.0)}  # where it was taken
    response = send(host_client, video, picture((3000, 1000), exif=exif.tobytes()))

    assert "The poster is this picture now" in response.content.decode()
    video.refresh_from_db()
    (poster,) = video.thumbnails
    assert poster.startswith("private/abc/poster-") and poster != "private/abc/poster-old.jpg"
    assert not (on_disk[1] / "private/abc/poster-old.jpg").exists()  # the previous pick goes
    with Image.open(on_disk[1] / poster) as stored:
        assert stored.format == "JPEG" and stored.size == (640, 1920)  # upright, fitted
        assert not stored.getexif()
    studio = host_client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert poster in studio and "Or upload a picture" in studio


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"GIF89a" + b"\0" * 100, "poster.gif", "not a picture we can read"),
        (picture(kind="GIF"), "poster.gif", "Posters are JPEG, PNG or WebP pictures; this one is GIF."),
        (
            picture((100, 400), "PNG"),
            "poster.png",
            "This picture is 100x400 pixels; posters need at least 160",
        ),
        (
            picture((9000, 200), "PNG"),
            "poster.png",
            "This picture is 9000x200 pixels; posters may be at most 8000",
        ),
        (b"just some text", "poster.jpg", "not a picture we can read"),
    ],
    ids=["broken", "gif", "tiny", "huge", "text"],
)
def test_a_picture_we_cannot_use_is_refused_with_what_is_wrong(
    host_client, video, on_disk, content, name, message
):
    response = send(host_client, video, content, name=name)
    page = response.content.decode()
    assert "The poster was not changed." in page and message in page
    video.refresh_from_db()
    assert video.thumbnails == ["private/abc/poster-old.jpg"]
    assert [p.name for p in files_in(on_disk[1])] == ["poster-old.jpg"]


def test_a_moment_or_a_picture_not_both_nor_neither(host_client, video):
    assert "Either a moment or a picture" in send(host_client, video, picture(), at="1").content.decode()
    empty = host_client.post(reverse("videos:poster", args=[video.pk]), {}, follow=True).content.decode()
    assert "Say which moment, or choose a picture." in empty


def test_a_picture_too_large_is_refused_before_its_body_is_read(host_client, video, monkeypatch):
    monkeypatch.setattr(posters, "MAX_IMAGE_BYTES", 1000)
    assert "posters may be at most 1000 bytes" in send(host_client, video, picture()).content.decode()

    csrf = _get_new_csrf_string()
    host_client.cookies["csrftoken"] = csrf
    path = reverse("videos:poster", args=[video.pk])
    status, headers, _, read = post_through_asgi(
        host_client, path, size=10**8, accept="text/html", headers=[(b"x-csrftoken", csrf.encode())]
    )
    assert (status, read) == (302, 0)  # back to the video's page with the message, body unread
    assert headers[b"Location"].decode() == reverse("videos:detail", args=[video.pk])


def test_only_a_ready_video_by_who_may_edit_it(client, brand, video):
    video.status = "processing"
    video.save()
    with pytest.raises(InvalidUpload, match="once the video has finished processing"):
        posters.set_poster_image(
            recording=video, image=SimpleUploadedFile("p.jpg", picture()), by=member(brand)
        )
    client.force_login(member(brand, role=Membership.Role.MODERATOR))
    assert client.post(reverse("videos:poster", args=[video.pk]), {"image": picture()}).status_code == 403
