"""What every transport shares: the :class:`Transport` protocol, the :class:`Forwarding` that
travels beside an exchange, and the :class:`Resources` a transport is built with.

A transport retries inside its own ``complete``/``stream`` call, knowing nothing of the
gateway: :func:`note_retry` tells whoever set :data:`on_retry` for the current request (the
gateway's handler: its access-log record, for the metrics); outside the gateway nobody
listens. Every retry happens before the answer or first event returns, so in the handler's
own task and context.

In a module of its own, so the transports can name these without importing the
:mod:`apibridge.transports` face, which imports the registry, which builds them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

import attrs

from apibridge._exchange import Exchange
from apibridge.model import Event, Response
from apibridge.store import Store

if TYPE_CHECKING:  # httpx is loaded by the transports that send, when first built
    import httpx

__all__ = ["NO_FORWARDING", "Forwarding", "Resources", "Transport", "note_retry", "on_retry"]

#: called once per retry of the current request (``None``: nobody listens).
on_retry: ContextVar[Callable[[], None] | None] = ContextVar("apibridge_on_retry", default=None)


def note_retry() -> None:
    """Tell the current request's listener, if any, that its upstream call is retried."""
    listener = on_retry.get()
    if listener is not None:
        listener()


@attrs.frozen(kw_only=True)
class Forwarding:
    """What a transport may pass on from the client's HTTP request, beside the exchange."""

    #: the client's headers (lower-case names, credentials and hop-by-hop headers removed),
    #: for transports that forward some (``anthropic-beta`` to an Anthropic upstream) or read
    #: them (backboard's conversation id).
    headers: Mapping[str, str] = attrs.field(factory=dict)
    #: the key the client presented (``x-api-key`` or Bearer), only for an upstream configured
    #: to forward it (bring your own key); never part of a repr or a log line.
    key: str | None = attrs.field(default=None, repr=False)
    #: whose state this request may use (the gateway's digest of the client key, see
    #: :mod:`apibridge._gateway._tenant`): a transport keeps what a client names (backboard's
    #: conversation ids, tool-call routes) apart per tenant. Empty outside the gateway.
    tenant: str = ""
    #: trace context headers (``traceparent``, ``tracestate``) the upstream request carries,
    #: with ``server.traces`` on (:mod:`apibridge._gateway._traces`).
    trace_headers: Mapping[str, str] = attrs.field(factory=dict)


#: nothing to forward (library use, tests).
NO_FORWARDING = Forwarding()


class Transport(Protocol):
    """Carries one exchange to an upstream."""

    async def complete(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> Response:
        """Send ``exchange``'s request non-streamed; the canonical answer (tool names restored).

        Raises :class:`apibridge.errors.UpstreamError` for any upstream failure.
        """
        ...

    def stream(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> AsyncIterator[Event]:
        """Send ``exchange``'s request streamed; canonical events as they arrive.

        Failures before the first event raise :class:`apibridge.errors.UpstreamError`;
        later ones arrive as a :class:`apibridge.StreamError` event followed by the end.
        """
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (its own clients, pools)."""
        ...


@attrs.frozen(kw_only=True)
class Resources:
    """What a transport may be built with: the shared httpx client (made on first call) and
    the state store."""

    client: Callable[[], httpx.AsyncClient]
    store: Store
