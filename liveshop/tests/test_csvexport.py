"""CSV cells a spreadsheet cannot run as formulas (OWASP's CSV injection advice)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from liveshop.csvexport import safe_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+33 6 12", "'+33 6 12"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("Rose lipstick", "Rose lipstick"),
        ("a=b", "a=b"),
        (Decimal("-5.00"), Decimal("-5.00")),
        (-3, -3),
        (None, ""),
        (True, "yes"),
        (datetime(2026, 12, 3, 19, 5, 1, 999, tzinfo=UTC), "2026-12-03T19:05:01+00:00"),
    ],
)
def test_text_that_starts_like_a_formula_gets_an_apostrophe_and_numbers_stay_numbers(value, cell):
    assert safe_cell(value) == cell
