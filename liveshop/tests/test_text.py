"""clean_text: what people type is stored as text everyone sees the same way."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveshop.text import clean_text


@given(st.text())
def test_cleaning_is_idempotent_and_leaves_nfc_without_controls_or_edges(value):
    cleaned = clean_text(value)

    assert clean_text(cleaned) == cleaned
    assert cleaned == unicodedata.normalize("NFC", cleaned) == cleaned.strip()
    assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in cleaned)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("a\tb\nc", "a b c"),  # line breaks and tabs are spaces
        ("e\u0301", "\u00e9"),  # NFC
        ("spa\u200b\u200bm", "spam"),  # an invisible run dodging a word list
        ("\u202eevil", "evil"),  # a bidi override reordering what others read
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", None),  # a family: one emoji by its joiners
        ("\u200dhi\u200d", "hi"),  # a joiner at an edge joins nothing
        ("\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", None),  # Scotland's flag
        ("hi\U000e0069\U000e0067\U000e006e", "hi"),  # tags elsewhere smuggle unseen text
        ("\ud800x", "x"),  # a lone surrogate PostgreSQL could not store
    ],
)
def test_what_is_kept_and_what_goes(typed, stored):
    assert clean_text(typed) == (typed if stored is None else stored)
