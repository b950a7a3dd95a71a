"""Product cues as SRT subtitles, the AWS retail demo's format: one cue per product moment whose
text is ``{"productId": 12}`` (a JSON number: our Product id in the brand), ``{"productId":
"6579c22f-..."}`` (a JSON string: the product's external id, as the retail demo's own UUIDs; a
numeric-looking string is still an external id, never a primary key) or ``{"sku": "..."}``.
Each cue's text is sent as one PutMetadata call, so it may be at most MAX_METADATA_BYTES.

Reading checks the whole file and reports every problem with its line (a bad timestamp or
block, a timestamp with "." before its milliseconds, bad JSON, cue text over 1000 bytes, a
cue naming no product or two, an unknown product, overlapping or
out-of-order cues, an empty file) by raising SrtImportError; it never returns part of a file.
A cue's ``line`` is the line of its timing line (``00:00:04,000 --> 00:00:08,000``).

SRT cues always end, ProductCue's may be open (until the next cue or the end of the video).
Export writes an open cue's end as the next cue's start and the last open cue's as the video's
end when it is known (``ends_at``), else as OPEN_END (99:59:59,999), which reading turns back
into an open end. Players and the retail demo's streamer show a cue until the next one anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import srt
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.models import Product
from events.exceptions import SrtImportError, SrtProblem
from liveshop import jsoninput
from liveshop.video.base import MAX_METADATA_BYTES

__all__ = [
    "KEYS",
    "OPEN_END_MS",
    "CueSpec",
    "SrtProblem",
    "export_srt",
    "format_ms",
    "parse_srt",
    "parse_srt_timing",
]

KEYS = ("productId", "sku")
EXTERNAL_ID = "externalId"  # the lookup key of a productId given as a string
EXTERNAL_ID_LENGTH = Product._meta.get_field("external_id").max_length
MAX_PRODUCT_ID = 2**63 - 1  # the largest primary key a column (bigint) holds
OPEN_END_MS = ((99 * 60 + 59) * 60 + 59) * 1000 + 999  # 99:59:59,999, the largest SRT time
EXAMPLE = _('cue text like {"productId": 12}, {"productId": "<external id>"} or {"sku": "TEE-01"}')
TIMING_LINE = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)(?:\s.*)?$")
# SRT's own timestamp, HH:MM:SS,mmm; the srt library also takes ".", full-width colons and
# missing parts.
TIMESTAMP = re.compile(r"^[0-9]+:[0-9]{1,2}:[0-9]{1,2},[0-9]{1,3}$")
BLANK = re.compile(r"^\s*$")
INDEX = re.compile(rf"^\s*{srt.RGX_INDEX}\s*$")


@dataclass(frozen=True)
class CueSpec:
    """A product cue to save (from an SRT file or the timeline editor); ``line`` is where it
    came from in a file (0: not from a file)."""

    product: Product
    start_ms: int
    end_ms: int | None
    line: int = 0


class TimedCue(Protocol):
    """A cue to export: a CueSpec, or a saved cue (recordings' ProductCue) with its product."""

    product: Product
    start_ms: int
    end_ms: int | None


@dataclass(frozen=True)
class _Cue:
    start_ms: int
    end_ms: int | None
    data: dict[str, Any]
    line: int  # the timing line
    text_line: int  # the first line of the cue text


def parse_srt(text: str | bytes, *, organization: Organization) -> list[CueSpec]:
    """The cues of an SRT file (str, or UTF-8 bytes) with their ``organization``'s products, in
    time order. Raises SrtImportError listing every problem by line (nothing is returned for a
    file with any problem); another brand's product is reported like an unknown one."""
    cues, problems = _read(text)
    products, missing = _resolve(cues, organization)
    problems += missing
    if problems:
        raise SrtImportError(problems)
    return [
        CueSpec(product=products[_key(cue.data)], start_ms=cue.start_ms, end_ms=cue.end_ms, line=cue.line)
        for cue in cues
    ]


def parse_srt_timing(text: str | bytes) -> list[tuple[int, int | None, dict, int]]:
    """``(start_ms, end_ms, cue JSON, line)`` for each cue, in time order, without looking
    products up (each JSON has exactly one of productId and sku). Raises SrtImportError for
    every problem that needs no database (all but unknown products)."""
    cues, problems = _read(text)
    if problems:
        raise SrtImportError(problems)
    return [(cue.start_ms, cue.end_ms, cue.data, cue.line) for cue in cues]


def export_srt(cues: Iterable[TimedCue], *, key: str = "productId", ends_at: int | None = None) -> str:
    """An SRT file of ``cues`` in time order, each cue's text ``{"productId": N}`` or
    ``{"sku": "..."}`` (``key``). Open ends are written as described in the module docstring
    (``ends_at``: the video's duration in ms, where a last open cue ends).
    Select saved cues' products along (``select_related("product")``) for ``key="sku"``."""
    if key not in KEYS:
        raise ValueError(f"key must be one of {', '.join(KEYS)}, not {key!r}")
    ordered = sorted(cues, key=lambda cue: cue.start_ms)
    subtitles = []
    for index, cue in enumerate(ordered, start=1):
        end_ms = cue.end_ms
        if end_ms is None:
            end_ms = ordered[index].start_ms if index < len(ordered) else _last_end(cue, ends_at)
        value = _product_key(cue) if key == "productId" else cue.product.sku
        subtitles.append(
            srt.Subtitle(
                index=index,
                start=timedelta(milliseconds=cue.start_ms),
                end=timedelta(milliseconds=end_ms),
                content=json.dumps({key: value}, ensure_ascii=False),
            )
        )
    return srt.compose(subtitles, reindex=False)


def _last_end(cue: TimedCue, ends_at: int | None) -> int:
    """The end of a last open cue: the video's end, or OPEN_END when unknown (or not after it)."""
    return ends_at if ends_at is not None and ends_at > cue.start_ms else OPEN_END_MS


def _product_key(cue: TimedCue) -> int:
    """The cue's product id; a saved cue's ``product_id`` needs no query."""
    return getattr(cue, "product_id", None) or cue.product.pk


def format_ms(ms: int) -> str:
    """``00:01:02,345``: an SRT timestamp, for messages."""
    return srt.timedelta_to_srt_timestamp(timedelta(milliseconds=ms))


# Reading -------------------------------------------------------------------------------------


def _read(text: str | bytes) -> tuple[list[_Cue], list[SrtProblem]]:
    """Every well-formed cue in time order, and every problem found without the database."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            byte = f"0x{text[exc.start]:02x}"
            return [], [SrtProblem(line, gettext("not UTF-8 text (byte %(byte)s)") % {"byte": byte})]
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues: list[_Cue] = []
    problems: list[SrtProblem] = []
    blocks = 0
    for first, block in _blocks(lines):
        blocks += 1
        cue = _read_block(first, block, problems)
        if cue is not None:
            _check_order(cue, cues[-1] if cues else None, problems)
            if not cues or cue.start_ms >= cues[-1].start_ms:
                cues.append(cue)
    if not blocks:
        problems.append(
            SrtProblem(
                1, gettext("the file has no cues (expected SRT cues with %(example)s)") % {"example": EXAMPLE}
            )
        )
    return cues, problems


def _blocks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(number of its first line, its lines) for each run of non-blank lines."""
    block: list[str] = []
    first = 0
    for number, line in enumerate(lines, start=1):
        if BLANK.match(line):
            if block:
                yield first, block
            block = []
        else:
            if not block:
                first = number
            block.append(line)
    if block:
        yield first, block


def _read_block(first: int, block: list[str], problems: list[SrtProblem]) -> _Cue | None:
    """The cue in one block, or None after adding its problems."""
    timing = next((i for i, line in enumerate(block[:2]) if "-->" in line), None)
    text = "\n".join(block) + "\n"
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        subtitles = []
        unmatched = exc.expected_start + len(exc.unmatched_content) - len(exc.unmatched_content.lstrip())
        stray = text[:unmatched].count("\n")
        if timing is not None and stray > timing:
            unexpected = gettext("malformed cue: unexpected “%(text)s”") % {"text": block[stray].strip()}
            problems.append(SrtProblem(first + stray, unexpected))
            return None
    if reason := _structure_problem(block, timing, len(subtitles)):
        problems.append(SrtProblem(first + reason[0], reason[1]))
        return None
    line = first + timing
    if reason := _check_timestamps(block[timing]):
        problems.append(SrtProblem(line, reason))
        return None
    subtitle = subtitles[0]
    start_ms, end_ms = _ms(subtitle.start), _ms(subtitle.end)
    if end_ms <= start_ms:
        problems.append(
            SrtProblem(
                line,
                gettext("the cue ends (%(end)s) before it starts (%(start)s)")
                % {"end": format_ms(end_ms), "start": format_ms(start_ms)},
            )
        )
        return None
    data = _read_text(line + 1, subtitle.content, problems)
    if data is None:
        return None
    return _Cue(start_ms, None if end_ms == OPEN_END_MS else end_ms, data, line, line + 1)


def _structure_problem(block: list[str], timing: int | None, parsed: int) -> tuple[int, str] | None:
    """(offset in the block, reason) when srt could not read the block as one cue."""
    if timing is None:
        return 0, gettext(
            "malformed cue: expected a cue number, a timing line like "
            "“00:00:04,000 --> 00:00:08,000” and %(example)s"
        ) % {"example": EXAMPLE}
    if timing == 1 and not INDEX.match(block[0]):
        return 0, gettext("malformed cue: expected a cue number before the timing line, not “%(text)s”") % {
            "text": block[0].strip()
        }
    if parsed == 0:
        return timing, _bad_timing(block[timing])
    if parsed > 1:
        second = next((i for i, line in enumerate(block) if i > timing + 1 and "-->" in line), timing)
        if second > timing + 2 and INDEX.match(block[second - 1]):
            second -= 1  # point at the cue's number
        return second, gettext("a blank line must separate cues")
    return None


def _bad_timing(line: str) -> str:
    return gettext(
        "bad timestamp in “%(line)s” (expected a timing line like “00:00:04,000 --> 00:00:08,000”)"
    ) % {"line": line.strip()}


def _check_timestamps(line: str) -> str | None:
    """What is wrong with a timing line srt accepted (it takes 00:75:00 or 4000 ms), if anything."""
    match = TIMING_LINE.match(line)
    if match is None:
        return _bad_timing(line)
    for stamp in match.groups():
        parts = srt.TS_REGEX.match(stamp)
        if parts is None:
            return _bad_timing(line)
        _, minutes, seconds, millis = parts.groups()
        if int(minutes) > 59 or int(seconds) > 59 or len(millis) > 3:
            return gettext(
                "bad timestamp “%(stamp)s” (expected HH:MM:SS,mmm with minutes and seconds under 60)"
            ) % {"stamp": stamp}
        if not TIMESTAMP.match(stamp):
            return gettext(
                "bad timestamp “%(stamp)s” (SRT writes HH:MM:SS,mmm with a comma before the milliseconds)"
            ) % {"stamp": stamp}
    return None


def _read_text(line: int, content: str, problems: list[SrtProblem]) -> dict[str, Any] | None:
    """The cue text's JSON object if it names exactly one product, else None after a problem."""
    if not content.strip():
        no_text = gettext("the cue has no text (expected %(example)s)") % {"example": EXAMPLE}
        problems.append(SrtProblem(line - 1, no_text))
        return None
    if (size := len(content.encode("utf-8", "surrogatepass"))) > MAX_METADATA_BYTES:
        problems.append(
            SrtProblem(
                line,
                gettext(
                    "the cue text is %(size)s bytes; a cue is sent as one timed-metadata call of at "
                    "most %(max)s bytes"
                )
                % {"size": size, "max": MAX_METADATA_BYTES},
            )
        )
        return None
    try:
        data = jsoninput.loads(content)
    except json.JSONDecodeError as exc:
        bad = gettext("bad JSON: %(error)s (expected %(example)s)") % {"error": exc.msg, "example": EXAMPLE}
        problems.append(SrtProblem(line + exc.lineno - 1, bad))
        return None
    except ValueError as exc:  # NaN/Infinity, deep nesting
        bad = gettext("bad JSON: %(error)s (expected %(example)s)") % {"error": exc, "example": EXAMPLE}
        problems.append(SrtProblem(line, bad))
        return None
    if not isinstance(data, dict):
        not_object = gettext("the cue text is not a JSON object (expected %(example)s)") % {
            "example": EXAMPLE
        }
        problems.append(SrtProblem(line, not_object))
        return None
    present = [key for key in KEYS if key in data]
    reason = None
    if not present:
        reason = gettext("the cue names no product (expected %(example)s)") % {"example": EXAMPLE}
    elif len(present) == 2:
        reason = gettext("the cue has both productId and sku: give one of them")
    elif present == ["productId"] and _product_lookup(data["productId"]) is None:
        reason = gettext(
            "productId must be a whole number (a product id) or a non-empty string of at most "
            "%(length)s characters (an external id), not %(value)s"
        ) % {"length": EXTERNAL_ID_LENGTH, "value": json.dumps(data["productId"])}
    elif present == ["sku"] and not (isinstance(data["sku"], str) and data["sku"].strip()):
        reason = gettext("sku must be a non-empty string, not %(value)s") % {"value": json.dumps(data["sku"])}
    if reason:
        problems.append(SrtProblem(line, reason))
        return None
    return data


def _check_order(cue: _Cue, previous: _Cue | None, problems: list[SrtProblem]) -> None:
    if previous is None:
        return
    if cue.start_ms < previous.start_ms:
        problems.append(
            SrtProblem(
                cue.line,
                gettext(
                    "cue out of order: it starts at %(start)s, before the cue on line %(line)s (%(previous)s)"
                )
                % {
                    "start": format_ms(cue.start_ms),
                    "line": previous.line,
                    "previous": format_ms(previous.start_ms),
                },
            )
        )
    elif previous.end_ms is None or cue.start_ms < previous.end_ms:
        end = format_ms(previous.end_ms) if previous.end_ms is not None else gettext("the end")
        problems.append(
            SrtProblem(
                cue.line,
                gettext(
                    "cues overlap: this one starts at %(start)s, before the cue "
                    "on line %(line)s ends (%(end)s)"
                )
                % {"start": format_ms(cue.start_ms), "line": previous.line, "end": end},
            )
        )


def _resolve(
    cues: list[_Cue], organization: Organization
) -> tuple[dict[tuple[str, Any], Product], list[SrtProblem]]:
    """The brand's products the cues name, by (key, value), and a problem per unknown one."""
    keys = {_key(cue.data) for cue in cues}
    wanted = {kind: {value for k, value in keys if k == kind} for kind in ("productId", EXTERNAL_ID, "sku")}
    products: dict[tuple[str, Any], Product] = {}
    if keys:
        for product in Product.objects.filter(organization=organization).filter(
            Q(pk__in=wanted["productId"]) | Q(external_id__in=wanted[EXTERNAL_ID]) | Q(sku__in=wanted["sku"])
        ):
            products["productId", product.pk] = product
            products["sku", product.sku] = product
            if product.external_id:
                products[EXTERNAL_ID, product.external_id] = product
    problems = []
    for cue in cues:
        kind, value = key = _key(cue.data)
        if key not in products:
            name = {"productId": "productId", EXTERNAL_ID: gettext("external id (productId)"), "sku": "SKU"}[
                kind
            ]
            missing = gettext("no product with %(name)s %(value)s in %(brand)s") % {
                "name": name,
                "value": json.dumps(value),
                "brand": organization,
            }
            problems.append(SrtProblem(cue.text_line, missing))
    return products, problems


def _key(data: dict[str, Any]) -> tuple[str, Any]:
    """(lookup, value): ("productId", pk), (EXTERNAL_ID, external id) or ("sku", SKU)."""
    if "productId" in data:
        return _product_lookup(data["productId"])
    return "sku", data["sku"]


def _product_lookup(value: Any) -> tuple[str, Any] | None:
    """How a JSON ``productId`` names a product: a whole number is its primary key, a string its
    external id, compared as is (``"12"`` is the external id "12", never product 12)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_PRODUCT_ID:
        return "productId", value
    if isinstance(value, str) and value.strip() and len(value) <= EXTERNAL_ID_LENGTH:
        return EXTERNAL_ID, value
    return None


def _ms(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1000 + value.microseconds // 1000
