"""``apibridge serve``'s bounds on connections: how long and how much a request head may take.

Theory of operation
-------------------
uvicorn closes a keep-alive connection that stays idle, but a connection that never sends a
request, or sends its head a byte at a time, it keeps forever: 1,100 such sockets (no key
needed) once locked new clients out of a gateway under a 1,024-descriptor limit. Its
``limit_concurrency`` answers 503 past a number of connections, but only once a request
arrives. :class:`BoundedHttpProtocol` is uvicorn's own HTTP protocol (httptools when
installed, else h11) with one more timer: from the moment a connection opens, or finishes
an answer and waits for the next request, its head must be complete within
``server.header_timeout`` seconds and :data:`MAX_HEAD_BYTES` bytes, or the connection is
closed. A request being answered is never cut by it; the body has its own bound
(``server.body_timeout``, in :mod:`apibridge.asgi`).

uvicorn builds the protocol from an import string (which worker processes can pickle), so
the settings are module state: :func:`configure` sets them in the process that serves
(``apibridge serve``, or each worker's app factory).
"""

from __future__ import annotations

import asyncio
from typing import Any

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is part of uvicorn[standard]
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

__all__ = ["MAX_HEAD_BYTES", "PROTOCOL", "BoundedHttpProtocol", "configure"]

#: the import string uvicorn takes for ``http=``.
PROTOCOL = "apibridge._serve_bounds:BoundedHttpProtocol"
#: the largest request head (request line and headers) a connection may send.
MAX_HEAD_BYTES = 64 * 1024

_settings = {"header_timeout": 30.0}


def configure(header_timeout: float) -> None:
    """Set the head timeout of the connections this process accepts from now on."""
    _settings["header_timeout"] = header_timeout


class BoundedHttpProtocol(_Base):
    """uvicorn's HTTP protocol with a request-head timeout and size cap (see the module doc)."""

    _head_timer: asyncio.TimerHandle | None = None
    _armed_cycle: Any = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        waiting = self._waiting()
        if waiting:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._disarm()
                self.transport.close()
                return
        super().data_received(data)
        if waiting and self.cycle is not self._armed_cycle:
            self._disarm()  # the head is complete: a request is being served

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._idle():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _idle(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _waiting(self) -> bool:
        return self._head_timer is not None and self.cycle is self._armed_cycle

    def _arm(self) -> None:
        self._disarm()
        self._armed_cycle = self.cycle
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(_settings["header_timeout"], self._expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self) -> None:
        self._head_timer = None
        if self.cycle is self._armed_cycle and self._idle():
            self.transport.close()
