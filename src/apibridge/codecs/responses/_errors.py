"""The OpenAI error envelope as the Responses codec speaks it, and ``response.failed`` errors.

Theory of operation
-------------------
An error body is ``{"error": {"message", "type", "param", "code"}}``. :func:`decode_error`
reads any body at all (ours, another API's, text, HTML, ``None``) and never raises: the kind
comes from the ``type`` (:data:`ERROR_TYPE_KINDS`), else the ``code``
(:data:`ERROR_CODE_KINDS`), else the HTTP status. :func:`encode_error` writes the envelope,
keeping a ``type`` that came from an OpenAI format and otherwise saying the kind's OpenAI type.

A stream says its failure differently: the ``error`` of a ``response.failed`` event (or of an
``error`` event) has a ``code`` from a short list the SDK allows. :func:`failed_error` reads it
(:data:`FAILED_CODE_KINDS`, every other code is ``api_error``); the stream encoder writes it
back through :data:`KIND_FAILED_CODES`, which is deliberately lossy (several kinds share
``invalid_prompt``; the rest are ``server_error``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apibridge._json import dumps_str
from apibridge.codecs.responses._wire import FORMAT
from apibridge.errors import ERROR_KINDS, ApiError, kind_for_status

__all__ = [
    "ERROR_CODE_KINDS",
    "ERROR_TYPE_KINDS",
    "FAILED_CODE_KINDS",
    "KIND_FAILED_CODES",
    "decode_error",
    "encode_error",
    "failed_error",
]

#: ``response.failed`` error codes → canonical kinds (every other code: ``api_error``).
FAILED_CODE_KINDS: Mapping[str, str] = {
    "server_error": "api_error",
    "rate_limit_exceeded": "rate_limit",
    "invalid_prompt": "invalid_request",
    "vector_store_timeout": "timeout",
    "invalid_image": "invalid_request",
    "invalid_image_format": "invalid_request",
    "invalid_base64_image": "invalid_request",
    "invalid_image_url": "invalid_request",
    "image_too_large": "invalid_request",
    "image_too_small": "invalid_request",
    "image_parse_error": "invalid_request",
    "image_content_policy_violation": "invalid_request",
    "invalid_image_mode": "invalid_request",
    "image_file_too_large": "invalid_request",
    "unsupported_image_media_type": "invalid_request",
    "empty_image_file": "invalid_request",
    "failed_to_download_image": "invalid_request",
    "image_file_not_found": "invalid_request",
}

#: canonical kind → the ``response.failed`` code that says it (the SDK allows only a few).
KIND_FAILED_CODES: Mapping[str, str] = {
    "rate_limit": "rate_limit_exceeded",
    "invalid_request": "invalid_prompt",
    "unprocessable": "invalid_prompt",
    "request_too_large": "invalid_prompt",
}

#: OpenAI error ``type`` → canonical kind. Generic types (``invalid_request_error``,
#: ``server_error``, ``api_error``) say nothing more than their status, so the status decides
#: for them and for every type not listed.
ERROR_TYPE_KINDS: Mapping[str, str] = {
    "authentication_error": "authentication",
    "permission_error": "permission",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limit",
    "insufficient_quota": "billing",
    "billing_error": "billing",
    "overloaded_error": "overloaded",
    "timeout": "timeout",
    "timeout_error": "timeout",
    "request_too_large": "request_too_large",
}

#: OpenAI error ``code`` → canonical kind, for bodies whose type says too little.
ERROR_CODE_KINDS: Mapping[str, str] = {
    "invalid_api_key": "authentication",
    "insufficient_quota": "billing",
    "rate_limit_exceeded": "rate_limit",
    "model_not_found": "not_found",
    **FAILED_CODE_KINDS,
}

_TAGS = re.compile(r"<[^>]+>")


def _message_of(body: Any, status: int) -> str:
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = " ".join(_TAGS.sub(" ", body).split())
        return text[:500] or f"upstream answered HTTP {status}"
    if isinstance(body, Mapping):
        for key in ("message", "detail", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    if body is None:
        return f"upstream answered HTTP {status}"
    try:
        return dumps_str(body)[:500]
    except TypeError:
        return repr(body)[:500]


def decode_error(body: Any, status: int) -> ApiError:
    """An error body (any shape: ours, another API's, text, HTML, ``None``) as an ApiError."""
    error = body.get("error") if isinstance(body, Mapping) else None
    ours = isinstance(error, Mapping) and body.get("type") != "error"
    fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    message = fields.get("message")
    if not isinstance(message, str):
        message = _message_of(body, status)
    wire_type = fields.get("type") if isinstance(fields.get("type"), str) else None
    code = fields.get("code")
    code = str(code) if code is not None and not isinstance(code, (dict, list)) else None
    valid_status = isinstance(status, int) and 400 <= status < 600
    kind = (
        ERROR_TYPE_KINDS.get(wire_type or "")
        or ERROR_CODE_KINDS.get(code or "")
        or kind_for_status(status if valid_status else 500)
    )
    param = fields.get("param")
    return ApiError(
        kind=kind,
        message=message,
        status=status if valid_status else ERROR_KINDS[kind].status,
        type=wire_type,
        code=code,
        param=param if isinstance(param, str) else None,
        source_format=FORMAT if ours else None,
    )


def encode_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    """An ApiError as ``(status, {"error": {...}})`` in the OpenAI envelope."""
    spec = ERROR_KINDS.get(error.kind, ERROR_KINDS["api_error"])
    own_type = error.source_format in (FORMAT, "chat") and error.type
    status = error.status if 400 <= error.status < 600 else spec.status
    return status, {
        "error": {
            "message": error.message,
            "type": error.type if own_type else spec.openai,
            "param": error.param,
            "code": error.code,
        }
    }


def failed_error(error: Any) -> ApiError:
    """The ``error`` of a failed response (or an ``error`` event) as an ApiError."""
    fields = error if isinstance(error, Mapping) else {}
    code = fields.get("code") if isinstance(fields.get("code"), str) else None
    kind = ERROR_CODE_KINDS.get(code or "", "api_error")
    message = fields.get("message")
    param = fields.get("param")
    return ApiError.of(
        kind,
        message if isinstance(message, str) else "the response failed",
        code=code,
        param=param if isinstance(param, str) else None,
        source_format=FORMAT,
    )
