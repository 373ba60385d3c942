"""The error tree, the canonical API error, and conversion warnings.

Two kinds of failure, as in h11: the *peer's* fault (a payload that is not what its format
allows: :class:`InvalidPayload`, an upstream that answered with an error: :class:`UpstreamError`)
and the *caller's* choice that cannot be honoured (:class:`UnsupportedFeature` in strict mode).
Each knows the HTTP status it suggests and its error type in every wire format, so a server
can answer any client in that client's own error envelope.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "ERROR_KINDS",
    "ApiError",
    "ApibridgeError",
    "ConversionWarning",
    "GatewayError",
    "InvalidPayload",
    "Loss",
    "UnsupportedFeature",
    "UpstreamError",
    "kind_for_status",
]


@attrs.frozen
class ErrorKind:
    """How one kind of error is spelled: its default HTTP status and type per format."""

    status: int
    anthropic: str
    openai: str


#: canonical kind → status and wire types. ``openai`` covers Chat and Responses.
ERROR_KINDS: Mapping[str, ErrorKind] = {
    "invalid_request": ErrorKind(400, "invalid_request_error", "invalid_request_error"),
    "authentication": ErrorKind(401, "authentication_error", "authentication_error"),
    "billing": ErrorKind(402, "billing_error", "insufficient_quota"),
    "permission": ErrorKind(403, "permission_error", "permission_error"),
    "not_found": ErrorKind(404, "not_found_error", "not_found_error"),
    "method_not_allowed": ErrorKind(405, "invalid_request_error", "invalid_request_error"),
    "request_too_large": ErrorKind(413, "request_too_large", "invalid_request_error"),
    "unprocessable": ErrorKind(422, "invalid_request_error", "invalid_request_error"),
    "rate_limit": ErrorKind(429, "rate_limit_error", "rate_limit_error"),
    "api_error": ErrorKind(500, "api_error", "server_error"),
    "bad_gateway": ErrorKind(502, "api_error", "server_error"),
    "overloaded": ErrorKind(529, "overloaded_error", "server_error"),
    "unavailable": ErrorKind(503, "overloaded_error", "server_error"),
    "timeout": ErrorKind(504, "timeout_error", "timeout"),
}

_STATUS_KIND: Mapping[int, str] = {
    400: "invalid_request",
    401: "authentication",
    402: "billing",
    403: "permission",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "request_too_large",
    422: "unprocessable",
    429: "rate_limit",
    500: "api_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "timeout",
    529: "overloaded",
}


def kind_for_status(status: int) -> str:
    """The canonical kind an HTTP status suggests (other 4xx: invalid_request, 5xx: api_error)."""
    if status in _STATUS_KIND:
        return _STATUS_KIND[status]
    return "invalid_request" if 400 <= status < 500 else "api_error"


@attrs.frozen(kw_only=True)
class ApiError:
    """An API error in canonical form.

    Attributes:
        kind: a key of :data:`ERROR_KINDS`.
        message: the human-readable text.
        status: the HTTP status to answer with.
        type: the original wire type (kept so a same-format trip is exact).
        code: OpenAI's ``code`` (``context_length_exceeded``, ``invalid_api_key`` …).
        param: OpenAI's ``param``.
        retry_after: seconds the client should wait (429, 529, 503).
        request_id: the upstream's request id, where it gave one.
        source_format: the format the error was decoded from.
    """

    kind: str
    message: str
    status: int
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None
    request_id: str | None = None
    source_format: str | None = None

    @classmethod
    def of(cls, kind: str, message: str, **kw: Any) -> ApiError:
        """An error of ``kind`` with that kind's default status."""
        return cls(
            kind=kind, message=message, status=kw.pop("status", ERROR_KINDS[kind].status), **kw
        )


class ApibridgeError(Exception):
    """Base of every apibridge exception; carries an :class:`ApiError` for the client."""

    kind = "api_error"

    def __init__(self, message: str, *, status: int | None = None, **kw: Any) -> None:
        super().__init__(message)
        self.error = ApiError.of(
            self.kind, message, status=status or ERROR_KINDS[self.kind].status, **kw
        )

    @property
    def status(self) -> int:
        """The HTTP status this error suggests."""
        return self.error.status


class InvalidPayload(ApibridgeError, ValueError):
    """A payload is not valid in the format it claims (the sender's fault; HTTP 400)."""

    kind = "invalid_request"


class UnsupportedFeature(ApibridgeError):
    """Strict mode: a field cannot be carried to the target format (HTTP 400)."""

    kind = "invalid_request"

    def __init__(self, loss: Loss) -> None:
        super().__init__(f"{loss.field}: {loss.reason} (would be: {loss.action})")
        self.loss = loss


class UpstreamError(ApibridgeError):
    """The upstream answered with an error; ``error`` holds it, decoded."""

    def __init__(self, error: ApiError) -> None:
        Exception.__init__(self, error.message)
        self.error = error


class GatewayError(ApibridgeError):
    """An error the gateway itself answers with (not found, unauthorised, too large …)."""

    def __init__(self, error: ApiError) -> None:
        Exception.__init__(self, error.message)
        self.error = error


@attrs.frozen(kw_only=True)
class Loss:
    """Something that could not be carried exactly: which field, why, and what was done."""

    field: str
    reason: str
    action: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}; {self.action}"


class ConversionWarning(UserWarning):
    """Issued (``warnings.warn``) for each :class:`Loss` when the caller collects none itself."""

    def __init__(self, loss: Loss) -> None:
        super().__init__(str(loss))
        self.loss = loss


def emit(losses: list[Loss], stacklevel: int = 4) -> None:
    """Issue a :class:`ConversionWarning` for each loss, attributed to the line ``stacklevel``
    frames up: by default the caller of a public ``convert_*`` function (which reports through
    one helper), not a line of apibridge."""
    for loss in losses:
        warnings.warn(ConversionWarning(loss), stacklevel=stacklevel)
