"""Server-sent events framing: bytes in, frames out; frames in, bytes out. No I/O.

Follows the WHATWG ``text/event-stream`` rules: lines end in CRLF, LF or CR (a CR at the end
of one chunk may be the first half of a CRLF in the next); ``data:`` lines of one event join
with ``\\n``; a line starting with ``:`` is a comment; one optional space after the colon is
dropped; a frame ends at a blank line; UTF-8 may be split anywhere between chunks. Any
chunking of the same bytes gives the same frames (a property test holds this).
"""

from __future__ import annotations

import codecs
import re

import attrs

__all__ = ["SSEDecoder", "SSEFrame", "encode_comment", "encode_frame"]

# Only CR, LF and CRLF end lines here (str.splitlines would also split on \f, \v, \x1c …).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@attrs.frozen(kw_only=True)
class SSEFrame:
    """One event: its ``event`` name (``None`` when absent), ``data``, ``id`` and ``retry``."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Push-style decoder: ``feed(bytes) -> frames``, ``close() -> frames``."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # text not yet ending in a line break
        self._cr = False  # the previous chunk ended in CR: a leading LF is part of it
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._any_field = False

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        """Decode ``chunk`` and return the frames it completes."""
        text = self._utf8.decode(chunk)
        if not text:
            return []
        if self._cr:
            self._cr = False
            if text.startswith("\n"):
                text = text[1:]
        text = self._pending + text
        if text.endswith("\r"):
            self._cr = True
        lines = _LINE_BREAK.split(text)
        self._pending = lines.pop()  # the text after the last line break (maybe "")
        frames: list[SSEFrame] = []
        for line in lines:
            frame = self._line(line)
            if frame is not None:
                frames.append(frame)
        return frames

    def close(self) -> list[SSEFrame]:
        """End of input: flush a last frame that had no blank line after it."""
        rest = self._pending + self._utf8.decode(b"", final=True)
        self._pending = ""
        frames: list[SSEFrame] = []
        if rest:
            frame = self._line(rest)
            if frame is not None:
                frames.append(frame)
        frame = self._line("")
        if frame is not None:
            frames.append(frame)
        return frames

    def _line(self, line: str) -> SSEFrame | None:
        if not line:
            if not self._any_field:
                return None
            frame = SSEFrame(
                data="\n".join(self._data), event=self._event, id=self._id, retry=self._retry
            )
            self._data, self._event, self._retry, self._any_field = [], None, None, False
            return frame
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        else:
            return None
        self._any_field = True
        return None


def encode_frame(data: str | bytes, event: str | None = None) -> bytes:
    """One SSE frame as bytes; ``data`` must not contain line breaks (compact JSON never does)."""
    payload = data if isinstance(data, bytes) else data.encode()
    if event is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


def encode_comment(text: str = "") -> bytes:
    """An SSE comment line (``: text``): a keep-alive every SSE parser skips."""
    return b": " + text.encode() + b"\n\n"
