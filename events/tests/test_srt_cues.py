"""Product cues as SRT (events.srt_cues): the retail demo's sample imports as is, export -> import
round-trips, and every problem is reported with its line (nothing is returned for a file with
any problem)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import OrganizationFactory
from catalog.models import Product
from catalog.tests.factories import ProductFactory
from events.exceptions import EventError, SrtImportError, SrtProblem
from events.srt_cues import CueSpec, export_srt, parse_srt, parse_srt_timing
from events.tests.srt_helpers import GOOD, SKUS, as_tuples, cue_block

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(brand):
    return [ProductFactory(organization=brand, sku=sku) for sku in SKUS]


# aws-samples/retail-demo-store's sample.srt (MIT-0), byte for byte.
SAMPLE = Path(__file__).resolve().parent / "data" / "retail-demo-sample.srt"


def problems_of(text: str | bytes, organization) -> list[SrtProblem]:
    with pytest.raises(SrtImportError) as caught:
        parse_srt(text, organization=organization)
    return caught.value.problems


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


def test_export_rejects_an_unknown_key(products):
    with pytest.raises(ValueError, match="productId, sku"):
        export_srt([CueSpec(product=products[0], start_ms=0, end_ms=1)], key="name")


# Every problem, with its line -----------------------------------------------------------------


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
