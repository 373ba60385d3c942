"""The one progress line the harness keeps rewriting on stderr while it runs."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()
_WIDTH = [0]
_LAST = [0.0]


def progress(message: str) -> None:
    """Replace the progress line with ``message`` (and the time since the start)."""
    line = f"[{time.monotonic() - _START:6.1f} s] {message}"
    pad = max(0, _WIDTH[0] - len(line))
    _WIDTH[0] = len(line)
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line + " " * pad)
    elif time.monotonic() - _LAST[0] >= 2.0:  # a log file gets a line every 2 s at most
        _LAST[0] = time.monotonic()
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def done() -> None:
    """End the progress line."""
    if sys.stderr.isatty() and _WIDTH[0]:
        sys.stderr.write("\r" + " " * _WIDTH[0] + "\r")
        sys.stderr.flush()
    _WIDTH[0] = 0


def log(message: str) -> None:
    """A line that stays (above the progress line)."""
    done()
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
