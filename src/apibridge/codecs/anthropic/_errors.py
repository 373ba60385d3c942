"""The Anthropic error envelope, both ways.

Theory of operation
-------------------
Anthropic writes errors as ``{"type": "error", "error": {"type", "message"}, "request_id"}``
with an HTTP status; :data:`ERROR_TYPE_KINDS` maps the ``error.type`` onto the canonical kinds
of :mod:`apibridge.errors`, whose table gives each kind's Anthropic type and status back.

* **Decoding** (:func:`decode_error`) never raises, whatever the body holds: JSON text or
  bytes are parsed first; an envelope in another API's vocabulary keeps only its message
  (FastAPI's ``detail`` included); a text or HTML body (a proxy's error page) becomes a
  readable message. The status decides the kind, refined by an Anthropic type that
  disagrees with it; ``retry_after`` is read in seconds from the error, the body or the
  message text. The readers of the odd shapes are :mod:`apibridge.codecs._error_bodies`,
  shared with the other envelopes.
* **Encoding** (:func:`encode_error`) keeps a native Anthropic type, else writes the kind's;
  a status outside 400 to 599 becomes the kind's own. Only ``type``, ``message`` and
  ``request_id`` are written: ``code``, ``param`` and ``retry_after`` are deliberately left
  out of the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs._context import str_or_none
from apibridge.codecs._error_bodies import (
    answer_status,
    body_error,
    code_text,
    detail_text,
    is_error_status,
    read_body,
    text_message,
)
from apibridge.codecs.anthropic._wire import FORMAT
from apibridge.errors import ERROR_KINDS, ApiError, kind_for_status

__all__ = ["ERROR_TYPE_KINDS", "decode_error", "encode_error"]

#: Anthropic error ``type`` → canonical error kind (see ``apibridge.errors.ERROR_KINDS``).
ERROR_TYPE_KINDS: Final[Mapping[str, str]] = {
    "invalid_request_error": "invalid_request",
    "authentication_error": "authentication",
    "billing_error": "billing",
    "permission_error": "permission",
    "not_found_error": "not_found",
    "request_too_large": "request_too_large",
    "rate_limit_error": "rate_limit",
    "api_error": "api_error",
    "overloaded_error": "overloaded",
    "timeout_error": "timeout",
}


def decode_error(body: Any, status: int) -> ApiError:
    """An error body as an :class:`ApiError`; never raises, whatever ``body`` holds."""
    body = read_body(body)
    valid_status = is_error_status(status)
    wire_type: str | None = None
    message: str | None = None
    code = param = request_id = None
    retry_fields: tuple[Any, ...] = ()
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            wire_type = str_or_none(inner.get("type"))
            message = str_or_none(inner.get("message"))
            code = code_text(inner.get("code"))
            param = str_or_none(inner.get("param"))
            retry_fields = (inner.get("retry_after"),)
        elif isinstance(inner, str):
            message = inner
        if message is None:
            message = str_or_none(body.get("message")) or detail_text(body.get("detail"))
        request_id = str_or_none(body.get("request_id"))
        retry_fields = (*retry_fields, body.get("retry_after"))
        if body.get("type") != "error" and wire_type not in ERROR_TYPE_KINDS:
            wire_type = None  # another API's vocabulary: not an Anthropic type
    elif isinstance(body, str):
        message = text_message(body)
    kind = kind_for_status(status) if valid_status else "api_error"
    if wire_type is not None and wire_type in ERROR_TYPE_KINDS:
        by_type = ERROR_TYPE_KINDS[wire_type]
        # The status refines the type when they agree (503 and 529 are both overloaded).
        if not (valid_status and ERROR_KINDS[kind].anthropic == wire_type):
            kind = by_type
    return body_error(
        kind,
        message or f"upstream error (HTTP {status})",
        status,
        retry_fields=retry_fields,
        type=wire_type,
        code=code,
        param=param,
        request_id=request_id,
        source_format=FORMAT,
    )


def encode_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    """``(status, body)`` in Anthropic's error envelope."""
    kind = ERROR_KINDS.get(error.kind)
    wire_type = error.type if error.source_format == FORMAT and error.type else None
    if wire_type is None:
        wire_type = kind.anthropic if kind else "api_error"
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": wire_type, "message": error.message},
    }
    if error.request_id is not None:
        body["request_id"] = error.request_id
    return answer_status(error.status, error.kind), body
