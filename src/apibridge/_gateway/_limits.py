"""Bounds the gateway core keeps on its own work: requests in flight, the upstream deadline.

Theory of operation
-------------------
* **In flight.** The handler counts the requests it is working on plus the streams still
  open (a stream outlives :meth:`Handler.handle`). Past ``server.max_in_flight`` a new request
  is answered at once with the client's own overload error (:func:`overloaded`: Anthropic's
  ``overloaded_error`` with 529, OpenAI's ``server_error`` with 503), with ``Retry-After: 1``,
  which the SDKs retry. ``/health`` and ``/`` are not counted, so a probe still answers.
* **Total deadline.** The upstream's ``timeouts.connect``, ``first_byte`` and ``idle`` bound
  each wait, not the whole: an upstream that sends a byte every few seconds holds a request
  forever. :func:`within_deadline` bounds a non-streamed call, retries included (504 past
  it); :func:`events_within_deadline` bounds a stream from its first request to its last
  event: before the first event it is the same 504, after it the stream ends with the
  format's in-band error (:mod:`~apibridge._gateway._streaming`). Either way the upstream
  request is closed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import TypeVar

import anyio

from apibridge._hosts import is_loopback
from apibridge.config import ServerConfig, UpstreamConfig
from apibridge.errors import ApiError, UpstreamError
from apibridge.model import Event
from apibridge.transports._closing import aclose_shielded

__all__ = [
    "body_too_slow",
    "events_within_deadline",
    "overloaded",
    "warn_if_open",
    "warn_if_reached_from_afar",
    "within_deadline",
]

T = TypeVar("T")
log = logging.getLogger("apibridge.gateway")


def warn_if_open(server: ServerConfig) -> None:
    """Say at start-up that a gateway without client keys serves whoever reaches it.

    ``apibridge serve`` refuses a non-loopback bind in that case (unless ``allow_open``); an
    app mounted in another server cannot see where that server listens, so it says so here,
    and once more (:func:`warn_if_reached_from_afar`) when a request arrives from beyond
    loopback.
    """
    if server.client_keys or server.allow_open:
        return
    log.info(
        "no client keys: the gateway serves every program that reaches it (web pages are kept "
        "out by the Host, Origin and content-type checks); if it is mounted in a server that "
        "listens beyond loopback, set client keys, or server.allow_open to serve it open"
    )


def warn_if_reached_from_afar(server: ServerConfig, local_address: str) -> bool:
    """Warn that an open gateway received a request on ``local_address``, a non-loopback
    address; whether it warned (the driver then stops checking)."""
    if server.client_keys or server.allow_open or is_loopback(local_address):
        return False
    log.warning(
        "no client keys, and a request arrived on %s, beyond loopback: anyone who reaches "
        "that address uses the upstream keys; set client keys (or server.allow_open = true "
        "if the gateway is meant to be open)",
        local_address,
    )
    return True


def body_too_slow(seconds: float) -> ApiError:
    """The 408 error for a request body that took longer than ``seconds``."""
    return ApiError.of(
        "timeout",
        f"the request body did not arrive within {seconds:g} s (server.body_timeout)",
        status=408,
    )


def overloaded(client_format: str, limit: int) -> ApiError:
    """The error for a request past ``server.max_in_flight``, in ``client_format``'s terms."""
    return ApiError.of(
        "overloaded",
        f"the gateway is handling {limit} requests (server.max_in_flight); retry shortly",
        status=529 if client_format == "anthropic" else 503,
        retry_after=1.0,
    )


def _deadline_error(upstream: UpstreamConfig) -> UpstreamError:
    return UpstreamError(
        ApiError.of(
            "timeout",
            f"upstream {upstream.name} did not finish within {upstream.timeouts.total:g} s "
            f"(timeouts.total)",
        )
    )


async def within_deadline(upstream: UpstreamConfig, call: Awaitable[T]) -> T:
    """``await call``, cut off after ``upstream.timeouts.total`` seconds (a 504 error)."""
    try:
        with anyio.fail_after(upstream.timeouts.total):
            return await call
    except TimeoutError:
        raise _deadline_error(upstream) from None


async def events_within_deadline(
    upstream: UpstreamConfig, events: AsyncIterator[Event]
) -> AsyncGenerator[Event, None]:
    """``events`` until ``upstream.timeouts.total`` seconds after the first was asked for."""
    deadline = anyio.current_time() + upstream.timeouts.total
    try:
        while True:
            # fail_at(deadline) without its generator frames and backend look-ups, which
            # cost more than relaying a small event does
            with anyio.CancelScope(deadline=deadline) as scope:
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    return
            if scope.cancelled_caught:
                raise _deadline_error(upstream)
            yield event
    finally:
        await aclose_shielded(events)
