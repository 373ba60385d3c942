"""The gateway's HTTP vocabulary: request and response values, and the route table.

Theory of operation
-------------------
Drivers build an :class:`HttpRequest` and send back an :class:`HttpResponse`; neither knows
anything about ASGI, WSGI or a framework. :data:`ENDPOINTS` maps each path to an
:class:`Endpoint`, which names the operation, the methods it takes, and the client format
its errors are written in (``None``: Anthropic's shape when the request carries
``anthropic-version``, OpenAI's otherwise). Paths with a parameter (a stored response id, a
model id) are in :data:`PATTERNS`, tried in order after the exact table. :func:`route` does
the lookup; a wrong method is :class:`MethodNotAllowed`, whose error also knows the ``Allow``
header.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping

import attrs

from apibridge.errors import ApiError, GatewayError

__all__ = [
    "ENDPOINTS",
    "PATTERNS",
    "AllowError",
    "Endpoint",
    "HttpRequest",
    "HttpResponse",
    "MethodNotAllowed",
    "route",
]


@attrs.frozen(kw_only=True)
class HttpRequest:
    """A request as the drivers hand it over (header names lower-case)."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""


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
    "/health": _ep("health", "GET HEAD", None, needs_key=False),
    "/": _ep("root", "GET HEAD", None, needs_key=False),
    "/admin/state": _ep("admin", "GET", "chat", needs_key=False),
}

#: parametrised paths, tried in order after :data:`ENDPOINTS`.
PATTERNS: tuple[tuple[re.Pattern[str], Endpoint], ...] = (
    (re.compile(r"/v1/responses/([^/]+)/input_items"), _ep("input_items", "GET", "responses")),
    (re.compile(r"/v1/responses/([^/]+)"), _ep("stored", "GET DELETE", "responses")),
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
