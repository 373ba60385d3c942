"""Recorded Gemini traffic (``tests/fixtures/gemini/``, sources in its README) through apibridge.

Every transcript is decoded by the ``gemini`` codec and converted to Claude Messages, Chat
Completions and Responses with the public API; what comes out is checked with each SDK's types
(``tests/oracles.py``) and against the transcript itself: the texts, the thoughts, the calls
(names, arguments, ids), the stop reason and the token counts a client of that format reads.
The way back is checked with ``google-genai``'s types: a Claude or Responses client's next
request gives Gemini its own thought signatures, byte for byte, on the parts that bore them;
a Chat client, which cannot keep them, gets the loss reported.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import apibridge
from oracles import final_from_stream, validate_error, validate_request, validate_response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gemini"
TARGETS = ("anthropic", "chat", "responses")
#: client formats whose answers carry Gemini's signatures (Claude ``signature``, Responses
#: ``encrypted_content``); Chat has no place for them.
KEEPERS = ("anthropic", "responses")


def _load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return fixture


def _transcripts() -> dict[str, dict[str, Any]]:
    """The transcripts (the acceptance suite's client recordings have no ``kind``)."""
    found = {p.stem: _load(p) for p in sorted(FIXTURES.glob("*.json"))}
    return {name: f for name, f in found.items() if "kind" in f}


TRANSCRIPTS = _transcripts()


#: (test, transcript, client format) → what the codec gets wrong there (see the lead's report).
KNOWN_DEFECTS: dict[tuple[str, str, str], str] = {}


def _cases(
    kind: str, targets: tuple[str, ...] = TARGETS, *, test: str = "", answers_only: bool = False
) -> list[Any]:
    """(transcript, client format) cases of ``kind``; ``answers_only`` leaves out the ones that
    end in an error (a failed answer has no way back)."""
    cases = []
    for name, fixture in TRANSCRIPTS.items():
        if fixture["kind"] != kind:
            continue
        if answers_only and _ends_in_error(fixture):
            continue
        for target in targets:
            reason = KNOWN_DEFECTS.get((test, name, target))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(name, target, id=f"{name}->{target}", marks=marks))
    return cases


def _ends_in_error(fixture: Mapping[str, Any]) -> bool:
    if fixture["kind"] == "response":
        return canonical_stop(fold([fixture["body"]])) == "error"
    if fixture["kind"] == "stream":
        return canonical_stop(fold(gemini_events(fixture["sse"]))) == "error"
    return False


# ------------------------------------------------------------------------ the Gemini side


def gemini_events(data: bytes | str) -> list[dict[str, Any]]:
    """The ``GenerateContentResponse`` chunks of a Gemini SSE stream."""
    text = data.decode() if isinstance(data, bytes) else data
    chunks = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line[5:].lstrip() for line in event.split("\n") if line.startswith("data:")]
        if lines:
            chunks.append(json.loads("\n".join(lines)))
    return chunks


def validate_gemini_request(body: dict[str, Any]) -> None:
    """A request apibridge wrote for Gemini: the SDK types field by field, the model named as
    Gemini bodies name it, and contents (Gemini refuses a request without)."""
    validate_request("gemini", body)
    assert body["model"].startswith("models/")
    assert body["contents"]


def read_gemini_stream(data: bytes) -> list[dict[str, Any]]:
    """A Gemini stream apibridge wrote, read by google-genai's own stream reader (every chunk
    a valid ``GenerateContentResponse``), and its chunks as sent."""
    assert len(final_from_stream("gemini", data)) == len(gemini_events(data))
    return gemini_events(data)


def _field(obj: Mapping[str, Any], camel: str) -> Any:
    """``obj[camel]`` in either spelling (recordings hold both, as the API takes both)."""
    if camel in obj:
        return obj[camel]
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return obj.get(snake)


def _server_part(part: Mapping[str, Any]) -> bool:
    """A part only Gemini's own tools make (code execution), which no other format holds."""
    return any(_field(part, k) is not None for k in ("executableCode", "codeExecutionResult"))


def _text_signed(part: Mapping[str, Any], previous: Mapping[str, Any]) -> bool:
    """Whether ``part`` is a signature on a plain text, or alone right after one (the codec
    keeps it on the text: ``_parts.TEXT_SIGNATURE``)."""
    if not part.get("thoughtSignature") or part.get("thought") or "text" not in part:
        return False
    plain_before = "text" in previous and not previous.get("thought")
    return bool(part["text"]) or (set(part) == {"text", "thoughtSignature"} and plain_before)


def sig_bytes(signature: str) -> bytes:
    """A signature's bytes: the SDK re-encodes them URL-safe, so compare bytes, not text."""
    padded = signature + "=" * (-len(signature) % 4)
    return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)


