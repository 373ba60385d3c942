"""The gateway's HTTP vocabulary: request and response values, routes, keys and bodies.

Theory of operation
-------------------
Drivers build an :class:`HttpRequest` and send back an :class:`HttpResponse`; neither knows
anything about ASGI, WSGI or a framework. :data:`ENDPOINTS` maps each path to an
:class:`Endpoint`, which names the operation, the methods it takes, and the client format
its errors are written in (``None``: Gemini's shape when the request carries a Google key,
Anthropic's when it carries ``anthropic-version``, OpenAI's otherwise). Paths with a
parameter (a stored response id, a model id, Gemini's ``models/{model}:generateContent`` …)
are in :data:`PATTERNS`, tried in order after the exact table. :func:`route` does the lookup;
a wrong method is :class:`MethodNotAllowed`, whose error also knows the ``Allow`` header.

Client keys come as ``x-api-key``, ``Authorization: Bearer`` or, as Google's SDKs send them,
``x-goog-api-key``; a ``key`` query parameter (Google's REST form) is moved into that header
by :func:`with_query_key` before anything else looks (:func:`presented_keys`), so it counts
the same everywhere, and the query string itself is never logged.

:func:`check_head` refuses a request from its head alone, in this order: a ``Host`` or
``Origin`` that is not allowed (403, :mod:`~apibridge._gateway._edge`), unknown path (404),
wrong method (405; a CORS preflight from an allowed origin passes), the admin key for the
admin view (a 404 when no admin key is configured, so the endpoint's existence is not
revealed), a client or the admin key for ``/metrics`` when any is configured (a 404 when
metrics are off), the client key (401, when keys are configured; any of
:func:`presented_keys`, compared in constant time against every key), a POST body not
declared ``application/json`` (415), a ``Content-Length`` over the limit (413).
:func:`read_json_body` inflates a gzip/deflate body within the same limit and parses the
JSON object. :func:`forwarding` is what a transport may pass on from the request
(:class:`~apibridge.transports.Forwarding`).
"""

from __future__ import annotations

import hmac
import os
import re
import zlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs

from apibridge import _json
from apibridge._gateway._edge import check_edge, check_json_body
from apibridge._gateway._policy import forwardable_headers
from apibridge.config import GatewayConfig, UpstreamConfig
from apibridge.errors import ApiError, GatewayError, InvalidPayload
from apibridge.transports import Forwarding

__all__ = [
    "ENDPOINTS",
    "PATTERNS",
    "AllowError",
    "Endpoint",
    "HttpRequest",
    "HttpResponse",
    "MethodNotAllowed",
    "bearer",
    "check_head",
    "client_format",
    "is_preflight",
    "forwarding",
    "presented_keys",
    "read_json_body",
    "request_id",
    "route",
    "with_query_key",
]

_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


@attrs.frozen(kw_only=True)
class HttpRequest:
    """A request as the drivers hand it over (header names lower-case). A ``bytearray`` body
    is the handler's to empty once parsed (:func:`read_json_body`): the ASGI driver gives one,
    so a large body is not held beside its parsed form."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes | bytearray = b""


@attrs.frozen(kw_only=True)
class HttpResponse:
    """A response: ``body``, or ``stream`` (an async generator of chunks) when streaming.

    A driver that stops consuming ``stream`` early (the client went away) must ``aclose()``
    it: that closes the upstream request.
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    stream: AsyncGenerator[bytes, None] | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Endpoint:
    """One route: its operation, the methods it takes, and its client format (errors)."""

    operation: str
    methods: frozenset[str]
    format: str | None  # None: chosen by headers (Anthropic or OpenAI shape)
    needs_key: bool = True


def _ep(op: str, methods: str, fmt: str | None, needs_key: bool = True) -> Endpoint:
    return Endpoint(op, frozenset(methods.split()), fmt, needs_key)


#: path → endpoint. OpenAI paths also answer without ``/v1`` (clients given a bare host).
ENDPOINTS: Mapping[str, Endpoint] = {
    "/v1/messages": _ep("create", "POST", "anthropic"),
    "/v1/messages/count_tokens": _ep("count_tokens", "POST", "anthropic"),
    "/v1/chat/completions": _ep("create", "POST", "chat"),
    "/chat/completions": _ep("create", "POST", "chat"),
    "/v1/responses": _ep("create", "POST", "responses"),
    "/responses": _ep("create", "POST", "responses"),
    "/v1/models": _ep("models", "GET", None),
    "/models": _ep("models", "GET", None),
    "/v1beta/models": _ep("models", "GET", "gemini"),
    "/v1alpha/models": _ep("models", "GET", "gemini"),
    "/health": _ep("health", "GET HEAD", None, needs_key=False),
    "/": _ep("root", "GET HEAD", None, needs_key=False),
    "/admin/state": _ep("admin", "GET", "chat", needs_key=False),
    "/metrics": _ep("metrics", "GET", "chat", needs_key=False),
}

