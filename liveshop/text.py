"""People's short texts (chat messages, display names), cleaned the one way every entry point
shares: what is left is safe to store in PostgreSQL and to show as plain text.

``clean_text`` removes control characters (line breaks and tabs become spaces), lone surrogates
(PostgreSQL cannot store them), bidirectional overrides (they reorder what others read) and
invisible runs (zero-width characters used to dodge word lists or to look empty), keeping the
joiners emoji and some scripts need between two visible characters and the tag characters of a
subdivision flag; then it normalises to NFC and trims. Idempotent: cleaning twice changes nothing.
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width and other invisible code points that carry no text of their own.
_INVISIBLE = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u115f\u1160\u3164\uffa0"
_JOINERS = "\u200c\u200d"  # ZWNJ (Persian, Indic) and ZWJ (emoji sequences), alone between two
_BIDI = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_WHITESPACE_CONTROLS = "\t\n\v\f\r\x85\u2028\u2029"
_FLAG_TAGS = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")  # e.g. the flag of Scotland
_TAG = re.compile("[\U000e0000-\U000e007f]")
_INVISIBLE_RUN = re.compile(f"[{_INVISIBLE}]+")


def _keep_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category not in ("Cc", "Cs") and char not in _BIDI


def _drop_tags(text: str) -> str:
    """Tag characters only inside a subdivision flag (elsewhere they smuggle unseen text)."""
    kept, last = [], 0
    for match in _FLAG_TAGS.finditer(text):
        kept.append(_TAG.sub("", text[last : match.start()]))
        kept.append(match.group())
        last = match.end()
    kept.append(_TAG.sub("", text[last:]))
    return "".join(kept)


def _drop_invisible_runs(text: str) -> str:
    """A run of invisible characters goes, unless it is one joiner between two visible ones."""

    def replace(match: re.Match) -> str:
        run = match.group()
        inside = match.start() > 0 and match.end() < len(text)
        return run if inside and len(run) == 1 and run in _JOINERS else ""

    return _INVISIBLE_RUN.sub(replace, text)


def clean_text(value: str) -> str:
    """``value`` cleaned (see the module's docstring); may be "" (nothing visible was left)."""
    for char in _WHITESPACE_CONTROLS:
        value = value.replace(char, " ")
    value = "".join(char for char in value if _keep_char(char))
    value = _drop_tags(value)
    # Trim before and after: a joiner left at an edge by the trim is invisible there too.
    value = _drop_invisible_runs(unicodedata.normalize("NFC", value).strip())
    return unicodedata.normalize("NFC", value).strip()
