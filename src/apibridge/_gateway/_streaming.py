"""A streamed answer: upstream events in, the client's SSE bytes out, one chunk at a time.

Theory of operation
-------------------
:func:`open_stream` awaits the transport's *first* event before anything is sent, so an
upstream that fails before producing anything (and was not retried into success by the
transport) becomes a real HTTP error status: its :class:`~apibridge.errors.UpstreamError`
propagates to the handler, and an empty stream is a 502. Then the body generator is run to
its priming point, inside its ``try``: from then on closing it runs its ``finally`` (closing
the upstream) even when the driver never asks for a chunk (the client left, or the server
failed to send the status line).

The body encodes each event with the client codec's ``StreamEncoder``, adding the usage of
``MessageStart``/``MessageDelta`` to the access-log record. After the first event the status
is 200, so a failure (the transport's ``StreamError`` event, or an exception here) becomes
the format's in-band error (``event: error``, an error chunk, ``response.failed``) followed
by a clean end; its message goes through the handler's key scrub (``redact``) first. For
a Responses client the handler passes the id it minted (``minted``): the ``MessageStart``
event is renamed to it before encoding, and the upstream's own id is kept in
``minted.upstream``. When the body ends it closes the upstream (shielded), calls ``on_end``
(shielded too, and bounded: a client that leaves right after the last event does not undo it)
with the encoder when the stream was written to its end (the handler stores a Responses
answer from the encoder's ``final_response`` then), and writes the access-log line; a client
that left is noted as such.

The body never holds the event loop for long: an upstream read that delivers many events at
once (tens of thousands of small ones) is relayed without awaiting anything, since the
driver's ``send`` does not suspend while the socket takes the bytes. So the body checks the
clock and, once :data:`YIELD_EVERY` seconds have passed since it last let
other tasks run, passes through one checkpoint (``anyio.lowlevel.checkpoint``): ``/health``
and every other request wait at most that long plus one event's work (itself bounded by the
SSE decoder's ``max_event_size``): the clock is checked after an event arrives and after it
is written, so one event's decoding and its encoding are separate steps. Checking the clock
costs well under 1 % of an event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Final

import anyio
import anyio.lowlevel
import attrs

from apibridge._exchange import Exchange
from apibridge._gateway._access_log import CallRecord, LossReport, log
from apibridge._gateway._previous_response import MintedId
from apibridge.codecs import StreamEncoder
from apibridge.errors import ApibridgeError, ApiError, UpstreamError
from apibridge.model import Event, MessageDelta, MessageStart, StreamError
from apibridge.store import StoreUnavailable
from apibridge.transports._closing import aclose_shielded

__all__ = ["SSE_HEADERS", "open_stream"]

SSE_HEADERS = (
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),  # ask nginx-style proxies not to buffer the stream
)

#: the longest a stream's body works without letting other tasks run, in seconds.
YIELD_EVERY: Final = 0.005

#: seconds a stream written to its end may take to store its answer (shielded from a client
#: that has left by then).
END_SECONDS = 10.0

#: called when a stream was written to its end, with the encoder that wrote it.
OnEnd = Callable[[StreamEncoder], Awaitable[None]]

#: the gateway's scrub of keys from an error (:meth:`apibridge._gateway._handler.Handler.redact`).
Redact = Callable[[ApiError], ApiError]


def _as_is(error: ApiError) -> ApiError:
    return error


async def open_stream(
    call: CallRecord,
    exchange: Exchange,
    events: AsyncIterator[Event],
    *,
    counters: dict[str, int],
    losses: LossReport,
    on_end: OnEnd | None = None,
    redact: Redact = _as_is,
    minted: MintedId | None = None,
) -> AsyncGenerator[bytes, None]:
    """The primed body of a streamed answer (see the module docstring); every in-band error
    goes through ``redact`` first."""
    try:
        first = await anext(events)
    except StopAsyncIteration:
        raise UpstreamError(
            ApiError.of("bad_gateway", f"upstream {call.upstream} sent an empty stream")
        ) from None
    except BaseException:
        await aclose_shielded(events)
        raise
    body = _body(call, exchange, events, first, counters, losses, on_end, redact, minted)
    counters["streams_open"] += 1
    call.stream_opened()
    await anext(body)  # the priming point
    return body


async def _body(
    call: CallRecord,
    exchange: Exchange,
    events: AsyncIterator[Event],
    first: Event,
    counters: dict[str, int],
    losses: LossReport,
    on_end: OnEnd | None,
    redact: Redact,
    minted: MintedId | None,
) -> AsyncGenerator[bytes, None]:
    encoder = exchange.client.StreamEncoder(exchange.ctx)
    call.status = 200
    finished = False
    clock = time.perf_counter
    try:
        yield b""  # the priming point (see open_stream); never sent
        try:
            out = _encode(call, counters, encoder, first, redact, minted)
            if out:
                yield out
            due = clock() + YIELD_EVERY
            async for event in events:
                # before encoding (the event's decoding may have taken long) and after
                if clock() >= due:  # let other tasks run (see the module docstring)
                    await anyio.lowlevel.checkpoint()
                    due = clock() + YIELD_EVERY
                out = _encode(call, counters, encoder, event, redact, minted)
                if out:
                    yield out
                if clock() >= due:
                    await anyio.lowlevel.checkpoint()
                    due = clock() + YIELD_EVERY
            tail = b"".join(encoder.close())
        except Exception as exc:
            # the stream has begun: the only way left to say so is in-band
            error = exc.error if isinstance(exc, ApibridgeError) else None
            if isinstance(exc, UpstreamError):
                call.upstream_error = exc.error.kind
            if isinstance(exc, StoreUnavailable):
                log.error("%s: state store unavailable: %s", call.request_id, exc.detail)
            if error is None:
                log.exception("%s: internal error mid-stream", call.request_id)
                error = ApiError.of("api_error", f"internal error (request id {call.request_id})")
            call.note = f"error={error.kind}"
            tail = b"".join(encoder.feed(StreamError(error=redact(error))))
            tail += b"".join(encoder.close())
        if tail:
            yield tail
        finished = True
    finally:
        try:
            await aclose_shielded(events)
            counters["streams_open"] -= 1
            if not finished:
                call.note = call.note or "client went away"
            elif on_end is not None:
                await _end(call, on_end, encoder)
        finally:  # whatever happened above, the record is written (and its spans ended)
            losses.report(call, exchange)
            call.log()


async def _end(call: CallRecord, on_end: OnEnd, encoder: StreamEncoder) -> None:
    """``on_end`` for a stream written to its end, shielded (bounded by :data:`END_SECONDS`):
    a client that leaves as soon as it has read the last event (Codex does) must not cancel
    the storing of the answer it was given."""
    try:
        with anyio.CancelScope(shield=True, deadline=anyio.current_time() + END_SECONDS):
            await on_end(encoder)
    except Exception:
        log.exception("%s: the end of the stream failed", call.request_id)


def _encode(
    call: CallRecord,
    counters: dict[str, int],
    encoder: StreamEncoder,
    event: Event,
    redact: Redact,
    minted: MintedId | None,
) -> bytes:
    if minted is not None and isinstance(event, MessageStart):
        minted.upstream = event.id
        event = attrs.evolve(event, id=minted.id)
    if isinstance(event, MessageStart | MessageDelta):
        call.add_usage(event.usage)
        if isinstance(event, MessageDelta) and event.stop_reason is not None:
            call.stop_reason = event.stop_reason
    elif isinstance(event, StreamError):
        error: ApiError = event.error
        call.note = f"error={error.kind}"
        call.upstream_error = error.kind
        counters["errors"] += 1
        event = StreamError(error=redact(error))
    return b"".join(encoder.feed(event))
