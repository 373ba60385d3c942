"""The Chat codec's errors: the OpenAI envelope, shared with Responses.

Theory of operation
-------------------
The rule lives once, in :mod:`apibridge.codecs._openai_errors`: it reads OpenAI's
``{"error": {message, type, param, code}}`` and the odder bodies of compatible servers
(Ollama, vLLM, FastAPI, plain text, HTML), and writes the envelope. ``status`` outside 400-599
(an in-band stream error) lets the type and code decide the kind. This module only names the
Chat format, and keeps the table names the Chat face has always exported.
"""

from __future__ import annotations

from typing import Any

from apibridge.codecs._openai_errors import ERROR_CODE_KINDS as ERROR_CODE_KIND
from apibridge.codecs._openai_errors import ERROR_TYPE_KINDS as ERROR_TYPE_KIND
from apibridge.codecs._openai_errors import decode_error as decode_openai_error
from apibridge.codecs._openai_errors import encode_error
from apibridge.codecs.chat._wire import FORMAT
from apibridge.errors import ApiError

__all__ = ["ERROR_CODE_KIND", "ERROR_TYPE_KIND", "decode_error", "encode_error"]


def decode_error(body: Any, status: int) -> ApiError:
    """Any error body with its HTTP ``status``, as the Chat API's; never raises."""
    return decode_openai_error(body, status, FORMAT)
