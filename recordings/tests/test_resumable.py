"""Resumable uploads (recordings.services.resumable): a video sent in parts survives a dropped
part and a reload (the server says what arrived), is checked like any upload when it completes,
and every step is refused for another brand's upload. On disk (our own part PUT, its limits
checked before the body is read, through the ASGI application) and on S3 (moto: real multipart
calls, the parts PUT to presigned URLs)."""

from __future__ import annotations

import io
import subprocess

import pytest
import requests
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from recordings.exceptions import InvalidUpload
from recordings.models import Recording, ResumableUpload
from recordings.services import resumable
from recordings.tests.test_upload_limits import post_through_asgi
from recordings.tests.upload_media import MEDIA_BUCKET, files_in

pytestmark = pytest.mark.django_db

PART = 64 * 1024


@pytest.fixture
def parts_dir(settings, tmp_path):
    settings.LIVESHOP_UPLOAD_PARTS_DIR = tmp_path / "parts"
    settings.LIVESHOP_UPLOAD_PART_BYTES = PART
    return settings.LIVESHOP_UPLOAD_PARTS_DIR


def start(client, brand, *, size: int, filename="spring.mp4", content_type="video/mp4", title="Spring looks"):
    data = {"title": title, "filename": filename, "size": size, "content_type": content_type}
    return client.post(f"{reverse('videos:upload-start')}?brand={brand.slug}", data)


def put_part(client, url: str, body: bytes, **headers):
    return client.put(url, body, content_type="application/octet-stream", **headers)


def pieces(content: bytes, part: int = PART) -> dict[int, bytes]:
    return {n + 1: content[i : i + part] for n, i in enumerate(range(0, len(content), part))}


def test_an_upload_in_parts_survives_a_dropped_part_and_a_reload(
    host_client, brand, on_disk, parts_dir, sample_video, django_capture_on_commit_callbacks
):
    content = sample_video.read_bytes()
    chunks = pieces(content)
    assert len(chunks) >= 3
    started = start(host_client, brand, size=len(content))
    assert started.status_code == 201
    body = started.json()
    assert (body["partSize"], body["partCount"], body["received"]) == (PART, len(chunks), [])
    urls = {p["number"]: p["url"] for p in body["parts"]}
    assert sorted(urls) == sorted(chunks)

    # Part 1 arrives; part 2's connection drops halfway (only what was written whole counts).
    assert put_part(host_client, urls[1], chunks[1]).status_code == 200
    upload = ResumableUpload.objects.get()
    with pytest.raises(InvalidUpload, match="ended after"):
        resumable.receive_part(upload=upload, number=2, length=PART, body=io.BytesIO(chunks[2][:1000]))
    # Completing too early is refused and keeps the upload.
    early = host_client.post(body["completeUrl"])
    assert early.status_code == 400 and "have not arrived yet" in early.json()["errors"]["file"][0]["message"]

    # The page reloads: the status says what is there and where the rest goes.
    status = host_client.get(body["statusUrl"]).json()
    assert status["received"] == [1] and status["receivedBytes"] == PART
    assert [p["number"] for p in status["parts"]] == list(range(2, len(chunks) + 1))
    for part in reversed(status["parts"]):  # any order
        assert put_part(host_client, part["url"], chunks[part["number"]]).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        done = host_client.post(body["completeUrl"])
    video = Recording.objects.get()
    assert done.json() == {"id": video.pk, "redirect": reverse("videos:detail", args=[video.pk])}
    assert video.title == "Spring looks" and video.upload_size == len(content)
    assert video.upload.read() == content
    assert video.status == "ready" and len(video.renditions) == 2
    assert not ResumableUpload.objects.exists() and not files_in(parts_dir)
    assert host_client.get(body["statusUrl"]).status_code == 404


def test_a_part_is_checked_before_its_body_is_read(host_client, brand, on_disk, parts_dir, settings):
    settings.LIVESHOP_MAX_UPLOAD_BYTES = 10 * PART
    body = start(host_client, brand, size=3 * PART + 10).json()
    url = body["parts"][0]["url"]
    csrf = _get_new_csrf_string()
    host_client.cookies["csrftoken"] = csrf
    headers = [(b"x-csrftoken", csrf.encode())]

    def put(path, size):
        return post_through_asgi(
            host_client, path, size=size, accept="application/json", method="PUT", headers=headers
        )

    # Larger than any part: the ASGI handler never reads it; the view says why.
    status, _, answer, read = put(url, 50 * PART)
    assert (status, read) == (413, 0)
    assert f"Part 1 is {PART} bytes; this request says {50 * PART}" in answer
    # A body of unknown length (chunked) is not read either.
    assert put(url, None)[0::3] == (400, 0)
    # Within the largest part, Django reads the body (to a spooled file) before the view runs: a
    # length that is not this part's, or a part that does not exist, is refused and not kept.
    assert put(url, PART - 1)[0] == 400
    assert put(body["parts"][-1]["url"].replace("/4/", "/9/"), 10)[0] == 400
    # The right length is read and kept.
    status, _, answer, read = put(url, PART)
    assert status == 200, answer
    assert host_client.get(body["statusUrl"]).json()["received"] == [1]


@pytest.mark.parametrize(
    ("size", "filename", "content_type", "message"),
    [
        (10**12, "big.mp4", "video/mp4", "at most"),
        (100, "notes.txt", "text/plain", "not a video file"),
        (100, "clip.mp4", "application/pdf", "not as a video"),
        (0, "clip.mp4", "video/mp4", "is empty"),
    ],
)
def test_a_file_the_studio_refuses_is_refused_before_a_byte_is_sent(
    host_client, brand, on_disk, parts_dir, size, filename, content_type, message
):
    response = start(host_client, brand, size=size, filename=filename, content_type=content_type)
    assert response.status_code == 400
    assert message in response.json()["errors"]["__all__"][0]["message"]
    assert not ResumableUpload.objects.exists() and not files_in(parts_dir)


