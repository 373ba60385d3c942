"""The ``google-genai`` SDK as the oracle of what apibridge writes for a Gemini client.

:func:`validate_gemini` checks a ``GenerateContentResponse`` body with the SDK's pydantic type
(which forbids unknown fields); :func:`sdk_answer` and :func:`sdk_stream` drive a real
``genai.Client`` whose HTTP is an ``httpx.MockTransport`` answering with the bytes under test,
as the other SDKs are driven in ``oracles.py``: what the client's own parser makes of them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
from google import genai
from google.genai import errors, types

from apibridge._sse import SSEDecoder

__all__ = ["sdk_answer", "sdk_stream", "sse_bodies", "validate_gemini"]


def validate_gemini(body: dict[str, Any]) -> types.GenerateContentResponse:
    """The SDK's model of ``body`` (raises ``pydantic.ValidationError`` when invalid); on a
    copy, as the SDK's validators rename some keys in place (``citationSources``)."""
    return types.GenerateContentResponse.model_validate(copy.deepcopy(body))


def _client(content: bytes, media: str) -> genai.Client:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": media}, content=content)

    http = httpx.Client(transport=httpx.MockTransport(answer))
    options = types.HttpOptions(base_url="http://oracle.test", httpx_client=http)
    return genai.Client(api_key="test", http_options=options)


def sdk_answer(body: dict[str, Any]) -> types.GenerateContentResponse:
    """What ``client.models.generate_content`` returns for ``body``."""
    client = _client(json.dumps(body).encode(), "application/json")
    return client.models.generate_content(model="gemini-2.5-flash", contents="hi")


def sse_bodies(data: bytes) -> list[dict[str, Any]]:
    """The JSON body of every ``data:`` frame of an SSE stream, each checked by the SDK type
    (an ``{"error": …}`` frame is Google's envelope, checked as such)."""
    sse = SSEDecoder()
    bodies = []
    for frame in [*sse.feed(data), *sse.close()]:
        body = json.loads(frame.data)
        if "error" in body:
            error = body["error"]
            assert isinstance(error["code"], int)
            assert isinstance(error["message"], str)
            assert isinstance(error["status"], str)
        else:
            validate_gemini(body)
        bodies.append(body)
    return bodies


def sdk_stream(data: bytes) -> tuple[list[types.GenerateContentResponse], Exception | None]:
    """The chunks ``client.models.generate_content_stream`` yields for ``data``, and the
    error it raised (an in-band error frame), if any."""
    client = _client(data, "text/event-stream")
    chunks: list[types.GenerateContentResponse] = []
    try:
        for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"):
            chunks.append(chunk)
    except errors.APIError as exc:
        return chunks, exc
    return chunks, None
