"""The Anthropic error envelope, both ways.

Theory of operation
-------------------
Anthropic writes errors as ``{"type": "error", "error": {"type", "message"}, "request_id"}``
with an HTTP status; :data:`ERROR_TYPE_KINDS` maps the ``error.type`` onto the canonical kinds
of :mod:`apibridge.errors`, whose table gives each kind's Anthropic type and status back.

* **Decoding** (:func:`decode_error`) never raises, whatever the body holds: JSON text or
  bytes are parsed first; an envelope in another API's vocabulary keeps only its message; a
  text or HTML body (a proxy's error page) becomes a readable message. The status decides
  the kind, refined by an Anthropic type that disagrees with it; ``retry_after`` is read in
  seconds from the error or the body.
* **Encoding** (:func:`encode_error`) keeps a native Anthropic type, else writes the kind's;
  a status outside 400 to 599 becomes the kind's own. Only ``type``, ``message`` and
  ``request_id`` are written: ``code``, ``param`` and ``retry_after`` are deliberately left
  out of the body.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from apibridge.codecs._context import str_or_none
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
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.loads(body)
    valid_status = (
        isinstance(status, int) and not isinstance(status, bool) and (400 <= status <= 599)
    )
    wire_type: str | None = None
    message: str | None = None
    code = param = request_id = None
    retry_after: float | None = None
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            wire_type = str_or_none(inner.get("type"))
            message = str_or_none(inner.get("message"))
            code = _scalar_text(inner.get("code"))
            param = str_or_none(inner.get("param"))
            retry_after = _seconds(inner.get("retry_after"))
        elif isinstance(inner, str):
            message = inner
        if message is None:
            message = str_or_none(body.get("message")) or str_or_none(body.get("detail"))
        request_id = str_or_none(body.get("request_id"))
        if retry_after is None:
            retry_after = _seconds(body.get("retry_after"))
        if body.get("type") != "error" and wire_type not in ERROR_TYPE_KINDS:
            wire_type = None  # another API's vocabulary: not an Anthropic type
    elif isinstance(body, str):
        message = _plain_text(body)
    kind = kind_for_status(status) if valid_status else "api_error"
    if wire_type is not None and wire_type in ERROR_TYPE_KINDS:
        by_type = ERROR_TYPE_KINDS[wire_type]
        # The status refines the type when they agree (503 and 529 are both overloaded).
        if not (valid_status and ERROR_KINDS[kind].anthropic == wire_type):
            kind = by_type
    return ApiError(
        kind=kind,
        message=message or f"upstream error (HTTP {status})",
        status=status if valid_status else ERROR_KINDS[kind].status,
        type=wire_type,
        code=code,
        param=param,
        retry_after=retry_after,
        request_id=request_id,
        source_format=FORMAT,
    )


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            return None
        return seconds if seconds >= 0 else None
    return None


_TITLE: Final = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TAG: Final = re.compile(r"<[^>]+>")


def _plain_text(body: str) -> str:
    """A readable message from a text or HTML body (a proxy's error page, say)."""
    title = _TITLE.search(body)
    text = title.group(1) if title else _TAG.sub(" ", body)
    return " ".join(text.split())[:500]


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
    status = error.status
    if not 400 <= status <= 599:
        status = kind.status if kind else 500
    return status, body
