"""Server-sent events framing: bytes in, frames out; frames in, bytes out. No I/O.

Follows the WHATWG ``text/event-stream`` rules: lines end in CRLF, LF or CR (a CR at the end
of one chunk may be the first half of a CRLF in the next); ``data:`` lines of one event join
with ``\\n``; a line starting with ``:`` is a comment; one optional space after the colon is
dropped; a frame ends at a blank line; a UTF-8 byte order mark opening the stream is skipped;
UTF-8 may be split anywhere between chunks. Any chunking of the same bytes gives the same
frames (a property test holds this). Two leniencies, both kept on purpose: a frame with any
field dispatches even without ``data``, and a last frame with no blank line after it is
flushed by ``close()`` instead of dropped. Bytes that are not UTF-8 become U+FFFD, as the
rules say, unless the decoder is ``strict`` (the gateway's, reading upstreams): then they
raise :class:`~apibridge.errors.InvalidPayload` (comment lines are never decoded).

Theory of operation (the decoder is on the path of every streamed event, so it is written for
speed and compiled by mypyc): each chunk is brought to LF line endings, then cut into
*blocks* at blank lines (``\\n\\n``) with one ``bytes.split``; a block is one frame's lines,
parsed whole, so no parser state lives between lines. Upstreams send ``data: {json}`` and
``event: name\\ndata: {json}`` blocks; those two shapes are read straight off the bytes, the
rest goes through the general line loop. Only complete blocks are decoded from UTF-8 (a block
never ends inside a character), which is why a character split across chunks needs no
incremental decoder. A block not yet complete waits in a buffer; the next chunk is appended
to it and only the new bytes (and the one before them) are searched for its end, so the work
is linear in the input however it is chunked. A block larger than ``max_event_size`` raises
:class:`~apibridge.errors.InvalidPayload` as soon as its size shows, before it is complete.
"""

from __future__ import annotations

from typing import Final

import attrs

from apibridge.errors import InvalidPayload

__all__ = ["MAX_EVENT_SIZE", "SSEDecoder", "SSEFrame", "encode_comment", "encode_frame"]

#: the default limit on one event's size in bytes (its lines, comments included, with LF line
#: endings): larger events raise instead of growing a buffer without bound.
MAX_EVENT_SIZE: Final = 8 * 1024 * 1024

_BOM: Final = b"\xef\xbb\xbf"


