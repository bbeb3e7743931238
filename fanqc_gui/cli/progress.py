"""Progress of a `fanqc` command on stderr (stdout stays reserved for --json)."""
from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar on stderr (redrawn in place on a terminal, a few lines otherwise)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def say(self, text: str) -> None:
        if not self.quiet:
            self._end_line()
            print(text, file=sys.stderr, flush=True)

    def bar(self, label: str, done: int, total: int, extra: str = "") -> None:
        if self.quiet or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        width = 30
        filled = int(width * done / total)
        line = f"{label:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {extra}"
        if self.tty:
            print("\r" + line[:120], end="" if done < total else "\n", file=sys.stderr, flush=True)
            self._open = done < total
        else:
            print(line, file=sys.stderr, flush=True)

    def _end_line(self) -> None:
        if self.tty and getattr(self, "_open", False):
            print(file=sys.stderr)
            self._open = False
