"""CSV downloads that spreadsheets open safely: a streamed response (rows are written as they are
read, so a long export never sits in memory) and cells that cannot run as formulas.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a buyer's name would run on the
brand's machine), so it gets a leading apostrophe, as OWASP's "CSV injection" advice says.
Numbers (int, Decimal) are written as they are: a negative amount stays a number."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | Decimal:
    """``value`` as a cell: numbers as they are, dates in ISO 8601, None as "", and text that a
    spreadsheet would read as a formula with an apostrophe in front."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file-like object whose write() returns what it was given (csv.writer into a generator)."""

    def write(self, value: str) -> str:
        return value


def stream_csv(filename: str, header: Iterable[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A download of ``rows`` under ``header``, written row by row as the response is sent."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # a BOM, so Excel reads the file as UTF-8 (accents in names)
        yield writer.writerow([safe_cell(name) for name in header])
        for row in rows:
            yield writer.writerow([safe_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"  # buyers' e-mails and addresses
    return response
