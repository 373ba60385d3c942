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

from apibridge.transports._protocol import NO_FORWARDING, Forwarding, Resources, Transport
from apibridge.transports._registry import KINDS, TransportKind, Transports

__all__ = [
    "KINDS",
    "NO_FORWARDING",
    "Forwarding",
    "Resources",
    "Transport",
    "TransportKind",
    "Transports",
]
