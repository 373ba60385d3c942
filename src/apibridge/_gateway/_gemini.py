"""A Gemini client's side of the gateway: what its paths say, and its JSON-array streams.

Theory of operation
-------------------
Gemini names the model in the path (``/v1beta/models/{model}:generateContent``) and the
kind of answer by the method (``:streamGenerateContent`` streams), not in the body. The
handler routes by the path's model and puts it into the body as the request's own field
(:func:`generate_body`: ``"model": "models/x"``, which the codec reads) before decoding; the
stream flag is set on the decoded request. ``:countTokens`` takes the contents alone or a
whole ``generateContentRequest`` (:func:`count_body` makes either a request to decode) and
answers ``{"totalTokens": N}``.

``:streamGenerateContent?alt=sse`` answers with SSE (what the SDKs and Gemini CLI ask for);
without ``alt=sse`` the answer is one JSON array whose elements arrive as they are made
(``[{…},\\r\\n{…}]``): :func:`json_array` turns the Gemini stream encoder's SSE bytes into
that form as they pass (the codec's :class:`~apibridge.codecs.gemini.ArrayWriter`), an
in-band error being an element like any other, and closes the stream it wraps when it is
closed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from apibridge.codecs.gemini import ArrayWriter
from apibridge.codecs.gemini._wire import field, model_path
from apibridge.errors import InvalidPayload

__all__ = ["JSON_STREAM_HEADERS", "count_body", "generate_body", "json_array", "sse"]

#: the head of a stream in the JSON-array form.
JSON_STREAM_HEADERS: Final = (
    ("content-type", "application/json; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
)


def generate_body(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A ``generateContent`` body with the path's ``model`` in it (the path wins)."""
    return {**body, "model": model_path(model)}


def count_body(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The request a ``countTokens`` body counts: its ``generateContentRequest``, or the body
    itself (``contents``), for the path's ``model``."""
    inner = field(body, "generateContentRequest")
    if inner is None:
        return {k: v for k, v in body.items() if k != "generate_content_request"} | {
            "model": model_path(model)
        }
    if not isinstance(inner, Mapping):
        raise InvalidPayload("generateContentRequest: expected an object")
    return {**inner, "model": model_path(model)}


def sse(query: str) -> bool:
    """Whether the query asks for an SSE stream (``alt=sse``)."""
    return "alt=" in query and ("alt", "sse") in parse_qsl(query)


async def json_array(body: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """``body`` (a primed SSE stream) in the JSON-array form, primed too: closing it, even
    before its first chunk, closes ``body`` (which closes the upstream)."""
    wrapped = _json_array(body)
    await anext(wrapped)  # the priming point: from here on its finally runs
    return wrapped


async def _json_array(body: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    framer = ArrayWriter()  # whole SSE frames in: the stream body yields no partial one
    try:
        yield b""  # the priming point; never sent
        async for chunk in body:
            out = framer.feed(chunk)
            if out:
                yield out
        yield framer.close()
    finally:
        await body.aclose()
