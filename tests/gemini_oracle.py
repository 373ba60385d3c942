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


_TEXT_KEYS = frozenset({"text", "thought", "thoughtSignature"})


def _streams_as_text(part: dict[str, Any]) -> bool:
    return "text" in part and set(part) <= _TEXT_KEYS


def unstreamed(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streamed answer that ``chunks`` (one stream's ``GenerateContentResponse``
    bodies) stream, as Gemini writes it whole: consecutive text joined into one part (thought
    text into one thought, up to and with its signature), a signature alone on an empty text
    part moved onto the text it ends, empty text left out; the last chunk's finish and usage."""
    parts: list[dict[str, Any]] = []
    for chunk in chunks:
        for candidate in chunk.get("candidates", [])[:1]:
            for part in (candidate.get("content") or {}).get("parts", []):
                _merge(parts, part)
    body: dict[str, Any] = {k: v for k, v in chunks[-1].items() if k != "candidates"}
    if any("candidates" in chunk for chunk in chunks):
        final = next(c for c in reversed(chunks) if "candidates" in c)["candidates"][0]
        body["candidates"] = [{**final, "content": {"parts": parts, "role": "model"}}]
    return body


def _merge(parts: list[dict[str, Any]], part: dict[str, Any]) -> None:
    last = parts[-1] if parts and _streams_as_text(parts[-1]) else None
    if not _streams_as_text(part):
        parts.append(dict(part))
        return
    signature = part.get("thoughtSignature")
    if part.get("thought"):
        if last is not None and last.get("thought") and "thoughtSignature" not in last:
            last["text"] += part["text"]  # a thought goes on until its signature
            if signature:
                last["thoughtSignature"] = signature
        else:
            parts.append(dict(part))
        return
    open_text = last is not None and not last.get("thought") and "thoughtSignature" not in last
    if open_text and last is not None:
        last["text"] += part["text"]
        if signature:
            last["thoughtSignature"] = signature
    elif part["text"] or signature:
        parts.append(dict(part))
