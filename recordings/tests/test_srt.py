"""Product cues of a recording from SRT: export of saved cues, replace_cues (all or nothing,
permissions, one transaction) and the import_cues / export_cues commands. Parsing itself is
events/tests/test_srt_cues.py."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events.exceptions import InvalidCues
from events.srt_cues import OPEN_END_MS, CueSpec, export_srt, parse_srt
from events.tests.srt_helpers import GOOD, SKUS, as_tuples, cue_block
from recordings.models import ProductCue, Recording
from recordings.services.product_cues import replace_cues, replace_cues_as_operator

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(brand):
    return [ProductFactory(organization=brand, sku=sku) for sku in SKUS]


@pytest.fixture
def recording(brand):
    return Recording.objects.create(
        organization=brand,
        backend=Recording.Backend.UPLOAD,
        title="Spring collection",
        slug="spring",
        status=Recording.Status.READY,
        duration_ms=60_000,
    )


def test_export_of_saved_cues_closes_open_ones_at_the_next_cue(brand, products, recording):
    a, b = products[:2]
    ProductCue.objects.create(recording=recording, product=b, start_ms=9000, end_ms=None)
    ProductCue.objects.create(recording=recording, product=a, start_ms=1000, end_ms=None)

    text = export_srt(recording.cues.select_related("product"), key="sku")

    assert text == (
        cue_block(1, "00:00:01,000 --> 00:00:09,000", '{"sku": "TEE-01"}')
        + cue_block(2, "00:00:09,000 --> 99:59:59,999", '{"sku": "MUG \\"XL\\""}')
    )
    assert as_tuples(parse_srt(text, organization=brand)) == [(a.pk, 1000, 9000), (b.pk, 9000, None)]
    assert OPEN_END_MS == 359_999_999


def test_the_studios_export_ends_an_open_last_cue_where_the_video_ends(
    host_client, brand, products, recording
):
    ProductCue.objects.create(recording=recording, product=products[0], start_ms=1000, end_ms=None)
    ProductCue.objects.create(recording=recording, product=products[1], start_ms=9000, end_ms=None)

    text = host_client.get(f"/studio/videos/{recording.pk}/cues.srt?key=sku").content.decode()

    assert text == (
        cue_block(1, "00:00:01,000 --> 00:00:09,000", '{"sku": "TEE-01"}')
        + cue_block(2, "00:00:09,000 --> 00:01:00,000", '{"sku": "MUG \\"XL\\""}')
    )
    assert "99:59:59" not in text
    out, _ = run("export_cues", str(recording.pk), "--key", "sku")
    assert out == text


def test_an_export_without_a_known_duration_keeps_the_open_end(products, recording):
    recording.duration_ms = None
    recording.save(update_fields=["duration_ms"])
    ProductCue.objects.create(recording=recording, product=products[0], start_ms=1000, end_ms=None)

    out, _ = run("export_cues", str(recording.pk))
    assert "00:00:01,000 --> 99:59:59,999" in out


# replace_cues ---------------------------------------------------------------------------------


@pytest.fixture
def existing(recording, products):
    """A highlight-less cue the recording already has."""
    return ProductCue.objects.create(recording=recording, product=products[5], start_ms=500, end_ms=700)


def saved(recording) -> list[tuple[int, int, int | None]]:
    return [(c.product_id, c.start_ms, c.end_ms) for c in ProductCue.objects.filter(recording=recording)]


@pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.HOST])
def test_owners_and_hosts_replace_all_cues(brand, products, recording, existing, role):
    a, b = products[:2]
    cues = [CueSpec(product=b, start_ms=9000, end_ms=None), CueSpec(product=a, start_ms=0, end_ms=9000)]

    result = replace_cues(recording=recording, cues=cues, by=member(brand, role))

    assert [(c.product_id, c.start_ms, c.end_ms) for c in result] == [(a.pk, 0, 9000), (b.pk, 9000, None)]
    assert saved(recording) == [(a.pk, 0, 9000), (b.pk, 9000, None)]
    assert all(c.pk and c.highlight_id is None for c in result)


@pytest.mark.parametrize("who", ["moderator", "other brand's owner", "anonymous"])
def test_others_may_not_replace_cues(brand, products, recording, existing, who):
    from django.contrib.auth.models import AnonymousUser

    user = {
        "moderator": lambda: member(brand, Membership.Role.MODERATOR),
        "other brand's owner": lambda: member(OrganizationFactory(), Membership.Role.OWNER),
        "anonymous": AnonymousUser,
    }[who]()

    with pytest.raises(PermissionDenied, match="edit the product cues"):
        replace_cues(recording=recording, cues=[CueSpec(product=products[0], start_ms=0, end_ms=1)], by=user)
    assert saved(recording) == [(products[5].pk, 500, 700)]


def test_replace_cues_checks_every_cue_and_writes_nothing(brand, products, recording, existing):
    rival = ProductFactory(organization=OrganizationFactory(name="Rival"), sku="RIVAL-1")
    cues = [
        CueSpec(product=products[0], start_ms=-5, end_ms=100),
        CueSpec(product=products[1], start_ms=1000, end_ms=1000),
        CueSpec(product=rival, start_ms=2000, end_ms=3000),
        CueSpec(product=products[2], start_ms=2500, end_ms=4000),
        CueSpec(product=products[3], start_ms=59_000, end_ms=61_000, line=42),
    ]

    with pytest.raises(InvalidCues) as caught:
        replace_cues(recording=recording, cues=cues, by=member(brand))

    assert [str(p) for p in caught.value.problems] == [
        "starts before the video (-5 ms)",
        "cue at 00:00:01,000: ends before it starts",
        "cue at 00:00:02,000: RIVAL-1 is not in Acme's catalogue",
        "cue at 00:00:02,500: overlaps the cue before it",
        "line 42: goes past the end of the video (00:01:00,000)",
    ]
    assert saved(recording) == [(products[5].pk, 500, 700)]


def test_replace_cues_locks_the_recording_and_runs_in_one_transaction(
    brand, products, recording, existing, monkeypatch
):
    cues = [CueSpec(product=products[0], start_ms=0, end_ms=1000)]
    with CaptureQueriesContext(connection) as queries:
        replace_cues_as_operator(recording=recording, cues=cues)
    lock = next(q["sql"] for q in queries if 'FROM "recordings_recording"' in q["sql"])
    assert lock.endswith("FOR UPDATE")

    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ProductCue.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        replace_cues_as_operator(
            recording=recording, cues=[CueSpec(product=products[1], start_ms=0, end_ms=5)]
        )
    assert saved(recording) == [(products[0].pk, 0, 1000)]  # the delete was rolled back


def test_replace_cues_replaces_highlight_cues_too(brand, products, recording):
    from events.models import Highlight
    from events.tests.factories import LiveEventFactory

    event = LiveEventFactory(organization=brand)
    Recording.objects.filter(pk=recording.pk).update(event=event, backend=Recording.Backend.LOCAL)
    highlight = Highlight.objects.create(event=event, product=products[0])
    ProductCue.objects.create(recording=recording, product=products[0], start_ms=0, highlight=highlight)

    replace_cues_as_operator(recording=recording, cues=[CueSpec(product=products[1], start_ms=10, end_ms=20)])

    assert saved(recording) == [(products[1].pk, 10, 20)]


# Commands ---------------------------------------------------------------------------------------


def run(name: str, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def srt_file(tmp_path, products):
    path = tmp_path / "cues.srt"
    path.write_text(
        GOOD + cue_block(2, "00:00:03,000 --> 00:00:04,000", f'{{"productId": {products[1].pk}}}'),
        encoding="utf-8",
    )
    return path


def test_import_cues_command_replaces_the_cues(recording, products, existing, srt_file):
    out, err = run("import_cues", str(recording.pk), str(srt_file))

    assert saved(recording) == [(products[0].pk, 1000, 2000), (products[1].pk, 3000, 4000)]
    assert "cues.srt: 2 cue(s) read, from 00:00:01,000 to 00:00:04,000." in err
    assert f"Imported 2 cue(s) from cues.srt into “{recording}”." in out


def test_import_cues_dry_run_writes_nothing(recording, products, existing, srt_file):
    out, _ = run("import_cues", str(recording.pk), str(srt_file), "--dry-run")

    assert "Dry run: cues.srt is fine" in out
    assert saved(recording) == [(products[5].pk, 500, 700)]


def test_import_cues_lists_every_problem_and_keeps_the_cues(recording, products, existing, tmp_path):
    path = tmp_path / "bad.srt"
    path.write_text(
        GOOD
        + cue_block(2, "00:00:03,000 --> 00:00:04,000", '{"productId": 0}')
        + cue_block(3, "00:00:05,000 --> 00:00:04,000", '{"sku": "TEE-01"}'),
        encoding="utf-8",
    )

    with pytest.raises(CommandError) as caught:
        run("import_cues", str(recording.pk), str(path))

    message = str(caught.value)
    assert message.startswith("bad.srt: The SRT file has problems; nothing was imported (2 problems):")
    assert "\nline 7: productId must be a whole number (a product id) or " in message
    assert "(an external id), not 0\n" in message
    assert "\nline 10: the cue ends (00:00:04,000) before it starts (00:00:05,000)" in message
    assert saved(recording) == [(products[5].pk, 500, 700)]


def test_import_cues_checks_the_video_length(recording, products, existing, tmp_path):
    path = tmp_path / "long.srt"
    path.write_text(cue_block(1, "00:00:59,000 --> 00:01:30,000", '{"sku": "TEE-01"}'), encoding="utf-8")

    with pytest.raises(CommandError, match=r"line 2: goes past the end of the video \(00:01:00,000\)"):
        run("import_cues", str(recording.pk), str(path))
    assert saved(recording) == [(products[5].pk, 500, 700)]


def test_import_cues_as_a_user_checks_permission(brand, recording, products, existing, srt_file):
    host = member(brand, Membership.Role.HOST, username="hana")
    member(brand, Membership.Role.MODERATOR, username="mo")

    refusal = "mo: You may not edit the product cues of this brand's recordings and videos."
    with pytest.raises(CommandError, match=refusal):
        run("import_cues", str(recording.pk), str(srt_file), "--as", "mo")
    assert saved(recording) == [(products[5].pk, 500, 700)]
    with pytest.raises(CommandError, match="There is no user “nobody”"):
        run("import_cues", str(recording.pk), str(srt_file), "--as", "nobody")

    run("import_cues", str(recording.pk), str(srt_file), "--as", host.username)
    assert len(saved(recording)) == 2


def test_import_cues_bad_arguments(recording, tmp_path):
    with pytest.raises(CommandError, match="There is no recording with id 0"):
        run("import_cues", "0", str(tmp_path / "x.srt"))
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.srt"):
        run("import_cues", str(recording.pk), str(tmp_path / "missing.srt"))


def test_export_cues_command(recording, products, tmp_path):
    ProductCue.objects.create(recording=recording, product=products[0], start_ms=1000, end_ms=2000)

    out, _ = run("export_cues", str(recording.pk))
    assert out == cue_block(1, "00:00:01,000 --> 00:00:02,000", f'{{"productId": {products[0].pk}}}')

    path = tmp_path / "out.srt"
    _, err = run("export_cues", str(recording.pk), "--key", "sku", "-o", str(path))
    assert path.read_text(encoding="utf-8") == GOOD
    assert f"Wrote 1 cue(s) of “{recording}” to {path}." in err

    with pytest.raises(CommandError, match="There is no recording with id 0"):
        run("export_cues", "0")


def test_export_then_import_through_the_commands(recording, products, tmp_path):
    ProductCue.objects.create(recording=recording, product=products[2], start_ms=0, end_ms=5000)
    ProductCue.objects.create(recording=recording, product=products[4], start_ms=5000, end_ms=None)
    before = saved(recording)
    path = tmp_path / "cues.srt"

    run("export_cues", str(recording.pk), "--key", "sku", "-o", str(path))
    run("import_cues", str(recording.pk), str(path))

    # The open last cue comes back ending where the video ends (60 s): the same for viewers.
    assert saved(recording) == [*before[:-1], (products[4].pk, 5000, 60_000)]