#: Gemini's API versions in a path (the ``google-genai`` SDK says ``v1``, the docs ``v1beta``).
_GEMINI = r"/v1(?:beta|alpha)?/models/([^/]+)"

#: parametrised paths, tried in order after :data:`ENDPOINTS` (Gemini's model calls before
#: ``/v1/models/{id}``, which would take them).
PATTERNS: tuple[tuple[re.Pattern[str], Endpoint], ...] = (
    (re.compile(r"/v1/responses/([^/]+)/input_items"), _ep("input_items", "GET", "responses")),
    (re.compile(r"/v1/responses/([^/]+)"), _ep("stored", "GET DELETE", "responses")),
    (re.compile(_GEMINI + ":generateContent"), _ep("create", "POST", "gemini")),
    (re.compile(_GEMINI + ":streamGenerateContent"), _ep("stream", "POST", "gemini")),
    (re.compile(_GEMINI + ":countTokens"), _ep("count_tokens", "POST", "gemini")),
    (re.compile(r"/v1(?:beta|alpha)/models/([^/]+)"), _ep("model", "GET", "gemini")),
    (re.compile(r"/v1/models/(.+)"), _ep("model", "GET", None)),
)


def route(path: str) -> tuple[Endpoint | None, str | None]:
    endpoint = ENDPOINTS.get(path)
    if endpoint is None and path.endswith("/") and len(path) > 1:
        endpoint = ENDPOINTS.get(path.rstrip("/"))
    if endpoint is not None:
        return endpoint, None
    for pattern, candidate in PATTERNS:
        match = pattern.fullmatch(path)
        if match:
            return candidate, match.group(1)
    return None, None


@attrs.frozen(kw_only=True)
class AllowError(ApiError):
    """A 405 error that also knows the methods the path allows."""

    allow: str = ""


class MethodNotAllowed(GatewayError):
    def __init__(self, method: str, path: str, allowed: frozenset[str]) -> None:
        allow = ", ".join(sorted(allowed))
        error = AllowError(
            kind="method_not_allowed",
            message=f"{method} is not allowed on {path} (allowed: {allow})",
            status=405,
            allow=allow,
        )
        super().__init__(error)


def request_id(headers: Mapping[str, str]) -> str:
    """The client's ``x-request-id`` when it is a sane token, else a new id."""
    given = headers.get("x-request-id", "")
    # 32 random hex digits, as uuid4().hex gives, without building a UUID per request
    return given if _REQUEST_ID.fullmatch(given) else "req_" + os.urandom(16).hex()


def client_format(path: str, headers: Mapping[str, str]) -> str:
    """The format the answer (and any error) is written in: the endpoint's, or by headers."""
    endpoint, _ = route(path)
    if endpoint is not None and endpoint.format:
        return endpoint.format
    if "x-goog-api-key" in headers:  # also a ``?key=`` (with_query_key)
        return "gemini"
    return "anthropic" if "anthropic-version" in headers else "chat"


def bearer(value: str) -> str:
    """The token of an ``Authorization: Bearer`` header value (empty otherwise)."""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def with_query_key(headers: Mapping[str, str], query: str) -> Mapping[str, str]:
    """``headers`` with the ``key`` query parameter (Google's REST form of the client key) as
    ``x-goog-api-key``, unless that header is there already; ``headers`` itself without one."""
    if "key=" not in query or "x-goog-api-key" in headers:
        return headers
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "key":
            return {**headers, "x-goog-api-key": value}
    return headers


def presented_keys(headers: Mapping[str, str]) -> tuple[str, str, str]:
    """The client keys a request presents, in order (empty where absent): ``x-api-key``,
    ``Authorization: Bearer``, ``x-goog-api-key`` (or ``?key=``, :func:`with_query_key`)."""
    return (
        headers.get("x-api-key", ""),
        bearer(headers.get("authorization", "")),
        headers.get("x-goog-api-key", ""),
    )


def _matches_any(presented: str, keys: tuple[str, ...]) -> bool:
    found = False
    for key in keys:
        # compare against every key, so the time taken does not tell which one is close
        found |= hmac.compare_digest(presented.encode(), key.encode())
    return found


