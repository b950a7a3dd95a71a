"""WebVTT caption files (issue 16): read and checked the way product cues' SRT files are
(events.srt_cues): the whole file is read and every problem is reported with its line; a file with
any problem gives nothing back, so nothing is stored.

Checked: at most MAX_BYTES, UTF-8 (a byte-order mark is dropped), the ``WEBVTT`` signature on the
first line, each cue's timing line (``00:01.000 --> 00:04.000`` or ``01:02:03.000 --> ...``, with
optional cue settings after it; minutes and seconds below 60, three-digit milliseconds), an end
after its start, cues in order of their start (the format requires it; overlapping cues are
allowed: two speakers at once), no ``-->`` inside a cue's text, and at least one cue. NOTE, STYLE
and REGION blocks are kept as they are. Browsers read the stored text through a ``<track>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

MAX_BYTES = 512 * 1024  # an hour of dense captions is ~100 KB
MAX_CUES = 10_000
SIGNATURE = re.compile(r"^WEBVTT(?:[ \t].*)?$")
TIMESTAMP = re.compile(r"^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$")
TIMING = re.compile(r"^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+.*)?$")


class VttProblem(NamedTuple):
    """One problem in a caption file, at ``line`` (1-based; 0: the file as a whole)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class InvalidWebVtt(ValueError):
    """A caption file that cannot be stored; ``problems`` lists every one."""

    summary = "The caption file has problems; nothing was saved"

    def __init__(self, problems: list[VttProblem]):
        self.problems = problems
        super().__init__(f"{self.summary}: " + "; ".join(map(str, problems)))


@dataclass(frozen=True)
class Caption:
    start_ms: int
    end_ms: int
    text: str
    line: int  # the timing line


@dataclass(frozen=True)
class WebVtt:
    text: str  # the file as stored: decoded, without a byte-order mark, "\n" line ends
    cues: list[Caption]


def parse_webvtt(data: bytes) -> WebVtt:
    """The checked caption file in ``data``, or InvalidWebVtt with every problem by line."""
    if len(data) > MAX_BYTES:
        raise InvalidWebVtt(
            [VttProblem(0, f"The file is larger than {MAX_BYTES // 1024} KB, the most allowed.")]
        )
    text = _decode(data)
    lines = text.split("\n")
    problems: list[VttProblem] = []
    if not SIGNATURE.match(lines[0]):
        problems.append(VttProblem(1, "A WebVTT file starts with the line WEBVTT."))
        raise InvalidWebVtt(problems)  # not WebVTT at all: the rest would be noise
    cues: list[Caption] = []
    for first, block in _blocks(lines):
        cue = _read_block(first, block, problems)
        if cue is not None:
            if cues and cue.start_ms < cues[-1].start_ms:
                problems.append(VttProblem(cue.line, "Cues must be in order of their start time."))
            cues.append(cue)
    if not cues and not problems:
        problems.append(VttProblem(0, "The file has no captions."))
    if len(cues) > MAX_CUES:
        problems.append(VttProblem(0, f"The file has {len(cues)} captions; at most {MAX_CUES} are allowed."))
    if problems:
        raise InvalidWebVtt(problems)
    return WebVtt(text=text, cues=cues)


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidWebVtt([VttProblem(line, "This is not UTF-8 text; save the file as UTF-8.")]) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InvalidWebVtt([VttProblem(line, "The file holds a NUL character.")])
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _blocks(lines: list[str]):
    """``(first line number, lines)`` of each block after the header, blocks split by blank lines."""
    index = 1
    while index < len(lines) and lines[index].strip():  # the header's own lines
        index += 1
    block: list[str] = []
    start = 0
    for number, line in enumerate(lines[index:], start=index + 1):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _read_block(first: int, block: list[str], problems: list[VttProblem]) -> Caption | None:
    head = block[0]
    if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in head:
        return None
    timing_at = 0 if "-->" in head else 1
    if timing_at >= len(block) or "-->" not in block[timing_at]:
        problems.append(VttProblem(first, "Expected a timing line like 00:01.000 --> 00:04.000."))
        return None
    line = first + timing_at
    match = TIMING.match(block[timing_at].strip())
    if not match:
        problems.append(VttProblem(line, "Expected a timing line like 00:01.000 --> 00:04.000."))
        return None
    start, end = (_ms(value) for value in match.groups())
    for value, parsed in zip(match.groups(), (start, end), strict=True):
        if parsed is None:
            problems.append(VttProblem(line, f"“{value}” is not a WebVTT time (mm:ss.ttt or hh:mm:ss.ttt)."))
    if start is None or end is None:
        return None
    if end <= start:
        problems.append(VttProblem(line, "The end must come after the start."))
        return None
    text = block[timing_at + 1 :]
    for offset, text_line in enumerate(text, start=line + 1):
        if "-->" in text_line:
            problems.append(
                VttProblem(offset, "A caption's text may not hold “-->” (a blank line missing?).")
            )
            return None
    return Caption(start_ms=start, end_ms=end, text="\n".join(text), line=line)


def _ms(value: str) -> int | None:
    match = TIMESTAMP.match(value)
    if not match:
        return None
    hours, minutes, seconds, millis = match.groups()
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)