def fold(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What a Gemini answer (one body, or a stream's chunks) says, first candidate only."""
    out: dict[str, Any] = {
        "text": "",
        "thoughts": "",
        "calls": [],
        "signatures": [],  # of thoughts, calls and other parts: they come back through clients
        "text_signatures": [],  # of texts: kept on the text, reported lost by other formats
        "finish": None,
        "block": None,
        "usage": {},
        "server_parts": 0,
        "images": 0,
        "error": None,
    }
    previous: Mapping[str, Any] = {}
    for chunk in chunks:
        if "error" in chunk:  # Google's in-band error frame
            out["error"] = chunk["error"]
            continue
        feedback = chunk.get("promptFeedback") or {}
        if feedback.get("blockReason"):
            out["block"] = feedback["blockReason"]
        if chunk.get("usageMetadata"):
            out["usage"] = chunk["usageMetadata"]
        for candidate in chunk.get("candidates", [])[:1]:
            for part in (candidate.get("content") or {}).get("parts", []):
                call = _field(part, "functionCall")
                if _text_signed(part, previous):
                    out["text_signatures"].append(part["thoughtSignature"])
                elif part.get("thoughtSignature") and not _server_part(part):
                    # a server part's signature goes where the part goes (lost with it elsewhere)
                    out["signatures"].append(part["thoughtSignature"])
                if not (set(part) <= {"text", "thoughtSignature"} and not part.get("text")):
                    previous = part  # a signature alone signs the text before it
                if part.get("thought"):
                    out["thoughts"] += part.get("text", "")
                elif call is not None:
                    out["calls"].append((call["name"], call.get("args") or {}, call.get("id")))
                elif "text" in part:
                    out["text"] += part["text"]
                elif _field(part, "inlineData") or _field(part, "fileData"):
                    out["images"] += 1
                else:
                    out["server_parts"] += 1
            if candidate.get("finishReason"):
                out["finish"] = candidate["finishReason"]
    return out


def canonical_stop(said: dict[str, Any]) -> str:
    """The stop reason a Gemini answer means (``_wire.FINISH_TO_STOP``, written out here)."""
    finish = said["finish"]
    if said["error"]:
        return "error"
    if said["block"] or finish in ("SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST"):
        return "refusal"
    if finish == "MAX_TOKENS":
        return "max_tokens"
    if finish in ("MALFORMED_FUNCTION_CALL", "OTHER", "UNEXPECTED_TOOL_CALL"):
        return "error"
    return "tool_use" if said["calls"] else "end_turn"


# ---------------------------------------------------------------- what the codec gets wrong

# (nothing known: KNOWN_DEFECTS stays empty; a defect found goes here as a strict xfail)


# ---------------------------------------------------------------------- the client side


def seen(fmt: str, final: Any) -> dict[str, Any]:
    """What a client of ``fmt`` reads in an answer (an SDK model): texts, thoughts, calls
    (name, parsed arguments, id), refusal, stop, usage."""
    out: dict[str, Any] = {"text": "", "thoughts": "", "calls": [], "refusal": None}
    if fmt == "anthropic":
        for block in final.content:
            if block.type == "text":
                out["text"] += block.text
            elif block.type == "thinking":
                out["thoughts"] += block.thinking
            elif block.type == "tool_use":
                out["calls"].append((block.name, block.input, block.id))
        out["stop"] = final.stop_reason
        usage = final.usage
        out["usage"] = {
            "input": usage.input_tokens,
            "cached": usage.cache_read_input_tokens or 0,
            "output": usage.output_tokens,
        }
    elif fmt == "chat":
        choice = final.choices[0]
        message = choice.message
        out["text"] = message.content or ""
        out["refusal"] = message.refusal
        out["thoughts"] = (message.model_extra or {}).get("reasoning_content") or ""
        for call in message.tool_calls or []:
            arguments = json.loads(call.function.arguments or "{}")
            out["calls"].append((call.function.name, arguments, call.id))
        out["stop"] = choice.finish_reason
        usage = final.usage
        details = usage.prompt_tokens_details if usage else None
        reasoning = usage.completion_tokens_details if usage else None
        out["usage"] = usage and {
            "input": usage.prompt_tokens,
            "cached": (details.cached_tokens or 0) if details else 0,
            "output": usage.completion_tokens,
            "reasoning": (reasoning.reasoning_tokens or 0) if reasoning else 0,
        }
    else:
        for item in final.output:
            if item.type == "message":
                for content in item.content:
                    if content.type == "output_text":
                        out["text"] += content.text
                    elif content.type == "refusal":
                        out["refusal"] = (out["refusal"] or "") + content.refusal
            elif item.type == "reasoning":
                out["thoughts"] += "".join(s.text for s in item.summary)
                out["thoughts"] += "".join(c.text for c in item.content or [])
            elif item.type == "function_call":
                out["calls"].append((item.name, json.loads(item.arguments or "{}"), item.call_id))
        out["stop"] = final.status
        out["incomplete"] = final.incomplete_details and final.incomplete_details.reason
        usage = final.usage
        out["usage"] = usage and {
            "input": usage.input_tokens,
            "cached": usage.input_tokens_details.cached_tokens or 0,
            "output": usage.output_tokens,
            "reasoning": usage.output_tokens_details.reasoning_tokens or 0,
        }
    return out


def check_answer(fmt: str, got: dict[str, Any], said: dict[str, Any]) -> None:
    """A client's view of an answer agrees with what Gemini said."""
    stop = canonical_stop(said)
    assert got["text"] == said["text"] or (stop == "refusal" and not said["text"])
    assert [(name, args) for name, args, _ in got["calls"]] == [
        (name, args) for name, args, _ in said["calls"]
    ]
    ids = [ident for _, _, ident in got["calls"]]
    assert all(ids), ids
    assert len(set(ids)) == len(ids), ids
    for (_, _, theirs), ours in zip(said["calls"], ids, strict=True):
        if theirs is not None:  # Gemini 3's own call ids are the client's ids
            assert ours == theirs
    if fmt != "chat":  # a Chat client has no standard field for reasoning
        assert got["thoughts"] == said["thoughts"]
    expected = {
        "end_turn": {"anthropic": "end_turn", "chat": "stop", "responses": "completed"},
        "tool_use": {"anthropic": "tool_use", "chat": "tool_calls", "responses": "completed"},
        "max_tokens": {"anthropic": "max_tokens", "chat": "length", "responses": "incomplete"},
    }
    if stop in expected:
        assert got["stop"] == expected[stop][fmt]
        if fmt == "responses" and stop == "max_tokens":
            assert got["incomplete"] == "max_output_tokens"
    elif stop == "refusal":
        if fmt == "anthropic":
            assert got["stop"] == "refusal"
        elif fmt == "chat":  # told by the finish reason, or by a refusal in words
            assert got["stop"] == "content_filter" or got["refusal"], got
        else:
            assert got["refusal"] is not None or got["incomplete"] == "content_filter", got
    check_usage(fmt, got["usage"], said["usage"])


def check_usage(fmt: str, got: dict[str, Any] | None, usage: Mapping[str, Any]) -> None:
    """Gemini's counts in a client's words: its prompt count includes cached tokens (Claude's
    input excludes them), and output is candidates plus thoughts."""
    if not usage:
        return
    assert got is not None, "Gemini gave usage: the client gets it"
    prompt = usage.get("promptTokenCount", 0)
    cached = usage.get("cachedContentTokenCount", 0)
    thoughts = usage.get("thoughtsTokenCount", 0)
    output = usage.get("candidatesTokenCount", 0) + thoughts
    tool_use = usage.get("toolUsePromptTokenCount", 0)
    total_in = got["input"] + (got["cached"] if fmt == "anthropic" else 0)
    assert total_in in (prompt, prompt + tool_use), (got, usage)
    assert got["cached"] == cached
    assert got["output"] == output
    if fmt != "anthropic":
        assert got["reasoning"] == thoughts


def _client_request(
    fixture: Mapping[str, Any], target: str, *, stream: bool = False
) -> dict[str, Any] | None:
    """The transcript's request as a ``target`` client sends it; a streaming Chat client asks
    for usage (``stream_options.include_usage``), as Chat clients that count tokens do."""
    request = fixture.get("request")
    if request is not None:
        request = apibridge.convert_request(request, source="gemini", target=target, losses=[])
    if not (stream and target == "chat"):
        return request
    if request is None:
        request = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
    return {**request, "stream": True, "stream_options": {"include_usage": True}}


def _without_made_ids(got: dict[str, Any]) -> dict[str, Any]:
    """A client's view with the call ids apibridge made (random) left out."""
    calls = [(n, a, None if i.startswith("gcall_") else i) for n, a, i in got["calls"]]
    return {**got, "calls": calls}


# ---------------------------------------------------------------------------- answers


@pytest.mark.parametrize(("name", "target"), _cases("response", test="answer"))
def test_answer_converts(name: str, target: str) -> None:
    fixture = TRANSCRIPTS[name]
    said = fold([fixture["body"]])
    losses: list[apibridge.Loss] = []
    if canonical_stop(said) == "error":
        with pytest.raises(apibridge.UpstreamError):
            apibridge.convert_response(fixture["body"], source="gemini", target=target, losses=[])
        return
    out = apibridge.convert_response(
        fixture["body"],
        source="gemini",
        target=target,
        request=_client_request(fixture, target),
        losses=losses,
    )
    check_answer(target, seen(target, validate_response(target, out)), said)
    if said["server_parts"]:  # code execution parts exist only in Gemini: reported
        assert any("code" in (loss.field + loss.reason).lower() for loss in losses), losses
    if said["signatures"] and target == "chat":
        assert any("signature" in (loss.field + loss.reason).lower() for loss in losses), losses
    for loss in losses:
        assert loss.field
        assert loss.reason
        assert loss.action


@pytest.mark.parametrize(
    ("name", "target"), _cases("response", KEEPERS, test="answer_back", answers_only=True)
)
def test_answer_comes_back_to_gemini(name: str, target: str) -> None:
    """Gemini → client format → Gemini: the same texts, calls and signatures, valid for the SDK."""
    fixture = TRANSCRIPTS[name]
    said = fold([fixture["body"]])
    out = apibridge.convert_response(fixture["body"], source="gemini", target=target, losses=[])
    back = apibridge.convert_response(out, source=target, target="gemini", losses=[])
    validate_response("gemini", back)
    again = fold([back])
    assert again["text"] == said["text"]
    assert again["thoughts"] == said["thoughts"]
    assert [(n, a) for n, a, _ in again["calls"]] == [(n, a) for n, a, _ in said["calls"]]
    assert [sig_bytes(s) for s in again["signatures"]] == [sig_bytes(s) for s in said["signatures"]]
    assert again["text_signatures"] == []  # a text's signature has no place in the client
    assert canonical_stop(again) == canonical_stop(said)


# --------------------------------------------------------------- the next turn's history


def _next_request(target: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The request a client of ``target`` sends after ``answer``: the answer as history, and
    a result for each call it made."""
    if target == "anthropic":
        results = [
            {"type": "tool_result", "tool_use_id": b["id"], "content": "done"}
            for b in answer["content"]
            if b["type"] == "tool_use"
        ]
        messages = [
            {"role": "user", "content": "go on"},
            {"role": "assistant", "content": answer["content"]},
            {"role": "user", "content": results or "thanks"},
        ]
        return {"model": "gemini-3-pro-preview", "max_tokens": 1024, "messages": messages}
    items = [item for item in answer["output"] if item["type"] != "message" or item["content"]]
    results = [
        {"type": "function_call_output", "call_id": item["call_id"], "output": "done"}
        for item in items
        if item["type"] == "function_call"
    ]
    history = [{"role": "user", "content": "go on"}, *items]
    history += results or [{"role": "user", "content": "thanks"}]
    return {"model": "gemini-3-pro-preview", "input": history}


def _model_turns(body: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    return [c["parts"] for c in body["contents"] if c.get("role") == "model"]


def _signed_answers() -> list[Any]:
    cases = []
    for name, fixture in TRANSCRIPTS.items():
        if fixture["kind"] == "response":
            said = fold([fixture["body"]])
        elif fixture["kind"] == "stream":
            said = fold(gemini_events(fixture["sse"]))
        else:
            continue
        if said["signatures"] and canonical_stop(said) != "error":
            cases += [pytest.param(name, t, id=f"{name}->{t}") for t in KEEPERS]
    return cases


@pytest.mark.parametrize(("name", "target"), _signed_answers())
def test_a_client_gives_gemini_its_own_signatures_back(name: str, target: str) -> None:
    """Fidelity 30 on real answers: what Gemini signed comes back signed, byte for byte, on a
    part of the same kind (the call it signed, the text it followed), with Gemini's own call
    ids echoed and made ids never sent."""
    fixture = TRANSCRIPTS[name]
    if fixture["kind"] == "response":
        chunks = [fixture["body"]]
        answer = apibridge.convert_response(
            fixture["body"], source="gemini", target=target, losses=[]
        )
    else:
        chunks = gemini_events(fixture["sse"])
        data = b"".join(
            apibridge.convert_stream(
                [fixture["sse"].encode()], source="gemini", target=target, losses=[]
            )
        )
        answer = final_from_stream(target, data).model_dump(mode="json", exclude_none=True)
    said = fold(chunks)
    body = apibridge.convert_request(
        _next_request(target, answer), source=target, target="gemini", losses=[]
    )
    validate_gemini_request(body)
    (turn,) = _model_turns(body)
    signed = [
        (p.get("functionCall", {}).get("name"), p["thoughtSignature"])
        for p in turn
        if "thoughtSignature" in p
    ]
    original = [
        p
        for c in chunks
        for cand in c.get("candidates", [])[:1]
        for p in (cand.get("content") or {}).get("parts", [])
    ]
    before = [{}, *original[:-1]]
    expected = [
        ((p.get("functionCall") or {}).get("name"), p["thoughtSignature"])
        for p, b in zip(original, before, strict=True)
        if p.get("thoughtSignature") and not _server_part(p) and not _text_signed(p, b)
    ]
    assert [(n, sig_bytes(s)) for n, s in signed] == [(n, sig_bytes(s)) for n, s in expected]
    calls = [p["functionCall"] for p in turn if "functionCall" in p]
    assert [(c["name"], c.get("args") or {}, c.get("id")) for c in calls] == said["calls"]
    responses = [
        p["functionResponse"]
        for c in body["contents"]
        if c.get("role") == "user"
        for p in c["parts"]
        if "functionResponse" in p
    ]
    assert [(r["name"], r.get("id")) for r in responses] == [(n, i) for n, _, i in said["calls"]]


def test_a_chat_client_loses_the_signatures_and_is_told() -> None:
    fixture = TRANSCRIPTS["response_parallel_function_calls"]
    losses: list[apibridge.Loss] = []
    answer = apibridge.convert_response(
        fixture["body"], source="gemini", target="chat", losses=losses
    )
    assert any("signature" in (loss.field + loss.reason).lower() for loss in losses), losses
    message = answer["choices"][0]["message"]
    history = {
        "model": "gemini-2.5-pro",
        "messages": [
            {"role": "user", "content": "go on"},
            message,
            *(
                {"role": "tool", "tool_call_id": call["id"], "content": "done"}
                for call in message["tool_calls"]
            ),
        ],
    }
    back_losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(history, source="chat", target="gemini", losses=back_losses)
    validate_gemini_request(body)
    (turn,) = _model_turns(body)
    said = fold([fixture["body"]])
    assert [(p["functionCall"]["name"], p["functionCall"]["args"]) for p in turn] == [
        (n, a) for n, a, _ in said["calls"]
    ]
    # the first call of the turn goes with the documented placeholder, the loss reported
    assert turn[0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert all("thoughtSignature" not in p for p in turn[1:])
    assert any("signature" in (loss.field + loss.reason).lower() for loss in back_losses)


# ---------------------------------------------------------------------------- streams


def _rechunked(data: bytes, seed: str) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), k=min(25, len(data) - 1)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.parametrize(("name", "target"), _cases("stream", test="stream"))
def test_stream_converts(name: str, target: str) -> None:
    fixture = TRANSCRIPTS[name]
    data = fixture["sse"].encode()
    said = fold(gemini_events(data))
    losses: list[apibridge.Loss] = []
    request = _client_request(fixture, target, stream=True)
    out = b"".join(
        apibridge.convert_stream(
            [data], source="gemini", target=target, request=request, losses=losses
        )
    )
    if canonical_stop(said) == "error":
        assert _in_band_error(target, out), "the model's failure ends the stream in-band"
        if said["error"]:
            assert said["error"]["message"].encode() in out
        return
    got = seen(target, final_from_stream(target, out))
    check_answer(target, got, said)
    # any cutting of the upstream bytes gives the same answer
    again = b"".join(
        apibridge.convert_stream(
            _rechunked(data, name), source="gemini", target=target, request=request, losses=[]
        )
    )
    assert _without_made_ids(seen(target, final_from_stream(target, again))) == (
        _without_made_ids(got)
    )
    if said["signatures"] and target == "chat":
        assert any("signature" in (loss.field + loss.reason).lower() for loss in losses), losses


def _in_band_error(fmt: str, data: bytes) -> bool:
    if fmt == "anthropic":
        return b"event: error" in data
    if fmt == "chat":
        return b'"error"' in data
    return b"response.failed" in data or b'"type":"error"' in data


@pytest.mark.parametrize(
    ("name", "target"), _cases("stream", KEEPERS, test="stream_back", answers_only=True)
)
def test_stream_comes_back_to_gemini(name: str, target: str) -> None:
    """Gemini stream → client stream → Gemini stream: every chunk a valid
    ``GenerateContentResponse``, the same texts, thoughts, calls and signatures."""
    fixture = TRANSCRIPTS[name]
    said = fold(gemini_events(fixture["sse"]))
    out = b"".join(
        apibridge.convert_stream(
            [fixture["sse"].encode()], source="gemini", target=target, losses=[]
        )
    )
    back = b"".join(apibridge.convert_stream([out], source=target, target="gemini", losses=[]))
    again = fold(read_gemini_stream(back))
    assert again["text"] == said["text"]
    assert again["thoughts"] == said["thoughts"]
    assert [(n, a) for n, a, _ in again["calls"]] == [(n, a) for n, a, _ in said["calls"]]
    assert [sig_bytes(s) for s in again["signatures"]] == [sig_bytes(s) for s in said["signatures"]]
    assert again["text_signatures"] == []  # a text's signature has no place in the client
    assert canonical_stop(again) == canonical_stop(said)


def test_the_json_array_form_reads_and_writes_as_the_sse_form() -> None:
    """Google's stream without ``alt=sse`` (one JSON array, ``,\\r\\n`` between elements):
    read in cut pieces it gives the SSE form's frames; the SSE apibridge writes for a Gemini
    client, put in that form, parses as the same chunks."""
    from apibridge.codecs.gemini._framing import ArrayReader, sse_to_array

    fixture = TRANSCRIPTS["stream_json_array"]
    chunks = gemini_events(fixture["sse"])
    assert json.loads(fixture["json_array"]) == chunks
    reader = ArrayReader()
    data = fixture["json_array"].encode()
    frames = [f for piece in _rechunked(data, "array") for f in reader.feed(piece)]
    frames += reader.close()
    assert [json.loads(f.data) for f in frames] == chunks
    out = b"".join(
        apibridge.convert_stream([fixture["sse"].encode()], source="gemini", target="gemini")
    )
    assert json.loads(sse_to_array([out])) == gemini_events(out)
    assert fold(gemini_events(out))["text"] == fold(chunks)["text"]


# ----------------------------------------------------------------------------- requests


def _history(body: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """A Gemini request's turns as (role, parts) with each part reduced to what it says;
    adjacent turns of one role merged (the other formats merge them too)."""
    turns: list[tuple[str, list[Any]]] = []
    for content in body["contents"]:
        role = content.get("role") or "user"
        parts: list[Any] = []
        for part in content["parts"]:
            call = _field(part, "functionCall")
            result = _field(part, "functionResponse")
            inline = _field(part, "inlineData")
            file = _field(part, "fileData")
            if part.get("thought"):
                continue
            if call is not None:
                parts.append(("call", call["name"], call.get("args") or {}))
            elif result is not None:
                parts.append(("result", result["name"], result.get("response")))
            elif inline is not None:
                parts.append(("inline", _field(inline, "mimeType"), _bytes(inline["data"])))
            elif file is not None:  # a URL carries no media type in Claude or OpenAI
                parts.append(("file", _field(file, "fileUri")))
            elif part.get("text"):
                parts.append(("text", part["text"]))
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(parts)
        else:
            turns.append((role, parts))
    return turns


def _json_text(value: Any) -> str:
    """A result as text, JSON normalised (the trip carries a JSON value as its text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, sort_keys=True)


def _bytes(data: str) -> bytes:
    return base64.b64decode(data.replace("-", "+").replace("_", "/"), validate=True)


def _loose(turns: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
    """A history as a trip through another format keeps it: a function result's response
    object read back as the text it was carried as."""
    out = []
    for role, parts in turns:
        kept = []
        for part in parts:
            if part[0] == "result":
                response = part[2] or {}
                value = response.get("output", response.get("error", response))
                kept.append(("result", part[1], _json_text(value)))
            else:
                kept.append(part)
        out.append((role, kept))
    return out


@pytest.mark.parametrize(("name", "target"), _cases("request", test="request"))
def test_request_converts_and_comes_back(name: str, target: str) -> None:
    body = TRANSCRIPTS[name]["body"]
    losses: list[apibridge.Loss] = []
    out = apibridge.convert_request(body, source="gemini", target=target, losses=losses)
    validate_request(target, out)
    assert out["model"] == body["model"].removeprefix("models/")
    back = apibridge.convert_request(out, source=target, target="gemini", losses=[])
    validate_gemini_request(back)
    assert back["model"] == body["model"]
    assert _loose(_history(back)) == _loose(_history(body))
    system = _field(body, "systemInstruction")
    if system is not None:
        assert [p["text"] for p in back["systemInstruction"]["parts"]] == [
            p["text"] for p in system["parts"]
        ]
    for loss in losses:
        assert loss.field
        assert loss.reason
        assert loss.action


def _parts_of(name: str) -> Iterator[dict[str, Any]]:
    for content in TRANSCRIPTS[name]["body"]["contents"]:
        yield from content["parts"]


def test_images_reach_claude_as_the_same_bytes() -> None:
    """google-genai sends inline bytes URL-safe and ``mime_type`` in snake_case: Claude gets
    the PNG in standard base64 and the uploaded file as a URL source."""
    body = TRANSCRIPTS["request_multi_turn_images"]["body"]
    out = apibridge.convert_request(body, source="gemini", target="anthropic", losses=[])
    validate_request("anthropic", out)
    assert out["system"] in (
        "Answer in one sentence.",
        [{"type": "text", "text": "Answer in one sentence."}],
    )
    images = [
        b
        for m in out["messages"]
        for b in m["content"]
        if isinstance(b, dict) and b["type"] == "image"
    ]
    inline, uploaded = images
    png = _bytes(next(iter(_parts_of("request_multi_turn_images")))["inlineData"]["data"])
    assert png.startswith(b"\x89PNG")
    assert inline["source"]["type"] == "base64"
    assert inline["source"]["media_type"] == "image/png"
    assert base64.b64decode(inline["source"]["data"], validate=True) == png
    assert uploaded["source"] == {
        "type": "url",
        "url": "https://generativelanguage.googleapis.com/v1beta/files/abc-123",
    }


def test_images_reach_openai_clients_as_the_same_bytes() -> None:
    body = TRANSCRIPTS["request_multi_turn_images"]["body"]
    png = _bytes(next(iter(_parts_of("request_multi_turn_images")))["inlineData"]["data"])
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc-123"
    chat = apibridge.convert_request(body, source="gemini", target="chat", losses=[])
    urls = [
        c["image_url"]["url"]
        for m in chat["messages"]
        if isinstance(m["content"], list)
        for c in m["content"]
        if c["type"] == "image_url"
    ]
    responses = apibridge.convert_request(body, source="gemini", target="responses", losses=[])
    urls += [
        c["image_url"]
        for m in responses["input"]
        if isinstance(m.get("content"), list)
        for c in m["content"]
        if c["type"] == "input_image"
    ]
    prefix = "data:image/png;base64,"
    assert [u == uri for u in urls] == [False, True, False, True]
    for url in urls[::2]:
        assert url.startswith(prefix)
        assert base64.b64decode(url[len(prefix) :], validate=True) == png


def test_a_thinking_budget_claude_would_refuse_is_fitted() -> None:
    """google-genai's thinking_budget 512 with maxOutputTokens 256: Anthropic takes a budget
    of at least 1,024 below max_tokens, so thinking is fitted or left out, and that is said."""
    body = TRANSCRIPTS["request_multi_turn_images"]["body"]
    for model in ("models/gemini-2.5-flash", "models/claude-sonnet-4-5"):
        losses: list[apibridge.Loss] = []
        out = apibridge.convert_request(
            {**body, "model": model}, source="gemini", target="anthropic", losses=losses
        )
        thinking = out.get("thinking") or {"type": "disabled"}
        if thinking["type"] == "enabled":
            assert 1024 <= thinking["budget_tokens"] < out["max_tokens"], out
        else:  # or thinking is left out, and that is said
            assert any("thinkingConfig" in loss.field for loss in losses), losses


def test_history_signatures_sent_elsewhere_are_reported() -> None:
    """A Gemini client's history signatures mean nothing to another model: not sent, and
    reported (the way back is the answers', above, not the requests')."""
    body = TRANSCRIPTS["request_tool_history_signatures"]["body"]
    assert sum("thoughtSignature" in p for p in _parts_of("request_tool_history_signatures")) == 2
    for target in TARGETS:
        losses: list[apibridge.Loss] = []
        out = apibridge.convert_request(body, source="gemini", target=target, losses=losses)
        assert "abr1." not in json.dumps(out), "no Gemini signature goes to another model"
        words = ("signature", "reasoning", "thinking")
        lost = [loss for loss in losses if any(w in loss.reason.lower() for w in words)]
        assert len(lost) == 2, losses  # one per signed call


def test_tool_results_pair_with_their_calls_in_every_format() -> None:
    """Gemini 2.5 calls have no ids: the made ids pair each result with its call (by name and
    order), and are never sent back to Gemini."""
    body = TRANSCRIPTS["request_parallel_tool_results_signature"]["body"]
    out = apibridge.convert_request(body, source="gemini", target="anthropic", losses=[])
    uses = [
        b
        for m in out["messages"]
        for b in m["content"]
        if isinstance(b, dict) and b["type"] == "tool_use"
    ]
    results = [
        b
        for m in out["messages"]
        for b in m["content"]
        if isinstance(b, dict) and b["type"] == "tool_result"
    ]
    assert [u["id"] for u in uses] == [r["tool_use_id"] for r in results]
    assert len(set(u["id"] for u in uses)) == len(uses) == 2
    back = apibridge.convert_request(out, source="anthropic", target="gemini", losses=[])
    for turn in back["contents"]:
        for part in turn["parts"]:
            for key in ("functionCall", "functionResponse"):
                if key in part:
                    assert "id" not in part[key], "a made id is not Gemini's: never sent"


def test_a_forced_tool_choice_is_the_forced_tool() -> None:
    body = TRANSCRIPTS["request_tool_choice_any_history"]["body"]
    anthropic = apibridge.convert_request(body, source="gemini", target="anthropic", losses=[])
    assert anthropic["tool_choice"] == {"type": "tool", "name": "catalogSearch"}
    chat = apibridge.convert_request(body, source="gemini", target="chat", losses=[])
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "catalogSearch"}}
    # Gemini's own call id survives the trip: the functionResponse echoes it
    back = apibridge.convert_request(chat, source="chat", target="gemini", losses=[])
    ids = [
        p[k]["id"]
        for c in back["contents"]
        for p in c["parts"]
        for k in ("functionCall", "functionResponse")
        if k in p
    ]
    assert ids == ["5fDycx9iBBu5hB0y", "5fDycx9iBBu5hB0y"]


def test_structured_output_schema_reaches_every_format() -> None:
    body = TRANSCRIPTS["response_structured_output"]["request"]
    schema = body["generationConfig"]["responseJsonSchema"]
    chat = apibridge.convert_request(body, source="gemini", target="chat", losses=[])
    assert chat["response_format"]["type"] == "json_schema"
    assert chat["response_format"]["json_schema"]["schema"]["properties"] == schema["properties"]
    responses = apibridge.convert_request(body, source="gemini", target="responses", losses=[])
    assert responses["text"]["format"]["type"] == "json_schema"
    assert responses["text"]["format"]["schema"]["required"] == schema["required"]
    anthropic = apibridge.convert_request(body, source="gemini", target="anthropic", losses=[])
    fmt = anthropic["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    assert fmt["schema"]["properties"] == schema["properties"]


def test_the_google_search_tool_is_reported_lost_elsewhere() -> None:
    body = TRANSCRIPTS["request_google_search_tool"]["body"]
    for target in TARGETS:
        losses: list[apibridge.Loss] = []
        out = apibridge.convert_request(body, source="gemini", target=target, losses=losses)
        assert not out.get("tools"), out.get("tools")
        assert any("search" in (loss.field + loss.reason).lower() for loss in losses), losses


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("name", "target"), _cases("error", test="error"))
def test_error_converts(name: str, target: str) -> None:
    fixture = TRANSCRIPTS[name]
    error = fixture["body"]["error"]
    status, body = apibridge.convert_error(
        fixture["body"], fixture["status"], source="gemini", target=target
    )
    validate_error(target, status, body)
    message = body["error"]["message"]
    assert error["message"] in message
    reason = next(
        (d.get("reason") for d in error.get("details", []) if "ErrorInfo" in d.get("@type", "")),
        None,
    )
    if reason == "API_KEY_INVALID":  # Google says 400; every other client reads a bad key as 401
        assert status == 401
    elif error["status"] == "UNAVAILABLE" and target == "anthropic":
        assert status in (503, 529)
    else:
        assert status == fixture["status"]
    # and back: the Gemini client reads the status it would have had from Google
    back_status, back = apibridge.convert_error(body, status, source=target, target="gemini")
    validate_error("gemini", back_status, back)
    assert error["message"] in back["error"]["message"]
    if reason is None:
        assert back_status == fixture["status"]
        assert back["error"]["status"] == error["status"]


def test_retry_delay_is_read() -> None:
    fixture = TRANSCRIPTS["error_429_resource_exhausted"]
    from apibridge.codecs import get_codec

    error = get_codec("gemini").decode_error(fixture["body"], 429)
    assert error.kind == "rate_limit"
    assert error.retry_after == pytest.approx(34.4)
    status, body = get_codec("gemini").encode_error(error)
    validate_error("gemini", status, body)
    assert status == 429
    delays = [d["retryDelay"] for d in body["error"].get("details", []) if "retryDelay" in d]
    assert delays
    assert float(delays[0].removesuffix("s")) == pytest.approx(34.4)


def test_there_are_enough_transcripts() -> None:
    kinds = [f["kind"] for f in TRANSCRIPTS.values()]
    assert len(kinds) >= 25
    assert all(kinds.count(k) >= 5 for k in ("request", "response", "stream", "error"))


def test_grounding_metadata_is_reported_where_it_cannot_go() -> None:
    """Google Search grounding (sources, supported segments, queries) has no place in the other
    formats' answers as apibridge writes them: the text arrives, the metadata is a loss."""
    fixture = TRANSCRIPTS["response_google_search_grounding"]
    text = fixture["body"]["candidates"][0]["content"]["parts"][0]["text"]
    for target in TARGETS:
        losses: list[apibridge.Loss] = []
        out = apibridge.convert_response(
            fixture["body"], source="gemini", target=target, losses=losses
        )
        assert seen(target, validate_response(target, out))["text"] == text
        assert any("groundingMetadata" in loss.field for loss in losses), losses
