"""The JSON-array form of a Gemini stream: what ``:streamGenerateContent`` serves without
``?alt=sse``.

Theory of operation
-------------------
Without ``alt=sse`` Google streams one JSON array, element by element, as the answer grows:
``[{…}`` then ``,\\r\\n{…}`` per chunk, then ``]``; each element is the
``GenerateContentResponse`` the SSE form would carry in one ``data:`` frame (an in-band error
is an ``{"error": …}`` element). apibridge's stream encoder writes SSE; :class:`ArrayWriter`
turns its frames into this form (comments such as keep-alives have no place in it and are
left out). :class:`ArrayReader` reads the form back into :class:`~apibridge._sse.SSEFrame`
values the stream decoder takes, however the bytes are cut: it scans for the end of each
top-level element (tracking nesting and strings, which only ASCII bytes delimit, so a UTF-8
character split between chunks needs no care), decodes the element whole, and keeps the rest
for the next chunk; work is linear in the input. An element larger than ``max_event_size``, or
bytes that are not a JSON array of objects, raise :class:`~apibridge.errors.InvalidPayload`;
an element the input ended inside is dropped (the decoder then reports the cut stream).
"""

from __future__ import annotations

from typing import Final

from apibridge._sse import MAX_EVENT_SIZE, SSEDecoder, SSEFrame
from apibridge.errors import InvalidPayload

__all__ = ["ArrayReader", "ArrayWriter", "sse_to_array"]

_WHITESPACE: Final = frozenset(b" \t\r\n")


class ArrayWriter:
    """The stream encoder's SSE bytes in (cut anywhere), the JSON-array stream out
    (``feed``, ``close``): each ``data:`` frame one element, in order."""

    __slots__ = ("_closed", "_frames", "_started")

    def __init__(self) -> None:
        self._frames = SSEDecoder()
        self._started = False
        self._closed = False

    def feed(self, data: bytes) -> bytes:
        """The elements the SSE bytes ``data`` complete (the array's ``[`` before the first)."""
        if self._closed:
            return b""
        return self._elements(self._frames.feed(data))

    def close(self) -> bytes:
        """The elements still held, and the end of the array (``[]`` when none was written)."""
        if self._closed:
            return b""
        self._closed = True
        rest = self._elements(self._frames.close())
        return rest + (b"]" if self._started else b"[]")

    def _elements(self, frames: list[SSEFrame]) -> bytes:
        out = bytearray()
        for frame in frames:
            if not frame.data:
                continue  # a comment or an empty frame: no element
            out += b",\r\n" if self._started else b"["
            self._started = True
            out += frame.data.encode()
        return bytes(out)


def sse_to_array(frames: list[bytes]) -> bytes:
    """A whole SSE stream of the encoder as the JSON-array form, in one piece."""
    writer = ArrayWriter()
    return b"".join(writer.feed(f) for f in frames) + writer.close()


class ArrayReader:
    """The JSON-array stream in, one :class:`SSEFrame` per element out (``feed``, ``close``)."""

    __slots__ = ("_buffer", "_depth", "_done", "_escape", "_limit", "_scan", "_start", "_state")

    def __init__(self, max_event_size: int = MAX_EVENT_SIZE) -> None:
        self._limit = max_event_size
        self._buffer = bytearray()
        self._scan = 0  # where scanning resumes in the buffer
        self._start = -1  # where the element being read begins (-1: between elements)
        self._depth = 0
        self._escape = False
        # 0 before "[", 1 between elements, 2 in an element, 3 in a string, 4 after "]"
        self._state = 0
        self._done = False

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        """The elements ``chunk`` completes, as frames."""
        if self._done or not chunk:
            return []
        buffer = self._buffer
        buffer += chunk
        frames: list[SSEFrame] = []
        i, end = self._scan, len(buffer)
        state, depth, escape = self._state, self._depth, self._escape
        while i < end:
            byte = buffer[i]
            if state == 3:  # inside a string
                if escape:
                    escape = False
                elif byte == 0x5C:  # backslash
                    escape = True
                elif byte == 0x22:  # quote
                    state = 2
            elif state == 2:
                if byte == 0x22:
                    state = 3
                elif byte in (0x7B, 0x5B):  # { [
                    depth += 1
                elif byte in (0x7D, 0x5D):  # } ]
                    depth -= 1
                    if depth == 0:
                        frames.append(self._element(bytes(buffer[self._start : i + 1])))
                        self._start = -1
                        state = 1
            elif byte in _WHITESPACE:
                pass
            elif state == 0:
                if byte == 0xEF:  # a byte order mark (it may be split between chunks)
                    if end - i < 3:
                        break
                    if buffer[i : i + 3] != b"\xef\xbb\xbf":
                        raise InvalidPayload("a Gemini stream array must start with [")
                    i += 3
                    continue
                if byte != 0x5B:
                    raise InvalidPayload("a Gemini stream without alt=sse must be a JSON array")
                state = 1
            elif state == 1:
                if byte == 0x7B:
                    self._start, depth, state = i, 1, 2
                elif byte == 0x5D:
                    state = 4
                elif byte != 0x2C:  # comma
                    raise InvalidPayload("a Gemini stream array holds objects only")
            else:  # after the closing bracket: only whitespace
                raise InvalidPayload("bytes after the end of the Gemini stream array")
            i += 1
        self._state, self._depth, self._escape = state, depth, escape
        keep = self._start if self._start >= 0 else i
        del buffer[:keep]
        self._scan = i - keep
        if self._start >= 0:
            self._start = 0
            if len(buffer) > self._limit:
                raise InvalidPayload(f"a Gemini stream element is larger than {self._limit} bytes")
        return frames

    def close(self) -> list[SSEFrame]:
        """End of input: an element it ended inside is dropped (the stream was cut)."""
        self._done = True
        self._buffer.clear()
        return []

    def _element(self, data: bytes) -> SSEFrame:
        if len(data) > self._limit:
            raise InvalidPayload(f"a Gemini stream element is larger than {self._limit} bytes")
        return SSEFrame(data=data.decode("utf-8", "replace"))
