"""backboard errors: ``{"detail": ...}`` bodies and stream failures → canonical, and the retry rule.

Theory of operation
===================

backboard (a FastAPI server) answers errors as ``{"detail": ...}`` with an HTTP status:
``detail`` is a string, FastAPI's list of validation errors, or an object; in a stream a
failure is an ``error``/``run_failed`` event with ``error``/``message``, or a ``run_ended``
whose status is not a success. :func:`error_message` finds the human text in any of these
shapes (bytes, JSON text, HTML pages and FastAPI's validation list are read by
:mod:`apibridge.codecs._error_bodies`, shared with the other envelopes);
:func:`error_from_message` picks the canonical kind from the status, refined by the text
(:data:`MESSAGE_KINDS`, first match wins) where the status is generic (400, 500 or none at
all), so that kind and status always agree. :func:`encode_error` writes the
``{"detail": message}`` shape back (kind and code are deliberately lost: backboard has only
the text).

:func:`is_retryable` applies BACKBOARD.md's retry lists ("Retries and quirks"): a text on
:data:`NON_RETRYABLE_MESSAGES` is never retried, whatever the status; otherwise a status in
:data:`RETRYABLE_STATUSES` or a text on :data:`RETRYABLE_MESSAGES` is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apibridge.codecs._error_bodies import detail_text, read_body, text_message
from apibridge.codecs.backboard._wire import FORMAT
from apibridge.errors import ERROR_KINDS, ApiError, kind_for_status

__all__ = [
    "MESSAGE_KINDS",
    "NON_RETRYABLE_MESSAGES",
    "RETRYABLE_MESSAGES",
    "RETRYABLE_STATUSES",
    "decode_error",
    "encode_error",
    "error_from_message",
    "error_message",
    "is_retryable",
]

#: HTTP statuses worth retrying (BACKBOARD.md, "Retries and quirks").
RETRYABLE_STATUSES: frozenset[int] = frozenset({502, 503, 504})

#: Error texts that mean a passing upstream fault: retry (lower case, matched as substrings).
RETRYABLE_MESSAGES: tuple[str, ...] = (
    "upstream idle timeout exceeded",
    "failed to continue streaming after tool outputs",
    "operation timed out",
    "socket connection was closed",
    "stream closed unexpectedly",
    "connection reset",
    "connection closed",
    "remote protocol error",
    "read timeout",
    "gateway timeout",
    "bad gateway",
    "service unavailable",
)

#: Error texts that must never be retried; they win over :data:`RETRYABLE_MESSAGES`.
NON_RETRYABLE_MESSAGES: tuple[str, ...] = (
    "abort",
    "cancelled",
    "canceled",
    "malformed",
    "invalid request",
    "unauthorized",
    "forbidden",
    "authentication",
    "api key",
    "credit balance",
    "insufficient credits",
    "quota",
    "rate limit",
    "tool outputs without tool calls",
)

#: Error text → (canonical error kind, OpenAI-style code). First match wins.
MESSAGE_KINDS: tuple[tuple[str, str, str | None], ...] = (
    ("rate limit", "rate_limit", "rate_limit_exceeded"),
    ("too many requests", "rate_limit", "rate_limit_exceeded"),
    ("insufficient credits", "billing", "insufficient_quota"),
    ("credit balance", "billing", "insufficient_quota"),
    ("quota", "billing", "insufficient_quota"),
    ("invalid api key", "authentication", "invalid_api_key"),
    ("unauthorized", "authentication", None),
    ("authentication", "authentication", None),
    ("forbidden", "permission", None),
    ("context_length", "invalid_request", "context_length_exceeded"),
    ("context length", "invalid_request", "context_length_exceeded"),
    ("reduce the length", "invalid_request", "context_length_exceeded"),
    ("model_not_found", "not_found", "model_not_found"),
    ("does not exist", "not_found", "model_not_found"),
    ("upstream idle timeout exceeded", "timeout", None),
    ("gateway timeout", "timeout", None),
    ("read timeout", "timeout", None),
    ("operation timed out", "timeout", None),
    ("service unavailable", "unavailable", None),
    ("bad gateway", "bad_gateway", None),
)


def error_message(body: Any) -> str | None:
    """The human text of a backboard error body (``detail`` string, list or object; a text
    or HTML body)."""
    if isinstance(body, str):
        return text_message(body)
    if not isinstance(body, Mapping):
        return None
    for key in ("detail", "error", "message"):
        value = body.get(key)
        text = error_message(value) if isinstance(value, Mapping) else detail_text(value)
        if text:
            return text
    return None


def error_from_message(message: str, status: int | None) -> ApiError:
    """The canonical error for ``message`` with HTTP ``status`` (``None``: in a stream).

    A specific status (401, 404, 429 …) is the server's own word. A generic one (400, 500,
    none at all) takes its kind from the text when :data:`MESSAGE_KINDS` knows it, and then
    the status of that kind, so that kind and status always agree ("model does not exist"
    becomes 404, as clients expect).
    """
    lowered = message.lower()
    generic = status is None or status < 400 or status in (400, 500)
    kind = "api_error" if status is None or status < 400 else kind_for_status(status)
    code = None
    for needle, found_kind, found_code in MESSAGE_KINDS:
        if needle in lowered:
            code = found_code
            if generic:
                kind = found_kind
            break
    answer = status if status is not None and status >= 400 else ERROR_KINDS[kind].status
    if generic and kind != kind_for_status(answer):
        answer = ERROR_KINDS[kind].status
    return ApiError.of(kind, message, status=answer, code=code, source_format=FORMAT)


def decode_error(body: Any, status: int) -> ApiError:
    """A backboard error (``{"detail": ...}`` FastAPI style, or anything else) as canonical."""
    message = error_message(read_body(body)) or f"backboard answered HTTP {status}"
    return error_from_message(message, status)


def encode_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    """An error as backboard writes it: the status and ``{"detail": message}``."""
    return error.status, {"detail": error.message}


def is_retryable(status: int | None, message: str) -> bool:
    """Whether a failure is worth retrying, per BACKBOARD.md's lists (never-retry wins)."""
    lowered = message.lower()
    if any(needle in lowered for needle in NON_RETRYABLE_MESSAGES):
        return False
    if status in RETRYABLE_STATUSES:
        return True
    return any(needle in lowered for needle in RETRYABLE_MESSAGES)