def _authorised(config: GatewayConfig, headers: Mapping[str, str]) -> bool:
    keys = config.server.client_keys
    if not keys:
        return True
    return any(p and _matches_any(p, keys) for p in presented_keys(headers))


def check_head(
    config: GatewayConfig, method: str, path: str, headers: Mapping[str, str]
) -> tuple[Endpoint, str | None]:
    """The endpoint and its parameter, or a :class:`GatewayError` (see the module docstring)."""
    check_edge(config.server, method, headers)
    endpoint, param = route(path)
    if endpoint is None:
        raise GatewayError(ApiError.of("not_found", f"no such endpoint: {method} {path}"))
    if is_preflight(method, headers):
        return endpoint, param  # its origin is allowed (check_edge); it carries no key
    if method not in endpoint.methods:
        raise MethodNotAllowed(method, path, endpoint.methods)
    if endpoint.operation == "admin":
        admin = config.server.admin_key
        presented = headers.get("x-admin-key") or bearer(headers.get("authorization", ""))
        if not admin:
            raise GatewayError(ApiError.of("not_found", f"no such endpoint: {path}"))
        if not presented or not _matches_any(presented, (admin,)):
            raise GatewayError(ApiError.of("authentication", "a valid admin key is required"))
    elif endpoint.operation == "metrics":
        _check_metrics_key(config, path, headers)
    elif endpoint.needs_key and not _authorised(config, headers):
        raise GatewayError(
            ApiError.of(
                "authentication",
                "a valid API key is required (x-api-key, Authorization: Bearer or x-goog-api-key)",
            )
        )
    if method == "POST":
        check_json_body(headers)
    length = headers.get("content-length")
    limit = config.server.max_body_bytes
    if length is not None and length.isdigit() and int(length) > limit:
        raise GatewayError(too_large(limit))
    return endpoint, param


def _check_metrics_key(config: GatewayConfig, path: str, headers: Mapping[str, str]) -> None:
    """``/metrics``: 404 when metrics are off; when client keys or an admin key are
    configured, any of them (``x-api-key``, ``x-admin-key`` or ``Authorization: Bearer``)."""
    server = config.server
    if not server.metrics:
        raise GatewayError(ApiError.of("not_found", f"no such endpoint: {path}"))
    keys = server.client_keys + ((server.admin_key,) if server.admin_key else ())
    if not keys:
        return
    for name in ("x-api-key", "x-admin-key"):
        presented = headers.get(name, "")
        if presented and _matches_any(presented, keys):
            return
    presented = bearer(headers.get("authorization", ""))
    if presented and _matches_any(presented, keys):
        return
    raise GatewayError(ApiError.of("authentication", "a valid API or admin key is required"))


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """Whether the request is a CORS preflight (``OPTIONS`` with ``Origin`` and
    ``Access-Control-Request-Method``)."""
    return (
        method == "OPTIONS" and "origin" in headers and ("access-control-request-method" in headers)
    )


def too_large(limit: int) -> ApiError:
    """The 413 error for a body over ``limit`` bytes."""
    return ApiError.of("request_too_large", f"the request body is larger than {limit} bytes")


def read_json_body(request: HttpRequest, limit: int) -> dict[str, Any]:
    """The request's JSON object, inflated first when it is gzip/deflate encoded; a
    ``bytearray`` body is emptied once read (nothing needs the raw bytes after this)."""
    raw: bytes | bytearray = request.body
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding in ("gzip", "deflate"):
        raw = _inflate(raw, limit)
    elif encoding != "identity":
        raise GatewayError(
            ApiError.of(
                "invalid_request", f"content-encoding {encoding!r} is not supported", status=415
            )
        )
    if not raw:
        raise InvalidPayload("the request body is empty; expected a JSON object")
    body = _json.loads(raw)
    if isinstance(request.body, bytearray):
        request.body.clear()  # the parsed body replaces it: the two are not held together
    if not isinstance(body, dict):
        raise InvalidPayload("the request body must be a JSON object")
    return body


def _inflate(raw: bytes | bytearray, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        out = decompressor.decompress(raw, limit + 1)
    except zlib.error:
        raise InvalidPayload("the request body is not valid gzip/deflate data") from None
    if len(out) > limit:
        raise GatewayError(too_large(limit))
    return out


def forwarding(upstream: UpstreamConfig, headers: Mapping[str, str]) -> Forwarding:
    """What ``upstream``'s transport may pass on: the client's headers without credentials,
    and the client's own key when the upstream forwards it."""
    key = None
    if upstream.forward_client_key:
        key = next((k for k in presented_keys(headers) if k), None)
    return Forwarding(headers=forwardable_headers(headers), key=key)
