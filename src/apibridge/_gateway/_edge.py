"""The gateway's edge against web pages: ``Host``, ``Origin``, the content type, CORS.

Theory of operation
-------------------
A gateway on loopback with no client key trusts whoever reaches the port. A web page in the
user's browser reaches it too, two ways, and this module closes both (as Ollama and Jupyter do):

* **Cross-origin requests.** A page may POST a "simple" request (``text/plain``, no custom
  header) to ``http://127.0.0.1:8080`` without a CORS preflight. :func:`check_edge` refuses a
  request that carries an ``Origin`` unless that origin is configured
  (``server.cors_origins``; ``*`` for any), and refuses a POST whose ``Content-Type`` is not
  ``application/json`` (parameters allowed) with 415 — a page can send JSON cross-origin only
  after a preflight, which the gateway answers only for configured origins
  (:func:`preflight`). Non-browser clients (the SDKs, Claude Code, Codex) send
  ``application/json`` and no ``Origin``.
* **DNS rebinding.** A page on ``attacker.example`` re-resolves its own name to 127.0.0.1 and
  becomes same-origin with the gateway; the browser then sends ``Host: attacker.example``.
  When the gateway listens on loopback (the default, and what a mounted app's config says
  unless told otherwise), ``Host`` must name loopback (``localhost``, ``*.localhost``, an
  address in 127.0.0.0/8 or ``::1``), the bind address, or one of ``server.allowed_hosts``
  (exact names, ``.example.com`` for a domain and its subdomains, ``*`` for any). Bound to
  another address (``--host 0.0.0.0``, which needs client keys or ``allow_open``), the gateway
  is reached by whatever names point at it, so ``Host`` is checked only when
  ``allowed_hosts`` is set. A request without ``Host`` (HTTP/1.0) passes: browsers always
  send one.

Each refusal is a :class:`~apibridge.errors.GatewayError` (403, or 415), so the handler writes it
in the client's own format and status. A configured origin gets
``Access-Control-Allow-Origin`` on every answer (:func:`cors_headers`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import attrs

from apibridge._hosts import host_name, is_loopback
from apibridge.config import ServerConfig
from apibridge.errors import ApiError, GatewayError

__all__ = [
    "EdgePolicy",
    "check_edge",
    "check_json_body",
    "cors_headers",
    "edge_policy",
    "preflight",
]

#: response headers a browser page may read (the request id, the retry hint, the estimate mark).
_EXPOSED = "request-id, x-request-id, retry-after, x-apibridge-token-count"
#: request headers a preflight allows when the browser asks for none in particular.
_ALLOWED_HEADERS = (
    "authorization, content-type, x-api-key, anthropic-version, anthropic-beta, x-request-id, "
    "x-goog-api-key, x-goog-api-client"
)
_PREFLIGHT_MAX_AGE = "600"


@attrs.frozen
class EdgePolicy:
    """The ``Host`` and ``Origin`` rules of one server configuration (see the module doc)."""

    check_host: bool
    hosts: frozenset[str]
    domains: tuple[str, ...]
    any_origin: bool
    origins: frozenset[str]

    def host_allowed(self, value: str) -> bool:
        if not self.check_host:
            return True
        name = host_name(value)
        if name in self.hosts or is_loopback(name):
            return True
        return any(name == d[1:] or name.endswith(d) for d in self.domains)

    def origin_allowed(self, origin: str) -> bool:
        return self.any_origin or origin.strip().rstrip("/").lower() in self.origins

    @property
    def cors(self) -> bool:
        return self.any_origin or bool(self.origins)


@functools.lru_cache(maxsize=16)
def edge_policy(server: ServerConfig) -> EdgePolicy:
    """The :class:`EdgePolicy` of ``server`` (computed once per configuration)."""
    allowed = [h.strip().lower() for h in server.allowed_hosts]
    exact = {h for h in allowed if h and not h.startswith(".") and h != "*"}
    domains = tuple(h for h in allowed if h.startswith("."))
    bind = host_name(server.host)
    check = "*" not in allowed and (is_loopback(bind) or bool(allowed))
    origins = [o.strip().rstrip("/").lower() for o in server.cors_origins]
    return EdgePolicy(
        check_host=check,
        hosts=frozenset({*exact, bind}),
        domains=domains,
        any_origin="*" in origins,
        origins=frozenset(o for o in origins if o and o != "*"),
    )


def _refuse(message: str, status: int = 403) -> GatewayError:
    kind = "permission" if status == 403 else "invalid_request"
    return GatewayError(ApiError.of(kind, message, status=status))


def check_edge(server: ServerConfig, method: str, headers: Mapping[str, str]) -> None:
    """Refuse a request whose ``Host`` or ``Origin`` is not allowed (403)."""
    policy = edge_policy(server)
    host = headers.get("host")
    if host is not None and not policy.host_allowed(host):
        raise _refuse(
            f"Host {host_name(host)!r} is not allowed: this gateway answers to loopback names "
            f"and its bind address; add the name to server.allowed_hosts "
            f"(--allowed-host, APIBRIDGE_ALLOWED_HOSTS) to serve it"
        )
    origin = headers.get("origin")
    if origin is not None and not policy.origin_allowed(origin):
        raise _refuse(
            f"browser origin {origin.strip()[:200]!r} is not allowed: add it to "
            f"server.cors_origins (--cors-origin, APIBRIDGE_CORS_ORIGINS) to let web pages "
            f"from it call this gateway"
        )


def check_json_body(headers: Mapping[str, str]) -> None:
    """Refuse (415) a POST body that is not declared ``application/json``."""
    given = headers.get("content-type", "")
    if given.partition(";")[0].strip().lower() != "application/json":
        shown = repr(given[:100]) if given else "none"
        raise _refuse(
            f"Content-Type must be application/json (got {shown})",
            status=415,
        )


def cors_headers(server: ServerConfig, headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The CORS headers of an answer to a request from an allowed ``Origin`` (else none)."""
    origin = headers.get("origin")
    if origin is None:
        return ()
    policy = edge_policy(server)
    if not policy.cors or not policy.origin_allowed(origin):
        return ()
    return (
        ("access-control-allow-origin", origin.strip()),
        ("access-control-expose-headers", _EXPOSED),
        ("vary", "Origin"),
    )


def preflight(
    server: ServerConfig, methods: frozenset[str], headers: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The headers of a 204 answer to a CORS preflight for a path taking ``methods`` (the
    origin was checked by :func:`check_edge`)."""
    wanted = headers.get("access-control-request-headers", "").strip()
    return (
        *cors_headers(server, headers),
        ("access-control-allow-methods", ", ".join(sorted(methods))),
        ("access-control-allow-headers", wanted[:1000] or _ALLOWED_HEADERS),
        ("access-control-max-age", _PREFLIGHT_MAX_AGE),
    )
