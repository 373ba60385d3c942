"""Large reads of an upstream stream, handed on in slices.

A read of a streamed body returns whatever the connection has buffered: with a fast upstream
that is hundreds of KiB, thousands of small events. Decoded in one go, they would hold the
event loop for as long as that takes before the first of them is passed on (and before any
other request is served). :func:`in_slices` cuts such a read into slices of a bounded size,
given out one per call without waiting on the connection, so the SSE decoder's work per step
is bounded and the gateway's stream can let other tasks run between steps
(:mod:`apibridge._gateway._streaming`). Any cut is fine: the decoder gives the same frames
however its input is chunked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

__all__ = ["SLICE", "in_slices"]

#: the most bytes :func:`in_slices` gives at once by default.
SLICE = 64 * 1024

Read = Callable[[], Awaitable[bytes | None]]


def in_slices(read: Read, size: int = SLICE) -> Read:
    """``read`` (the next chunk, ``None`` or ``b""`` at the end), giving at most ``size``
    bytes per call: the rest of a larger chunk comes with the next calls, before ``read`` is
    called again."""
    rest = memoryview(b"")

    async def sliced() -> bytes | None:
        nonlocal rest
        if not rest:
            chunk = await read()
            if not chunk or len(chunk) <= size:
                return chunk
            rest = memoryview(chunk)
        piece = bytes(rest[:size])
        rest = rest[size:]
        return piece

    return sliced
