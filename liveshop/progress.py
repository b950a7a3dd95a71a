"""A long-running command's progress on its stderr (``preencode``, ``ingest_recording``): one
line redrawn in place on a terminal (at most ten times a second), a line every ``interval``
seconds otherwise (logs), and always the last one."""

from __future__ import annotations

import time


class ProgressLine:
    """Subclasses turn their progress into text and ``show`` it."""

    def __init__(self, stream, *, tty: bool, interval: float = 5.0):
        self.stream, self.tty = stream, tty
        self.interval = 0.1 if tty else interval
        self.shown_at = 0.0  # monotonic time of the last line written
        self.shown = False

    def show(self, text: str, *, final: bool = False) -> bool:
        """Write ``text`` unless the last line is more recent than the interval (a ``final`` one
        is always written); whether it was."""
        now = time.monotonic()
        if not final and now - self.shown_at < self.interval:
            return False
        self.shown_at, self.shown = now, True
        self.stream.write(("\r\x1b[K" if self.tty else "") + text, ending="" if self.tty else "\n")
        self.stream.flush()
        return True

    def close(self) -> None:
        """End a line redrawn in place, so what the command writes next starts a line of its own."""
        if self.tty and self.shown:
            self.stream.write("")
