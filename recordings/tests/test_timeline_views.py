"""The timeline editor's endpoints: the page and its config, saving the whole cue list in one
transaction (errors by row, nothing written on any error), SRT import and export, publishing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from recordings.models import ProductCue, Recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(brand):
    return ProductFactory.create_batch(3, organization=brand)


@pytest.fixture
def video(brand):
    return Recording.objects.create(
        organization=brand,
        backend="upload",
        title="Spring looks",
        slug="spring-looks",
        status="ready",
        progress=100,
        duration_ms=60_000,
        master_path="replays/uploads/1/master.m3u8",
        thumbnails=["replays/uploads/1/thumbnail.jpg"],
    )


@pytest.fixture
def host(client, brand):
    client.force_login(member(brand, role=Membership.Role.HOST))
    return client


def save(client, video, cues):
    return client.post(
        reverse("videos:cues", args=[video.pk]), json.dumps({"cues": cues}), "application/json"
    )


def saved(video):
    return list(ProductCue.objects.filter(recording=video).values_list("product_id", "start_ms", "end_ms"))


def test_the_editor_page_carries_the_player_products_and_cues(host, video, products):
    ProductCue.objects.create(recording=video, product=products[0], start_ms=1500)
    inactive = ProductFactory(organization=video.organization, is_active=False)
    response = host.get(reverse("videos:detail", args=[video.pk]))

    assert response.status_code == 200
    config = response.context["editor"]
    assert config["canEdit"] is True
    assert config["playbackUrl"].endswith("replays/uploads/1/master.m3u8")
    assert config["durationMs"] == 60_000
    assert {p["id"] for p in config["products"]} == {p.pk for p in products}
    assert inactive.pk not in {p["id"] for p in config["products"]}
    assert config["cues"] == [
        {"id": video.cues.get().pk, "productId": products[0].pk, "startMs": 1500, "endMs": None}
    ]
    page = response.content.decode()
    assert 'id="editor-config"' in page and "vendor/hls/hls.min.js" in page and "js/timeline.js" in page
    assert "Publish" in page


def test_save_replaces_every_cue_at_once(host, video, products):
    ProductCue.objects.create(recording=video, product=products[2], start_ms=50_000)
    response = save(
        host,
        video,
        [
            {"productId": products[1].pk, "startMs": 12_000, "endMs": 20_000},
            {"productId": products[0].pk, "startMs": 2_500, "endMs": None},
        ],
    )

    assert response.status_code == 200
    # An open cue runs until the next one: its end is made explicit; the last stays open.
    assert saved(video) == [(products[0].pk, 2_500, 12_000), (products[1].pk, 12_000, 20_000)]
    assert [c["startMs"] for c in response.json()["cues"]] == [2_500, 12_000]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"productId": 10**9, "startMs": 1000}, "Choose one of the brand's products"),
        ({"productId": "x", "startMs": 1000}, "Choose one of the brand's products"),
        ({"startMs": "soon"}, "Choose one of the brand's products"),
        ({"productId": None, "startMs": -5}, "Choose one of the brand's products"),
    ],
)
def test_save_reports_bad_rows_by_index_and_writes_nothing(host, video, products, row, message):
    ProductCue.objects.create(recording=video, product=products[2], start_ms=50_000)
    response = save(host, video, [{"productId": products[0].pk, "startMs": 0}, row])

    assert response.status_code == 400
    assert message in response.json()["errors"]["1"][0]
    assert saved(video) == [(products[2].pk, 50_000, None)]


@pytest.mark.parametrize(
    ("rows", "bad_row", "message"),
    [
        ([{"startMs": 1000, "endMs": 500}], "0", "after the start"),
        ([{"startMs": -1}], "0", "before the start"),
        ([{"startMs": 1000.5, "endMs": "x"}], "0", "milliseconds"),
        ([{"startMs": 0, "endMs": 5000}, {"startMs": 4000}], "1", "overlaps"),
        ([{"startMs": 0}, {"startMs": 70_000}], "1", "past the end"),
    ],
)
def test_save_reports_each_cues_problem(host, video, products, rows, bad_row, message):
    cues = [{"productId": products[0].pk, **row} for row in rows]
    response = save(host, video, cues)

    assert response.status_code == 400
    body = response.json()
    assert "nothing was saved" in body["error"]
    assert message in " ".join(body["errors"][bad_row])
    assert saved(video) == []


def test_save_refuses_another_brands_product(host, video):
    foreign = ProductFactory()
    response = save(host, video, [{"productId": foreign.pk, "startMs": 0}])
    assert response.status_code == 400 and saved(video) == []


def test_save_refuses_what_is_not_json(host, video):
    response = host.post(reverse("videos:cues", args=[video.pk]), "cues!", "application/json")
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    assert save(host, video, {"not": "a list"}).status_code == 400


def test_moderators_see_the_editor_read_only_and_cannot_save(client, video, products):
    client.force_login(member(video.organization, role=Membership.Role.MODERATOR))
    page = client.get(reverse("videos:detail", args=[video.pk]))

    assert page.context["editor"]["canEdit"] is False
    assert "Save cues" not in page.content.decode()
    assert save(client, video, [{"productId": products[0].pk, "startMs": 0}]).status_code == 403
    assert client.post(reverse("videos:publish", args=[video.pk]), {"published": "1"}).status_code == 403
    assert saved(video) == []


def test_srt_export_and_import_round_trip(host, video, products):
    ProductCue.objects.create(recording=video, product=products[0], start_ms=1_000, end_ms=4_000)
    ProductCue.objects.create(recording=video, product=products[1], start_ms=9_000, end_ms=12_500)
    export = host.get(reverse("videos:export-srt", args=[video.pk]))

    assert export.status_code == 200
    assert export["Content-Disposition"] == 'attachment; filename="spring-looks.srt"'
    text = export.content.decode()
    assert f'{{"productId": {products[0].pk}}}' in text and "00:00:09,000 --> 00:00:12,500" in text

    from django.core.files.uploadedfile import SimpleUploadedFile

    srt_file = SimpleUploadedFile("cues.srt", export.content, content_type="application/x-subrip")
    imported = host.post(reverse("videos:import-srt", args=[video.pk]), {"file": srt_file})
    assert imported.status_code == 200
    assert imported.json()["cues"] == [
        {"productId": products[0].pk, "startMs": 1_000, "endMs": 4_000},
        {"productId": products[1].pk, "startMs": 9_000, "endMs": 12_500},
    ]


def test_srt_import_reports_problems_by_line(host, video):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = b'1\n00:00:01,000 --> 00:00:02,000\n{"productId": 999999}\n\n2\nnot a time\n{"productId": 1}\n'
    response = host.post(
        reverse("videos:import-srt", args=[video.pk]), {"file": SimpleUploadedFile("bad.srt", bad)}
    )
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert problems and all(problem.startswith("line ") for problem in problems)
    assert host.post(reverse("videos:import-srt", args=[video.pk]), {}).status_code == 400


def test_publish_and_unpublish(host, video):
    url = reverse("videos:publish", args=[video.pk])
    assert host.post(url, {"published": "1"}).status_code == 302
    video.refresh_from_db()
    first = video.published_at
    assert first is not None

    host.post(url, {"published": "1"})  # idempotent: keeps the first date
    video.refresh_from_db()
    assert video.published_at == first
    page = host.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert "Unpublish" in page and "/v/acme/spring-looks/" in page

    host.post(url, {"published": "0"})
    video.refresh_from_db()
    assert video.published_at is None


def test_a_video_still_processing_cannot_be_published(host, video):
    Recording.objects.filter(pk=video.pk).update(status="processing")
    response = host.post(reverse("videos:publish", args=[video.pk]), {"published": "1"}, follow=True)
    video.refresh_from_db()
    assert video.published_at is None
    assert "finished processing" in response.content.decode()


def test_an_event_replay_opens_in_the_editor_without_publish(host, brand, products):
    from events.tests.factories import LiveEventFactory

    event = LiveEventFactory(organization=brand)
    replay = Recording.objects.create(
        organization=brand, event=event, backend="local", status="ready", duration_ms=30_000
    )
    page = host.get(reverse("videos:detail", args=[replay.pk]))
    assert page.status_code == 200 and "Publish" not in page.content.decode()
    assert save(host, replay, [{"productId": products[0].pk, "startMs": 0}]).status_code == 200


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_save_refuses_nan_and_infinity_with_a_reason(host, video, products, constant):
    body = f'{{"cues": [{{"productId": {products[0].pk}, "startMs": 0, "endMs": {constant}}}]}}'

    response = host.post(reverse("videos:cues", args=[video.pk]), body, "application/json")

    assert response.status_code == 400
    assert constant in response.json()["error"]
    assert saved(video) == []


@pytest.mark.parametrize("depth", [50, 100_000])
def test_save_refuses_deeply_nested_json_with_a_reason(host, video, products, depth):
    body = '{"cues": [{"productId": 1, "startMs": 0, "x": ' + "[" * depth + "]" * depth + "}]}"

    response = host.post(reverse("videos:cues", args=[video.pk]), body, "application/json")

    assert response.status_code == 400
    assert "nested" in response.json()["error"]
    assert saved(video) == []


@pytest.mark.parametrize("value", [1e26, 10**26, 1e308])
def test_save_refuses_times_past_any_video_by_row(host, video, products, value):
    response = save(host, video, [{"productId": products[0].pk, "startMs": 0, "endMs": value}])

    assert response.status_code == 400
    assert "past the end" in " ".join(response.json()["errors"]["0"])
    assert saved(video) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"productId": 1e26}', "line 3: productId must be a whole number"),
        ('{"productId": 1, "x": ' + "[" * 400 + "]" * 400 + "}", "line 3: bad JSON: nested more than"),
        ('{"productId": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "line 3: the cue text is"),
        ('{"productId": NaN}', "line 3: bad JSON: NaN is not a JSON number"),
    ],
)
def test_srt_import_of_hostile_cue_text_is_a_400_by_line(host, video, products, text, problem):
    from django.core.files.uploadedfile import SimpleUploadedFile

    srt = f"1\n00:00:01,000 --> 00:00:02,000\n{text}\n".encode()

    response = host.post(
        reverse("videos:import-srt", args=[video.pk]), {"file": SimpleUploadedFile("cues.srt", srt)}
    )

    assert response.status_code == 400
    assert response.json()["problems"][0].startswith(problem)
