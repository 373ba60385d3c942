"""Transports: the only network code. Each sends a canonical request upstream and gives back
a canonical response or a stream of canonical events.

A transport is anything with the two methods of :class:`Transport`. It takes the httpx client
from its caller, translates httpx/anyio errors into :class:`apibridge.errors.UpstreamError`
here and nowhere else, retries only before the first byte reached the client, and always
closes the upstream response (also when the consumer stops iterating early: closing the
async generator closes the upstream stream).

Two more methods are optional; the gateway uses them when a transport has them:

* ``async count_tokens(exchange) -> int | None``: the upstream's own input-token count
  (``None`` when it has none; the gateway then answers with a marked local estimate);
* ``async list_models() -> Sequence[Mapping[str, Any]]``: the upstream's models, each with at
  least an ``id`` (empty when unavailable).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from apibridge._exchange import Exchange
from apibridge.model import Event, Response

__all__ = ["Transport"]


class Transport(Protocol):
    """Carries one exchange to an upstream."""

    async def complete(self, exchange: Exchange) -> Response:
        """Send ``exchange``'s request non-streamed; the canonical answer (tool names restored).

        Raises :class:`apibridge.errors.UpstreamError` for any upstream failure.
        """
        ...

    def stream(self, exchange: Exchange) -> AsyncIterator[Event]:
        """Send ``exchange``'s request streamed; canonical events as they arrive.

        Failures before the first event raise :class:`apibridge.errors.UpstreamError`;
        later ones arrive as a :class:`apibridge.StreamError` event followed by the end.
        """
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (its own clients, pools)."""
        ...
