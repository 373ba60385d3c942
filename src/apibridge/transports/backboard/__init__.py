"""The backboard.io transport: assistants, threads and runs behind one canonical exchange."""

from __future__ import annotations

from apibridge.transports.backboard._transport import (
    CONVERSATION_HEADERS,
    BackboardTransport,
)

__all__ = [
    "CONVERSATION_HEADERS",
    "BackboardTransport",
]
