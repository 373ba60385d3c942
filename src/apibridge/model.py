"""The canonical model, public: requests, content parts, responses, usage and stream events.

Every codec decodes its wire format into these values and encodes from them (the docs page
"The canonical model" gives the conventions). Use them one level below the
``convert_*`` functions, for instance to look at a stream as events::

    from apibridge.codecs import Context, get_codec
    from apibridge.model import PartDelta, accumulate

    codec = get_codec("chat")
    decoder = codec.StreamDecoder(Context())
    events = [event for frame in frames for event in decoder.feed(frame)] + decoder.close()
    answer = accumulate(events)
"""

from __future__ import annotations

from apibridge._model import (
    STOP_REASONS,
    Citation,
    ContentPart,
    DocumentPart,
    Event,
    Extras,
    ImagePart,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    OutputFormat,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    ReasoningConfig,
    RedactedThinkingPart,
    RefusalPart,
    Request,
    Response,
    ServerToolPart,
    StopReason,
    StreamError,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
    accumulate,
)

__all__ = [
    "STOP_REASONS",
    "Citation",
    "ContentPart",
    "DocumentPart",
    "Event",
    "Extras",
    "ImagePart",
    "Message",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "OutputFormat",
    "PartDelta",
    "PartStart",
    "PartStop",
    "Ping",
    "ReasoningConfig",
    "RedactedThinkingPart",
    "RefusalPart",
    "Request",
    "Response",
    "ServerToolPart",
    "StopReason",
    "StreamError",
    "TextPart",
    "ThinkingPart",
    "Tool",
    "ToolCallPart",
    "ToolChoice",
    "ToolResultPart",
    "Usage",
    "accumulate",
]
