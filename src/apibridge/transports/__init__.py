"""Transports: the only network code. Each sends a canonical request upstream and gives back
a canonical response or a stream of canonical events.

Theory of operation
-------------------
A transport is anything with the methods of :class:`Transport`. It takes the httpx client
from its caller, translates httpx/anyio errors into :class:`apibridge.errors.UpstreamError`
here and nowhere else, retries only before the first byte reached the client, and always
closes the upstream response (also when the consumer stops iterating early: closing the
async generator closes the upstream stream). Tool names come back to the client's through
the exchange (``exchange.decode_response``, ``exchange.restore_response``,
``exchange.stream_decoder()``), never by a transport's own hand.

Beside the :class:`~apibridge.Exchange` (the public conversion object) a transport gets a
:class:`Forwarding`: what it may pass on from the client's HTTP request (headers without
credentials, and the client's own key for an upstream that forwards it).

:data:`KINDS` is the registry keyed by upstream kind (``UpstreamConfig.format``): how the
transport of each kind is built, and what it speaks. A ``wire`` transport talks to an
upstream in a wire format, which is then the exchange's upstream codec; an ``events``
transport makes canonical events itself (the scripted one), so the exchange's upstream side
is the client's own format and no second wire format is involved. :class:`Transports` holds
the transports of one gateway: built on first use (the backboard package is imported only
then), sharing one httpx client (by default :func:`apibridge.transports.http.default_client`,
created in the running event loop and closed by :meth:`Transports.aclose`).

Two more methods are optional; the gateway uses them when a transport has them:

* ``async count_tokens(exchange, forwarding) -> int | None``: the upstream's own input-token
  count (``None`` when it has none; the gateway then answers with a marked local estimate);
* ``async list_models() -> Sequence[Mapping[str, Any]]``: the upstream's models, each with at
  least an ``id`` (empty when unavailable).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal, Protocol

import attrs

from apibridge._exchange import Exchange
from apibridge.config import UpstreamConfig
from apibridge.model import Event, Response
from apibridge.store import Store

if TYPE_CHECKING:  # httpx is loaded by the transports that send, when first built
    import httpx

__all__ = [
    "KINDS",
    "NO_FORWARDING",
    "Forwarding",
    "Resources",
    "Transport",
    "TransportKind",
    "Transports",
]


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


@attrs.frozen(kw_only=True)
class TransportKind:
    """One kind of upstream: what its transport speaks, and how it is built."""

    #: ``wire``: the upstream speaks a wire format, the exchange's upstream codec;
    #: ``events``: the transport makes canonical events itself, and the exchange's upstream
    #: side is the client's own format.
    speaks: Literal["wire", "events"]
    #: builds the transport of one upstream.
    build: Callable[[UpstreamConfig, Resources], Transport]
    #: built when the gateway is configured (a bad setting fails at start-up) and kept when
    #: the gateway closes its connections (it holds none).
    eager: bool = False


def _http(config: UpstreamConfig, resources: Resources) -> Transport:
    from apibridge.transports.http import HttpTransport

    return HttpTransport(config, client=resources.client())


def _backboard(config: UpstreamConfig, resources: Resources) -> Transport:
    # a package of its own, imported only when a backboard upstream is used
    from apibridge.transports.backboard import BackboardTransport

    return BackboardTransport.from_config(config, client=resources.client(), store=resources.store)


def _scripted(config: UpstreamConfig, resources: Resources) -> Transport:
    from apibridge.transports.scripted import ScriptedTransport

    return ScriptedTransport.from_config(config)


#: upstream kind → its transport.
KINDS: Mapping[str, TransportKind] = {
    "anthropic": TransportKind(speaks="wire", build=_http),
    "chat": TransportKind(speaks="wire", build=_http),
    "responses": TransportKind(speaks="wire", build=_http),
    "backboard": TransportKind(speaks="wire", build=_backboard),
    "scripted": TransportKind(speaks="events", build=_scripted, eager=True),
}


class Transports:
    """The transports of one gateway, one per upstream (see the module docstring).

    Args:
        given: transports by upstream name, replacing the ones :data:`KINDS` would build
            (tests, custom transports); their owner keeps them.
        client: the httpx client for the built transports; by default
            :func:`apibridge.transports.http.default_client`, created on first use inside the
            running event loop and closed by :meth:`aclose`.
    """

    def __init__(
        self,
        given: Mapping[str, Transport] | None = None,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._given = dict(given or {})
        self._built: dict[str, Transport] = {}
        self._client = client
        self._own_client = client is None
        self._store: Store | None = None
        self._eager: set[str] = set()

    def configure(self, upstreams: Iterable[UpstreamConfig], store: Store) -> None:
        """Use ``store`` for stateful transports; build the eager ones of ``upstreams`` now."""
        self._store = store
        for upstream in upstreams:
            if KINDS[upstream.format].eager and upstream.name not in self._given:
                self.get(upstream)
                self._eager.add(upstream.name)

    @staticmethod
    def upstream_format(upstream: UpstreamConfig, client_format: str) -> str:
        """The format of an exchange's upstream side for ``upstream`` and a client."""
        return client_format if KINDS[upstream.format].speaks == "events" else upstream.format

    def client(self) -> httpx.AsyncClient:
        """The shared httpx client (the default one is created now if it does not exist)."""
        if self._client is None:
            from apibridge.transports.http import default_client

            self._client = default_client()
        return self._client

    def get(self, upstream: UpstreamConfig) -> Transport:
        """The transport for ``upstream`` (built on first use)."""
        transport = self._given.get(upstream.name)
        if transport is None:
            transport = self._built.get(upstream.name)
        if transport is not None:
            return transport
        if self._store is None:
            raise RuntimeError("Transports.configure() was not called")
        resources = Resources(client=self.client, store=self._store)
        transport = KINDS[upstream.format].build(upstream, resources)
        self._built[upstream.name] = transport
        return transport

    async def startup(self) -> None:
        """Create the default httpx client now, inside the server's event loop."""
        self.client()

    async def aclose(self) -> None:
        """Close every transport and, when it is the default one, the httpx client. Built
        transports that hold connections are dropped (rebuilt on next use, with a new
        client); given and eager ones stay."""
        for transport in (*self._given.values(), *self._built.values()):
            await transport.aclose()
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None
        self._built = {n: t for n, t in self._built.items() if n in self._eager}
