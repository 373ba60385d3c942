"""Every recorded transcript of every format, converted to the other two formats.

For each fixture under ``tests/fixtures/<format>/`` and each other client-facing format:

* requests convert, validate with the target SDK's request types, and convert back;
* responses convert and validate with the target SDK's response model;
* streams convert and drive the target SDK's stream helper; where the fixture records the
  non-streamed equivalent, the stream's final message agrees with the converted response
  (stream/non-stream agreement across formats), and any chunking gives the same result;
* errors convert into the target's envelope with the right status.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

import apibridge
from oracles import final_from_stream, validate_error, validate_request, validate_response

FMTS = ("anthropic", "chat", "responses", "gemini")
FIXTURES = Path(__file__).parent / "fixtures"


def _fixtures() -> list[tuple[str, Path]]:
    # a transcript has a ``kind``; Gemini's directory also holds recordings of what real
    # clients sent (``request_gemini_cli_*``, ``request_genai_sdk_*``: tests/acceptance)
    return [
        (fmt, p)
        for fmt in FMTS
        for p in sorted((FIXTURES / fmt).glob("*.json"))
        if b'"kind"' in p.read_bytes()
    ]


CASES = [
    pytest.param(fmt, path, target, id=f"{fmt}/{path.stem}->{target}")
    for fmt, path in _fixtures()
    for target in FMTS
    if target != fmt
]


def _load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = orjson.loads(path.read_bytes())
    return fixture


def essence(fmt: str, final: Any) -> dict[str, Any]:
    """What a client user sees of an answer: texts, tool calls (parsed), reasoning, stop."""
    texts: list[str] = []
    calls: list[tuple[str, Any]] = []
    stop: Any = None
    if fmt == "anthropic":
        for block in final.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                calls.append((block.name, block.input))
        stop = final.stop_reason
    elif fmt == "chat":
        message = final.choices[0].message
        if message.content:
            texts.append(message.content)
        for call in message.tool_calls or []:
            if call.type == "function":
                calls.append((call.function.name, orjson.loads(call.function.arguments or "{}")))
            else:
                calls.append((call.custom.name, call.custom.input))
        stop = final.choices[0].finish_reason
    elif fmt == "gemini":  # an answer, or the chunks the SDK read from a stream
        for chunk in final if isinstance(final, list) else [final]:
            for candidate in chunk.candidates or []:
                for part in (candidate.content.parts if candidate.content else None) or []:
                    if part.text and not part.thought:
                        texts.append(part.text)
                    elif part.function_call is not None:
                        calls.append((part.function_call.name, part.function_call.args or {}))
                if candidate.finish_reason is not None:
                    stop = candidate.finish_reason
    else:
        for item in final.output:
            if item.type == "message":
                texts.extend(c.text for c in item.content if c.type == "output_text")
            elif item.type == "function_call":
                calls.append((item.name, orjson.loads(item.arguments or "{}")))
            elif item.type == "custom_tool_call":
                calls.append((item.name, item.input))
        stop = final.status
    return {"text": "".join(texts), "calls": calls, "stop": stop}


def _has_stream_error(fmt: str, data: bytes) -> bool:
    if fmt == "anthropic":
        return b"event: error" in data
    if fmt == "chat":
        return b'"error"' in data and b"[DONE]" in data
    if fmt == "gemini":  # Google's envelope as a frame of its own
        return b'data: {"error"' in data or b'[{"error"' in data or b',{"error"' in data
    return b"response.failed" in data


@pytest.mark.parametrize(("fmt", "path", "target"), CASES)
def test_fixture_converts(fmt: str, path: Path, target: str) -> None:
    fixture = _load(path)
    kind = fixture["kind"]
    losses: list[apibridge.Loss] = []
    request = fixture.get("request")
    client_request = (
        apibridge.convert_request(request, source=fmt, target=target, losses=[])
        if request is not None
        else None
    )
    if kind == "request" and (fixture["body"].get("n") or 1) > 1:
        # several choices exist only in Chat: a clear error, never a silent single answer
        with pytest.raises(apibridge.UnsupportedFeature, match="n"):
            apibridge.convert_request(fixture["body"], source=fmt, target=target, losses=losses)
    elif kind == "request":
        out = apibridge.convert_request(fixture["body"], source=fmt, target=target, losses=losses)
        validate_request(target, out)
        back = apibridge.convert_request(out, source=target, target=fmt, losses=[])
        validate_request(fmt, back)
    elif kind == "response":
        out = apibridge.convert_response(
            fixture["body"], source=fmt, target=target, request=client_request, losses=losses
        )
        validate_response(target, out)
    elif kind == "stream":
        data = fixture["sse"].encode()
        out_bytes = b"".join(
            apibridge.convert_stream(
                [data], source=fmt, target=target, request=client_request, losses=losses
            )
        )
        if _has_stream_error(fmt, data) or _has_stream_error(target, out_bytes):
            assert _has_stream_error(target, out_bytes), "a failed stream must end in-band"
            return
        final = final_from_stream(target, out_bytes)
        if "response" in fixture:
            answer = apibridge.convert_response(
                fixture["response"], source=fmt, target=target, request=client_request, losses=[]
            )
            assert essence(target, final) == essence(target, validate_response(target, answer))
        # any chunking of the upstream bytes gives the same answer
        rng = random.Random(path.stem)
        cuts = sorted(rng.sample(range(len(data)), k=min(25, len(data))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        rechunked = b"".join(
            apibridge.convert_stream(
                chunks, source=fmt, target=target, request=client_request, losses=[]
            )
        )
        assert essence(target, final_from_stream(target, rechunked)) == essence(target, final)
    else:
        status, body = apibridge.convert_error(
            fixture["body"], fixture["status"], source=fmt, target=target
        )
        validate_error(target, status, body)
        # Claude's 529 has no word elsewhere (503); Google answers with its own codes only, so a
        # FastAPI server's 422 reaches a Gemini client as 400 INVALID_ARGUMENT; Google's 400
        # for a wrong key (ErrorInfo API_KEY_INVALID) is the 401 other clients' SDKs know
        assert (
            status == fixture["status"]
            or (fixture["status"] == 529 and status in (503, 529))
            or (target == "gemini" and fixture["status"] == 422 and status == 400)
            or (fmt == "gemini" and status == 401 and "API_KEY_INVALID" in str(fixture["body"]))
        )
    for loss in losses:  # every loss names the field and what was done
        assert all((loss.field, loss.reason, loss.action))


def test_there_are_enough_transcripts() -> None:
    assert len(_fixtures()) >= 40
