"""Whose state is whose: the tenant a request's stored state belongs to.

Theory of operation
-------------------
What the gateway stores for a client (Responses behind ``previous_response_id``, backboard
conversations named by the client) is scoped to the client key the request was authorised
with: :func:`tenant_of` names it by a digest of that key (:func:`key_tenant`: ``k`` and 32
hex digits of SHA-256 over the key with a fixed domain prefix), never by the key itself, so
neither a store dump nor a log line holds a key. The digest is stable: reordering, adding or
removing *other* keys changes no tenant; rotating a client's key starts it afresh.

A gateway without client keys is open and has one tenant, :data:`OPEN_TENANT`: anyone who
can reach it shares what it stores. Unless it forwards client keys to an upstream (bring
your own key, ``forward_client_key``): then each key a client presents is its own tenant
(its digest, as above; no key at all is :data:`OPEN_TENANT`), so that one user's key does
not read what another user's key stored. The gateway does not check such a key, but state is
only made by answers the upstream gave to it.

The digest is unkeyed, so a short, guessable client key could be found from a store dump by
trying candidates; client keys should be long random strings (they are bearer secrets in any
case).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

from apibridge._gateway._http import presented_keys
from apibridge.config import GatewayConfig

__all__ = ["OPEN_TENANT", "key_tenant", "tenant_of"]

#: the one tenant of a gateway without client keys.
OPEN_TENANT: Final = "open"

_DOMAIN: Final = b"apibridge-tenant\0"


def key_tenant(key: str) -> str:
    """The tenant of client key ``key``: a digest that reveals nothing of the key."""
    return "k" + hashlib.sha256(_DOMAIN + key.encode()).hexdigest()[:32]


def tenant_of(config: GatewayConfig, headers: Mapping[str, str]) -> str:
    """The tenant of an authorised request: that of the configured client key it presented
    (``x-api-key`` first, then ``Authorization: Bearer``, then ``x-goog-api-key``), or, when
    the gateway has no client keys, :data:`OPEN_TENANT` (or the presented key's, when client
    keys are forwarded). A request that presents no configured key (it was not authorised)
    gets a tenant of its own that no key has."""
    keys = config.server.client_keys
    if not keys:
        if any(u.forward_client_key for u in config.upstreams.values()):
            presented = next((k for k in presented_keys(headers) if k), "")
            if presented:
                return key_tenant(presented)
        return OPEN_TENANT
    for presented in presented_keys(headers):
        if not presented:
            continue
        found = False
        for key in keys:  # every key compared, as in the authorisation check
            found |= hmac.compare_digest(presented.encode(), key.encode())
        if found:
            return key_tenant(presented)
    return "none"
