"""Product cues as SRT: the retail demo's sample imports as is, export -> import round-trips,
every problem is reported with its line, and a file with any problem writes nothing."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.models import Product
from catalog.tests.factories import ProductFactory
from events.exceptions import EventError, InvalidCues, SrtImportError, SrtProblem
from events.srt_cues import OPEN_END_MS, CueSpec, export_srt, parse_srt, parse_srt_timing
from recordings.models import ProductCue, Recording
from recordings.services.cues import replace_cues, replace_cues_as_operator

pytestmark = pytest.mark.django_db

# aws-samples/retail-demo-store's sample.srt (MIT-0), byte for byte.
SAMPLE = Path(__file__).resolve().parent / "data" / "retail-demo-sample.srt"
# Cue text that must survive JSON and SRT: quotes, backslashes, non-ASCII, spaces, "-->".
SKUS = ["TEE-01", 'MUG "XL"', "back\\slash", "ünïcode-☕", "two words", "a-->b"]


@pytest.fixture
def brand():
    return OrganizationFactory(name="Acme")


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


def cue_block(number: int, timing: str, text: str) -> str:
    return f"{number}\n{timing}\n{text}\n\n"


def problems_of(text: str | bytes, organization) -> list[SrtProblem]:
    with pytest.raises(SrtImportError) as caught:
        parse_srt(text, organization=organization)
    return caught.value.problems


def as_tuples(cues) -> list[tuple[int, int, int | None]]:
    return [(cue.product.pk, cue.start_ms, cue.end_ms) for cue in cues]


# The retail demo's sample ---------------------------------------------------------------------


@pytest.fixture
def demo_products(brand):
    """Products 1..4 of the brand, as the sample's cues name them (explicit ids)."""
    return [
        Product.objects.create(pk=n, organization=brand, sku=f"DEMO-{n}", name=f"Demo {n}", price=Decimal(9))
        for n in range(1, 5)
    ]


def test_retail_demo_sample_imports_as_is(brand, demo_products):
    cues = parse_srt(SAMPLE.read_bytes(), organization=brand)

    assert as_tuples(cues) == [(n, 4000 * n, 4000 * (n + 1)) for n in range(1, 5)]
    assert [cue.line for cue in cues] == [2, 6, 10, 14]


def test_export_writes_the_retail_demo_format_byte_for_byte(brand, demo_products):
    cues = parse_srt(SAMPLE.read_text(encoding="utf-8"), organization=brand)

    assert export_srt(cues) == SAMPLE.read_text(encoding="utf-8")


def test_timing_without_products_for_stream_video():
    assert parse_srt_timing(SAMPLE.read_bytes()) == [
        (4000 * n, 4000 * (n + 1), {"productId": n}, 4 * n - 2) for n in range(1, 5)
    ]


def test_sku_cues_and_windows_line_ends_with_a_bom(brand, products):
    text = "\ufeff" + cue_block(1, "00:00:01,500 --> 00:00:02,000", '{"sku": "TEE-01"}').replace("\n", "\r\n")

    assert as_tuples(parse_srt(text.encode(), organization=brand)) == [(products[0].pk, 1500, 2000)]


# Round trip ----------------------------------------------------------------------------------

HOUR = 3_600_000


@st.composite
def cue_lists(draw):
    """1..12 ordered, non-overlapping cues (touching allowed), the last one possibly open."""
    count = draw(st.integers(min_value=1, max_value=12))
    start, cues = 0, []
    for _ in range(count):
        start += draw(st.integers(min_value=0, max_value=3 * HOUR))
        length = draw(st.integers(min_value=1, max_value=3 * HOUR))
        cues.append((draw(st.integers(min_value=0, max_value=len(SKUS) - 1)), start, start + length))
        start += length
    if draw(st.booleans()):
        cues[-1] = (*cues[-1][:2], None)
    return cues


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=cue_lists(), key=st.sampled_from(["productId", "sku"]))
def test_export_then_import_gives_the_same_cues(brand, products, drawn, key):
    cues = [CueSpec(product=products[i], start_ms=start, end_ms=end) for i, start, end in drawn]

    text = export_srt(cues, key=key)
    again = parse_srt(text, organization=brand)

    assert [replace(cue, line=0) for cue in again] == cues
    assert as_tuples(again) == as_tuples(cues)
    assert export_srt(again, key=key) == text


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


def test_export_rejects_an_unknown_key(products):
    with pytest.raises(ValueError, match="productId, sku"):
        export_srt([CueSpec(product=products[0], start_ms=0, end_ms=1)], key="name")


# Every problem, with its line -----------------------------------------------------------------

GOOD = cue_block(1, "00:00:01,000 --> 00:00:02,000", '{"sku": "TEE-01"}')


