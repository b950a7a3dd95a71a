"""CSV downloads that spreadsheets open safely: a streamed response (rows are written as they are
read, so a long export never sits in memory) and cells that cannot run as formulas.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a buyer's name would run on the
brand's machine), so it gets a leading apostrophe, as OWASP's "CSV injection" advice says.
Numbers (int, Decimal) are written as they are: a negative amount stays a number."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 200


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
    """A download of ``rows`` under ``header``, written a few hundred rows at a time as the
    response is sent. The rows are read in the request's thread (an ORM iterator keeps its
    connection), the chunks sent from the event loop: under ASGI a synchronous iterator would be
    read whole into memory before the first byte went out."""
    writer = csv.writer(_Echo())

    def chunks() -> Iterator[str]:
        # A BOM, so Excel reads the file as UTF-8 (accents in names).
        yield "\ufeff" + writer.writerow([safe_cell(name) for name in header])
        batch = []
        for row in rows:
            batch.append(writer.writerow([safe_cell(value) for value in row]))
            if len(batch) == ROWS_PER_CHUNK:
                yield "".join(batch)
                batch = []
        if batch:
            yield "".join(batch)

    response = StreamingHttpResponse(_sent_from_the_loop(chunks()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"  # buyers' e-mails and addresses
    return response


async def _sent_from_the_loop(chunks: Iterator[str]) -> AsyncIterator[str]:
    read = sync_to_async(next, thread_sensitive=True)
    while (chunk := await read(chunks, None)) is not None:
        yield chunk
