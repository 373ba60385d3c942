"""Graceful shutdown: the open requests get ``server.drain_timeout`` seconds, then a proper end.

Theory of operation
-------------------
On SIGTERM (or Ctrl-C) uvicorn stops accepting connections, closes the idle ones and waits
for the requests in flight; a stream may last minutes, and an orchestrator that tires of
waiting sends SIGKILL, which cuts every open stream without a word. ``apibridge serve``
therefore wraps the app in :class:`DrainOnSignal`: the signal, before it reaches uvicorn's
own handler, calls :func:`begin_drain` in the event loop, which sets this process's drain
deadline ``drain_timeout`` seconds ahead.

Every wait of the gateway on an upstream runs in a cancel scope made by :func:`bounded`
(:mod:`~apibridge._gateway._limits`: the upstream's total deadline), whose deadline is the
earlier of its own and the drain's; the scopes open when the drain begins are moved forward
at once. A request still waiting when the drain expires gets :func:`shutting_down`, the
``unavailable`` error (HTTP 503, Anthropic's ``overloaded_error``, which the SDKs retry):
as a status before a stream's first event, as the stream's in-band error and a clean end
after it (:mod:`~apibridge._gateway._streaming`). Streams that finish within the drain
finish normally. uvicorn's ``timeout_graceful_shutdown`` is set a few seconds past the drain,
a backstop for what no upstream wait covers (a client that stopped reading).

The deadline is per process, like the signal: each worker drains its own requests, and a
server starting again in the process (its lifespan) ends an earlier drain (:func:`end_drain`).
An app mounted in another server drains only if that server's shutdown calls
:func:`begin_drain`, and starts afresh after :func:`end_drain`.
"""

from __future__ import annotations

import asyncio
import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import anyio

from apibridge.errors import ApiError

__all__ = ["DrainOnSignal", "begin_drain", "bounded", "draining", "end_drain", "shutting_down"]

#: the seconds uvicorn's graceful shutdown waits past the drain before it cancels what is left
BACKSTOP = 5.0


class _Drain:
    """This process's drain: its deadline (``inf`` until it begins) and the open scopes."""

    __slots__ = ("deadline", "scopes", "seconds")

    def __init__(self) -> None:
        self.deadline = math.inf
        self.seconds = 0.0
        self.scopes: set[anyio.CancelScope] = set()


_DRAIN = _Drain()


def begin_drain(seconds: float, now: float | None = None) -> None:
    """End every upstream wait of this process at most ``seconds`` from ``now`` (default: the
    time in the running task; from a plain event-loop callback pass ``loop.time()``). In the
    event loop's thread; a second call can only bring the deadline closer."""
    deadline = (anyio.current_time() if now is None else now) + seconds
    if deadline < _DRAIN.deadline:
        _DRAIN.deadline = deadline
        _DRAIN.seconds = seconds
    for scope in _DRAIN.scopes:
        scope.deadline = min(scope.deadline, _DRAIN.deadline)


def end_drain() -> None:
    """Forget a drain: a server starting (again) in this process is not shutting down."""
    _DRAIN.deadline = math.inf
    _DRAIN.seconds = 0.0


def draining() -> bool:
    """Whether the drain has expired (a wait cut now was cut by it)."""
    return anyio.current_time() >= _DRAIN.deadline


def shutting_down() -> ApiError:
    """The error of a request the drain cut: 503, retryable."""
    return ApiError.of(
        "unavailable",
        f"the gateway is shutting down: the request was still open "
        f"{_DRAIN.seconds:g} s after the stop signal (server.drain_timeout); retry",
        retry_after=1.0,
    )


@contextmanager
def bounded(deadline: float) -> Iterator[anyio.CancelScope]:
    """A cancel scope ending at ``deadline`` or at the drain's, whichever comes first (check
    ``cancelled_caught`` after the block)."""
    scope = anyio.CancelScope(deadline=min(deadline, _DRAIN.deadline))
    _DRAIN.scopes.add(scope)
    try:
        with scope:
            yield scope
    finally:
        _DRAIN.scopes.discard(scope)


class DrainOnSignal:
    """An ASGI wrapper for ``apibridge serve``: SIGTERM and SIGINT begin the drain (see the
    module docstring), then go on to the server's own handler.

    The handlers are chained when the lifespan starts, inside the server's own signal
    capture (uvicorn restores the original handlers when it stops).
    """

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            end_drain()  # a drain of an earlier server in this process is over
            self._chain(asyncio.get_running_loop())
        await self.app(scope, receive, send)

    def _chain(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                previous = signal.getsignal(sig)
            except ValueError:  # pragma: no cover  (not the main thread: no signals here)
                return

            def handler(number: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(lambda: begin_drain(self.seconds, now=loop.time()))
                if callable(previous):
                    previous(number, frame)

            try:
                signal.signal(sig, handler)
            except ValueError:  # pragma: no cover  (not the main thread)
                return
