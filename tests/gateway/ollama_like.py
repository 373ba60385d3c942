"""An upstream like Ollama's Chat endpoint: answer ids from a tiny space (``chatcmpl-NNN``).

Ollama numbers its Chat answers ``chatcmpl-`` and three digits, so two users soon get answers
with the same id. This upstream makes that certain: every answer's id is ``chatcmpl-7`` (or
the ids of ``ids``, in turn). Each answer repeats every user text of the request, in order
(``"heard: a | b"``), so a test sees exactly which conversation reached the upstream.
Hand-written Chat wire JSON and SSE, independent of apibridge's codecs.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

__all__ = ["OllamaLikeChat", "heard"]


def heard(texts: list[str]) -> str:
    """The answer text for a request whose user texts are ``texts``."""
    return "heard: " + " | ".join(texts)


class OllamaLikeChat:
    """An ASGI Chat upstream whose answer ids repeat (see the module docstring)."""

    def __init__(self, ids: tuple[str, ...] = ("chatcmpl-7",)) -> None:
        self._ids = itertools.cycle(ids)
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = json.loads(raw)
        self.requests.append(body)
        texts = [_text(m["content"]) for m in body["messages"] if m["role"] == "user"]
        answer_id, text = next(self._ids), heard(texts)
        base = {"id": answer_id, "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            answer = {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            await _send(send, "application/json", json.dumps(answer).encode())
            return
        chunks = [
            {"delta": {"role": "assistant", "content": ""}, "finish_reason": None},
            {"delta": {"content": text}, "finish_reason": None},
            {"delta": {}, "finish_reason": "stop"},
        ]
        data = b"".join(
            b"data: "
            + json.dumps(
                {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, **c}]}
            ).encode()
            + b"\n\n"
            for c in chunks
        )
        await _send(send, "text/event-stream", data + b"data: [DONE]\n\n")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


async def _send(send: Any, content_type: str, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
