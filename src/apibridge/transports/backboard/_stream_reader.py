"""Reading one backboard SSE response: canonical events, keep-alives and the end grace.

Theory of operation
===================
:func:`read_events` turns the bytes of one streamed backboard response into canonical events
through the exchange's :class:`~apibridge._exchange.EventDecoder` (client tool names), and
keeps three clocks, all counted from real events (SSE comments keep nothing alive here): a
frame must come within ``first_byte_timeout`` (then ``idle_timeout``), else the stream ends
with a timeout ``StreamError``; a ``Ping`` goes out after ``keepalive`` seconds without an
event; after ``run_ended``, the message ends once ``end_grace`` seconds pass without a frame
(a run may resume after a tool call). A broken connection, or an SSE event over the
decoder's size limit, ends it with a ``bad_gateway`` ``StreamError``. The response is closed
in every case, shielded from cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import httpx

from apibridge._exchange import EventDecoder
from apibridge._sse import SSEDecoder
from apibridge.codecs import backboard as codec
from apibridge.errors import ApiError, InvalidPayload
from apibridge.model import Event, Ping, StreamError
from apibridge.transports._closing import aclose_shielded
from apibridge.transports.backboard._settings import BackboardSettings

__all__ = ["read_events"]


async def read_events(
    response: httpx.Response, events_in: EventDecoder, settings: BackboardSettings
) -> AsyncGenerator[Event, None]:
    """Canonical events of one SSE response, with keep-alives and the end-grace timer.

    Three clocks, all counted from real events (SSE comments keep nothing alive here):
    a frame must come within ``first_byte_timeout`` (then ``idle_timeout``); a ``Ping``
    goes out after ``keepalive`` seconds without an event; after ``run_ended``, the
    message ends once ``end_grace`` seconds pass without a frame.
    """
    decoder = events_in.wire
    assert isinstance(decoder, codec.StreamDecoder)
    loop = asyncio.get_running_loop()
    frames = SSEDecoder(strict=True)  # bytes that are not UTF-8: an error, not U+FFFD
    chunks = response.aiter_bytes()
    pending: asyncio.Future[bytes | None] | None = None
    last_frame = last_event = loop.time()
    deadline = last_frame + settings.first_byte_timeout
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(chunks, None))
            grace = decoder.ended and not decoder.done
            timers = [deadline, last_event + settings.keepalive]
            if grace:
                timers.append(last_frame + settings.end_grace)
            done, _ = await asyncio.wait({pending}, timeout=max(0.0, min(timers) - loop.time()))
            now = loop.time()
            if not done:
                if grace and now >= last_frame + settings.end_grace:
                    for event in events_in.close():  # the run ended and nothing followed
                        yield event
                    return
                if now >= deadline:
                    yield StreamError(
                        error=ApiError.of(
                            "timeout",
                            "backboard sent nothing for too long",
                            source_format="backboard",
                        )
                    )
                    return
                if now >= last_event + settings.keepalive:
                    last_event = now
                    yield Ping()
                continue
            try:
                chunk = pending.result()
            except httpx.HTTPError as exc:
                yield StreamError(
                    error=ApiError.of(
                        "bad_gateway",
                        f"stream closed unexpectedly ({type(exc).__name__})",
                        source_format="backboard",
                    )
                )
                return
            finally:
                pending = None
            try:
                got = frames.close() if chunk is None else frames.feed(chunk)
            except InvalidPayload as exc:  # an event over the size limit, or not UTF-8
                yield StreamError(
                    error=ApiError.of(
                        "bad_gateway",
                        f"backboard sent an invalid stream: {exc}",
                        source_format="backboard",
                    )
                )
                return
            if chunk is None:
                for frame in got:
                    for event in events_in.feed(frame):
                        yield event
                for event in events_in.close():
                    yield event
                return
            for frame in got:
                last_frame, deadline = now, now + settings.idle_timeout
                for event in events_in.feed(frame):
                    last_event = loop.time()
                    yield event
            if decoder.done:
                return
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await aclose_shielded(response, broken=(httpx.HTTPError,))