def test_a_bad_file_is_refused_when_complete_and_nothing_is_left(host_client, brand, on_disk, parts_dir):
    content = b"not a video at all" * 10_000
    body = start(host_client, brand, size=len(content)).json()
    for number, chunk in pieces(content).items():
        url = reverse("videos:upload-part", args=[body["id"], number])
        assert put_part(host_client, url, chunk).status_code == 200
    response = host_client.post(body["completeUrl"])
    assert response.status_code == 400
    assert "not a readable video" in response.json()["errors"]["file"][0]["message"]
    assert not Recording.objects.exists() and not ResumableUpload.objects.exists()
    assert not files_in(on_disk[0]) and not files_in(parts_dir)


def test_another_brands_upload_is_refused_at_every_step(host_client, brand, on_disk, parts_dir):
    body = start(host_client, brand, size=2 * PART).json()
    client = Client()
    part = body["parts"][0]["url"]
    outsider = member(OrganizationFactory(slug="other"), role=Membership.Role.OWNER)
    moderator = member(brand, role=Membership.Role.MODERATOR)
    for user, status in ((outsider, 404), (moderator, 403)):
        client.force_login(user)
        assert client.get(body["statusUrl"]).status_code == status
        assert put_part(client, part, b"x" * PART).status_code == status
        assert client.post(body["completeUrl"]).status_code == status
        assert client.delete(body["statusUrl"]).status_code == status
    assert start(client, brand, size=PART).status_code == 403  # the moderator may not upload
    client.logout()
    assert client.get(body["statusUrl"]).status_code == 302  # to log in
    assert host_client.get(body["statusUrl"]).json()["received"] == []

    # Its own brand's host gives it up: the parts and the row go.
    assert host_client.delete(body["statusUrl"]).status_code == 204
    assert not ResumableUpload.objects.exists() and not files_in(parts_dir)


def test_uploads_nobody_finished_expire_with_their_parts(host_client, brand, on_disk, parts_dir):
    from datetime import timedelta

    from django.utils import timezone

    start(host_client, brand, size=PART)
    assert resumable.expire_resumable_uploads() == 0
    later = timezone.now() + resumable.EXPIRE_AFTER + timedelta(minutes=1)
    assert resumable.expire_resumable_uploads(now=later) == 1
    assert not ResumableUpload.objects.exists() and not files_in(parts_dir)


# S3: multipart with presigned part URLs ----------------------------------------------------


@pytest.fixture(scope="session")
def big_video(tmp_path_factory):
    """A 6.6 MB video (uncompressed frames in Matroska): two S3 parts of at least 5 MiB."""
    path = tmp_path_factory.mktemp("big") / "big.mkv"
    source = "testsrc2=size=320x240:rate=25:duration=2.4"
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
    subprocess.run([*command, "-c:v", "rawvideo", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_on_s3_the_parts_go_to_presigned_urls_and_resume_from_what_s3_holds(
    host_client, brand, media_s3, settings, big_video
):
    settings.LIVESHOP_UPLOAD_PART_BYTES = 5 * 1024**2
    content = big_video.read_bytes()
    chunks = pieces(content, 5 * 1024**2)
    assert len(chunks) == 2
    body = start(
        host_client, brand, size=len(content), filename="big.mkv", content_type="video/x-matroska"
    ).json()
    upload = ResumableUpload.objects.get()
    listed = media_s3.list_multipart_uploads(Bucket=MEDIA_BUCKET)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [(f"media/{upload.name}", upload.store_id)]
    urls = {p["number"]: p["url"] for p in body["parts"]}
    # SigV4 with the part's exact Content-Length signed in: S3 refuses a body of another size.
    assert all(MEDIA_BUCKET in url and "SignedHeaders=content-length%3Bhost" in url for url in urls.values())
    assert f"uploadId={upload.store_id}&partNumber=1&" in urls[1]

    assert requests.put(urls[1], data=chunks[1], timeout=30).status_code == 200
    status = host_client.get(body["statusUrl"]).json()  # after a reload: S3 says part 1 is there
    assert status["received"] == [1] and [p["number"] for p in status["parts"]] == [2]
    # Parts go to S3, never through our server.
    assert (
        put_part(host_client, reverse("videos:upload-part", args=[body["id"], 2]), chunks[2]).status_code
        == 400
    )
    assert requests.put(status["parts"][0]["url"], data=chunks[2], timeout=30).status_code == 200

    done = host_client.post(body["completeUrl"])
    assert done.status_code == 200, done.content
    video = Recording.objects.get()
    stored = media_s3.get_object(Bucket=MEDIA_BUCKET, Key=f"media/{video.upload.name}")["Body"].read()
    assert stored == content and video.upload_size == len(content) and video.status == "pending"
    assert not media_s3.list_multipart_uploads(Bucket=MEDIA_BUCKET).get("Uploads")


def test_on_s3_a_given_up_upload_is_aborted(host_client, brand, media_s3, settings):
    settings.LIVESHOP_UPLOAD_PART_BYTES = 1024  # S3 takes no part under 5 MiB but the last
    body = start(host_client, brand, size=12 * 1024**2).json()
    assert (body["partSize"], body["partCount"]) == (5 * 1024**2, 3)
    assert host_client.delete(body["statusUrl"]).status_code == 204
    assert not media_s3.list_multipart_uploads(Bucket=MEDIA_BUCKET).get("Uploads")
    assert not ResumableUpload.objects.exists()