@attrs.frozen(kw_only=True)
class SSEFrame:
    """One event: its ``event`` name (``None`` when absent), ``data``, ``id`` and ``retry``."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Push-style decoder: ``feed(bytes) -> frames``, ``close() -> frames``.

    ``max_event_size`` bounds one event in bytes (default :data:`MAX_EVENT_SIZE`): a larger
    event, or an unterminated line that makes it larger, raises
    :class:`~apibridge.errors.InvalidPayload` from the ``feed`` (or ``close``) that shows it;
    frames that same chunk completed before it are lost with it, and the decoder is not to be
    fed again. ``strict``: an event that is not UTF-8 raises the same way (instead of
    decoding to U+FFFD).
    """

    __slots__ = ("_buffer", "_cr", "_errors", "_head", "_id", "_limit", "_scan", "_start")

    def __init__(self, max_event_size: int = MAX_EVENT_SIZE, *, strict: bool = False) -> None:
        if max_event_size < 1:
            raise ValueError(f"max_event_size must be positive, not {max_event_size}")
        self._limit = max_event_size
        self._errors = "strict" if strict else "replace"
        self._buffer = bytearray()  # an unfinished block: bytes after the last blank line
        self._scan = 0  # where to resume the search for the blank line ending _buffer
        self._cr = False  # the previous chunk ended in CR: a leading LF is part of it
        self._start = True  # nothing decided yet: a BOM may open the stream
        self._head = b""  # the stream's first bytes while they may be a split BOM
        self._id: str | None = None  # the last event id: it persists across frames

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        """Decode ``chunk`` and return the frames it completes."""
        if self._start:
            chunk = self._skip_bom(chunk)
        if not chunk:
            return []
        if self._cr:
            self._cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
                if not chunk:
                    return []
        if b"\r" in chunk:
            self._cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer
        if buffer:
            buffer.extend(chunk)
            if buffer.find(b"\n\n", self._scan) < 0:
                # A block of n bytes may be buffered with the first LF of its end: n + 1.
                if len(buffer) > self._limit + 1:
                    self._too_large()
                self._scan = len(buffer) - 1
                return []
            data = bytes(buffer)
            buffer.clear()
        else:
            data = chunk
        blocks = data.split(b"\n\n")
        rest = blocks.pop()
        if rest:
            if len(rest) > self._limit + 1:
                self._too_large()
            buffer.extend(rest)
            self._scan = len(rest) - 1
        frames: list[SSEFrame] = []
        check = len(data) > self._limit
        errors = self._errors
        try:
            for block in blocks:
                if check and len(block) > self._limit:
                    self._too_large()
                # The two shapes upstreams send, read directly: ``data: …`` and
                # ``event: …\ndata: …``; anything else takes the general loop.
                if block.startswith(b"data: "):
                    if block.find(b"\n") < 0:
                        frames.append(SSEFrame(data=block[6:].decode("utf-8", errors), id=self._id))
                        continue
                elif block.startswith(b"event: "):
                    end = block.find(b"\n")
                    if block.startswith(b"data: ", end + 1) and block.find(b"\n", end + 1) < 0:
                        frames.append(
                            SSEFrame(
                                data=block[end + 7 :].decode("utf-8", errors),
                                event=block[7:end].decode("utf-8", errors),
                                id=self._id,
                            )
                        )
                        continue
                frame = self._frame(block)
                if frame is not None:
                    frames.append(frame)
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc) from None
        return frames

    def close(self) -> list[SSEFrame]:
        """End of input: flush a last frame that had no blank line after it."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        self._cr = False
        if not rest:
            return []
        if len(rest) - (1 if rest.endswith(b"\n") else 0) > self._limit:
            self._too_large()
        try:
            frame = self._frame(rest)
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc) from None
        return [] if frame is None else [frame]

    def _skip_bom(self, chunk: bytes) -> bytes:
        """``chunk`` without the BOM that may open the stream (held while still undecided)."""
        head = self._head + chunk
        if len(head) < 3 and _BOM.startswith(head):
            self._head = head
            return b""
        self._start = False
        self._head = b""
        return head[3:] if head.startswith(_BOM) else head

    def _frame(self, block: bytes) -> SSEFrame | None:
        """The frame of one block (its lines, LF-separated), or ``None`` if it has no field."""
        data: list[bytes] = []
        event: str | None = None
        retry: int | None = None
        any_field = False
        errors = self._errors
        for line in block.split(b"\n"):
            if not line or line.startswith(b":"):
                continue  # a blank line can only open a block; a comment
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value.decode("utf-8", errors)
            elif name == b"id":
                if b"\0" not in value:
                    self._id = value.decode("utf-8", errors)
            elif name == b"retry":
                if value.isdigit():  # bytes.isdigit: ASCII digits only, as the spec says
                    retry = int(value)
            else:
                continue
            any_field = True
        if not any_field:
            return None
        text = b"\n".join(data).decode("utf-8", errors)
        return SSEFrame(data=text, event=event, id=self._id, retry=retry)

    def _too_large(self) -> None:
        raise InvalidPayload(f"an SSE event is larger than {self._limit} bytes")


def _not_utf8(exc: UnicodeDecodeError) -> InvalidPayload:
    return InvalidPayload(f"an SSE event is not valid UTF-8 ({exc.reason})")


def encode_frame(data: str | bytes, event: str | None = None) -> bytes:
    """One SSE frame as bytes; ``data`` must not contain line breaks (compact JSON never does)."""
    payload = data if isinstance(data, bytes) else data.encode()
    if event is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


def encode_comment(text: str = "") -> bytes:
    """An SSE comment line (``: text``): a keep-alive every SSE parser skips."""
    return b": " + text.encode() + b"\n\n"
