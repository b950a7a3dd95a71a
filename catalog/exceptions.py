"""Errors the catalogue services raise. Entry points turn them into messages or CommandError."""

from __future__ import annotations

from dataclasses import dataclass


class CatalogError(Exception):
    """Base class for the catalogue's expected failures."""


@dataclass(frozen=True)
class RowError:
    """One problem in an import file: ``line`` counts the header as line 1."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ImportFailed(CatalogError):
    """The import file has bad rows (all of them are listed); nothing was written."""

    def __init__(self, errors: list[RowError]):
        self.errors = sorted(errors, key=lambda error: error.line)
        lines = len({error.line for error in self.errors})
        super().__init__(f"{lines} line(s) of the file have errors; nothing was imported.")


class ImportFileNotUtf8(CatalogError):
    """The import file is not UTF-8 text, so its rows cannot be read at all."""
