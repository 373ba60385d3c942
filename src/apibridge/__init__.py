"""apibridge: translate between the Anthropic Messages, OpenAI Chat Completions, OpenAI
Responses and backboard.io APIs — requests, responses, streams and errors — losing nothing
silently.

The public contract::

    apibridge.convert_request(body, source="anthropic", target="chat")
    apibridge.convert_response(body, source="chat", target="anthropic", request=original)
    apibridge.convert_stream(chunks, source="chat", target="anthropic", request=original)
    apibridge.aconvert_stream(achunks, source=..., target=...)
    apibridge.convert_error(body, status, source="chat", target="anthropic")

Whatever cannot be carried exactly is reported: pass ``losses=[]`` to collect
:class:`~apibridge.errors.Loss` values, or read the :class:`~apibridge.errors.ConversionWarning`
warnings issued otherwise; ``strict=True`` raises
:class:`~apibridge.errors.UnsupportedFeature` instead.
"""

from __future__ import annotations

from apibridge._api import (
    FORMATS,
    aconvert_stream,
    convert_error,
    convert_request,
    convert_response,
    convert_stream,
)
from apibridge._exchange import Exchange, StreamTranslator, ToolNames
from apibridge.errors import (
    ApibridgeError,
    ApiError,
    ConversionWarning,
    InvalidPayload,
    Loss,
    UnsupportedFeature,
    UpstreamError,
)

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "ApiError",
    "ApibridgeError",
    "ConversionWarning",
    "Exchange",
    "InvalidPayload",
    "Loss",
    "StreamTranslator",
    "ToolNames",
    "UnsupportedFeature",
    "UpstreamError",
    "__version__",
    "aconvert_stream",
    "convert_error",
    "convert_request",
    "convert_response",
    "convert_stream",
]
