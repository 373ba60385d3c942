"""The Responses codec's errors: the OpenAI envelope it shares with Chat, and the failure a
stream reports.

Theory of operation
-------------------
Both rules live once, in :mod:`apibridge.codecs._openai_errors`: an error body is
``{"error": {"message", "type", "param", "code"}}`` (:func:`decode_error` reads any body at
all and never raises; :func:`encode_error` writes the envelope), and a stream says its failure
in the ``error`` of a ``response.failed`` (or ``error``) event, whose ``code`` comes from the
short list the SDK allows (:func:`failed_error` reads it, :func:`encode_failed` writes it,
lossy where several kinds share one code). This module only names the Responses format.
"""

from __future__ import annotations

from typing import Any

from apibridge.codecs._openai_errors import (
    ERROR_CODE_KINDS,
    ERROR_TYPE_KINDS,
    FAILED_CODE_KINDS,
    KIND_FAILED_CODES,
    decode_failed,
    encode_error,
    encode_failed,
)
from apibridge.codecs._openai_errors import decode_error as decode_openai_error
from apibridge.codecs.responses._wire import FORMAT
from apibridge.errors import ApiError

__all__ = [
    "ERROR_CODE_KINDS",
    "ERROR_TYPE_KINDS",
    "FAILED_CODE_KINDS",
    "KIND_FAILED_CODES",
    "decode_error",
    "encode_error",
    "encode_failed",
    "failed_error",
]


def decode_error(body: Any, status: int) -> ApiError:
    """Any error body with its HTTP ``status``, as the Responses API's; never raises."""
    return decode_openai_error(body, status, FORMAT)


def failed_error(error: Any) -> ApiError:
    """The ``error`` of a ``response.failed`` event (or an ``error`` event) as an ApiError."""
    return decode_failed(error)
