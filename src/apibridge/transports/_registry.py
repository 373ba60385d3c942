"""The registry of transports by upstream kind, and the transports of one gateway.

:data:`KINDS` says, for each upstream kind (``UpstreamConfig.format``), how its transport is
built and what it speaks; :class:`Transports` holds one gateway's transports, built on first
use (see the :mod:`apibridge.transports` docstring). Each builder imports its transport when
first called: the backboard package, and httpx, load only when an upstream needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import attrs

from apibridge.config import UpstreamConfig
from apibridge.store import Store
from apibridge.transports._protocol import Resources, Transport

if TYPE_CHECKING:  # httpx is loaded by the transports that send, when first built
    import httpx

__all__ = ["KINDS", "TransportKind", "Transports"]


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
    "gemini": TransportKind(speaks="wire", build=_http),
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