@pytest.mark.parametrize(
    ("second_cue", "line", "reason"),
    [
        ("2\n00:00:03,000 --> 00:00:0x,000\n{}\n", 6, "bad timestamp in “00:00:03,000 --> 00:00:0x,000”"),
        ("2\n00:00:03,000 -> 00:00:04,000\n{}\n", 5, "malformed cue: expected a cue number, a timing line"),
        ("2\n00:75:00,000 --> 00:76:00,000\n{}\n", 6, "bad timestamp “00:75:00,000”"),
        ("2\n00:00:04,000 --> 00:00:03,000\n{}\n", 6, "the cue ends (00:00:03,000) before it starts"),
        ("cue two\n00:00:03,000 --> 00:00:04,000\n{}\n", 5, "expected a cue number before the timing line"),
        ("just some words\n", 5, "malformed cue"),
        ("2\n00:00:03,000 --> 00:00:04,000\n", 6, "the cue has no text"),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"productId": 1\n', 7, "bad JSON: Expecting ',' delimiter"),
        ("2\n00:00:03,000 --> 00:00:04,000\n{\n\"sku\": 'x'}\n", 8, "bad JSON: Expecting value"),
        ("2\n00:00:03,000 --> 00:00:04,000\n[1, 2]\n", 7, "not a JSON object"),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"name": "Tee"}\n', 7, "the cue names no product"),
        (
            '2\n00:00:03,000 --> 00:00:04,000\n{"productId": 1, "sku": "TEE-01"}\n',
            7,
            "both productId and sku",
        ),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"productId": 1.5}\n', 7, "productId must be a whole number"),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"productId": true}\n', 7, "productId must be a whole number"),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"productId": 1e26}\n', 7, "productId must be a whole number"),
        (
            '2\n00:00:03,000 --> 00:00:04,000\n{"productId": 100000000000000000000000000}\n',
            7,
            "productId must be a whole number",
        ),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"productId": NaN}\n', 7, "bad JSON: NaN is not a JSON number"),
        (
            '2\n00:00:03,000 --> 00:00:04,000\n{"sku": "TEE-01", "x": ' + "[" * 50 + "]" * 50 + "}\n",
            7,
            "bad JSON: nested more than",
        ),
        (
            '2\n00:00:03,000 --> 00:00:04,000\n{"sku": "TEE-01", "x": '
            + "[" * 100_000
            + "]" * 100_000
            + "}\n",
            7,
            "the cue text is 200024 bytes; a cue is sent as one timed-metadata call of at most 1000 bytes",
        ),
        (
            '2\n00:00:03,000 --> 00:00:04,000\n{"sku": "TEE-01", "x": ' + "[" * 400 + "]" * 400 + "}\n",
            7,
            "bad JSON: nested more than",
        ),
        (
            '2\n00:00:03,000 --> 00:00:04,000\n{"sku": "TEE-01", "note": "' + "é" * 490 + '"}\n',
            7,
            "the cue text is 1009 bytes",
        ),
        (
            "2\n00:00:03.000 --> 00:00:04,000\n{}\n",
            6,
            "bad timestamp “00:00:03.000” (SRT writes HH:MM:SS,mmm",
        ),
        (
            "2\n00:00:03,000 --> 00:00:04.000\n{}\n",
            6,
            "bad timestamp “00:00:04.000” (SRT writes HH:MM:SS,mmm",
        ),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"productId": ""}\n', 7, "productId must be a whole number"),
        (
            '2\n00:00:03,000 --> 00:00:04,000\n{"productId": "' + "u" * 101 + '"}\n',
            7,
            "productId must be a whole number",
        ),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"sku": ""}\n', 7, "sku must be a non-empty string"),
        ('2\n00:00:03,000 --> 00:00:04,000\n{"sku": "NOPE"}\n', 7, 'no product with SKU "NOPE" in Acme'),
        (
            '2\n00:00:01,500 --> 00:00:04,000\n{"sku": "TEE-01"}\n',
            6,
            "cues overlap: this one starts at 00:00:01,500",
        ),
        (
            '2\n00:00:00,500 --> 00:00:00,800\n{"sku": "TEE-01"}\n',
            6,
            "cue out of order: it starts at 00:00:00,500",
        ),
        (
            '2\n00:00:03,000 --> 00:00:04,000\n{"sku": "TEE-01"}\n3\n00:00:05,000 --> 00:00:06,000\n{}',
            8,
            "blank line",
        ),
    ],
)
def test_each_problem_is_reported_with_its_line(brand, products, second_cue, line, reason):
    problems = problems_of(GOOD + second_cue, brand)

    assert len(problems) == 1, problems
    assert problems[0].line == line
    assert reason in problems[0].message


def test_unknown_and_other_brands_product_ids_are_reported_alike(brand, products):
    other = ProductFactory(organization=OrganizationFactory(name="Rival"))
    missing = other.pk + 1000
    text = cue_block(1, "00:00:01,000 --> 00:00:02,000", f'{{"productId": {other.pk}}}') + cue_block(
        2, "00:00:03,000 --> 00:00:04,000", f'{{"productId": "{missing}"}}'
    )

    assert problems_of(text, brand) == [
        SrtProblem(3, f"no product with productId {other.pk} in Acme"),
        SrtProblem(7, f'no product with external id (productId) "{missing}" in Acme'),
    ]


# Cue text as one PutMetadata call ---------------------------------------------------------------


def test_a_cue_of_exactly_1000_utf8_bytes_is_accepted(brand, products):
    text = '{"sku": "TEE-01", "note": "' + "x" * (1000 - 29) + '"}'
    assert len(text.encode()) == 1000

    assert as_tuples(parse_srt(cue_block(1, "00:00:01,000 --> 00:00:02,000", text), organization=brand)) == [
        (products[0].pk, 1000, 2000)
    ]


# String productIds are external ids (the retail demo's UUIDs) ----------------------------------

UUIDS = [
    "89728417-5269-403d-baa3-04b59cdffd0a",
    "03685e08-6d30-4e4e-a85e-9e525894c9ea",
]


def test_string_product_ids_match_external_ids(brand):
    first = ProductFactory(organization=brand, external_id=UUIDS[0])
    second = ProductFactory(organization=brand, external_id=UUIDS[1])
    ProductFactory(organization=OrganizationFactory(), external_id=UUIDS[0])  # another brand's
    text = cue_block(1, "00:00:01,000 --> 00:00:02,000", f'{{"productId": "{UUIDS[1]}"}}') + cue_block(
        2, "00:00:03,000 --> 00:00:04,000", f'{{"productId": "{UUIDS[0]}"}}'
    )

    assert as_tuples(parse_srt(text, organization=brand)) == [(second.pk, 1000, 2000), (first.pk, 3000, 4000)]


def test_a_numeric_looking_string_is_an_external_id_never_a_primary_key(brand):
    by_pk = ProductFactory(organization=brand)
    by_external = ProductFactory(organization=brand, external_id=str(by_pk.pk + 1000))
    numeric = cue_block(1, "00:00:01,000 --> 00:00:02,000", f'{{"productId": {by_pk.pk}}}')
    as_string = cue_block(2, "00:00:03,000 --> 00:00:04,000", f'{{"productId": "{by_pk.pk + 1000}"}}')

    assert as_tuples(parse_srt(numeric + as_string, organization=brand)) == [
        (by_pk.pk, 1000, 2000),
        (by_external.pk, 3000, 4000),
    ]
    only_string = cue_block(1, "00:00:01,000 --> 00:00:02,000", f'{{"productId": "{by_pk.pk}"}}')
    assert problems_of(only_string, brand) == [
        SrtProblem(3, f'no product with external id (productId) "{by_pk.pk}" in Acme')
    ]


def test_a_json_number_does_not_match_an_external_id(brand):
    ProductFactory(organization=brand, external_id="999999")
    text = cue_block(1, "00:00:01,000 --> 00:00:02,000", '{"productId": 999999}')

    assert problems_of(text, brand) == [SrtProblem(3, "no product with productId 999999 in Acme")]


@pytest.mark.parametrize("text", ["", "\n\n  \n", "\ufeff", b"\xef\xbb\xbf\r\n"])
def test_an_empty_file_is_a_problem(brand, text):
    problems = problems_of(text, brand)

    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [(1, "the file has no cues")]


def test_a_file_that_is_not_utf8_is_a_problem_at_its_line(brand):
    assert problems_of(GOOD.encode() + b"2\n00:00:03,000 --> 00:00:04,000\n\xff\n", brand) == [
        SrtProblem(7, "not UTF-8 text (byte 0xff)")
    ]


def test_every_problem_is_collected_and_readable(brand, products):
    text = (
        GOOD
        + cue_block(2, "00:00:03,000 --> 00:00:0x,000", '{"sku": "TEE-01"}')
        + cue_block(3, "00:00:05,000 --> 00:00:06,000", "not json")
        + cue_block(4, "00:00:01,500 --> 00:00:07,000", '{"sku": "TEE-01"}')
        + cue_block(5, "00:00:08,000 --> 00:00:09,000", '{"productId": 999999}')
    )

    with pytest.raises(SrtImportError) as caught:
        parse_srt(text, organization=brand)

    error = caught.value
    assert [p.line for p in error.problems] == [6, 11, 14, 19]
    assert isinstance(error, EventError) and isinstance(error, ValueError)
    message = str(error)
    assert message.startswith("The SRT file has problems; nothing was imported (4 problems):\n")
    assert "\nline 6: bad timestamp" in message and "\nline 11: bad JSON" in message
    assert "\nline 14: cues overlap" in message and "\nline 19: no product with productId 999999" in message


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

    with pytest.raises(PermissionDenied, match="edit recording"):
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

    with pytest.raises(CommandError, match="mo: You may not edit recording for this brand"):
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

    assert saved(recording) == before
