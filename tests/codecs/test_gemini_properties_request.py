"""Hypothesis: Gemini requests survive the codec.

* canonical → Gemini → canonical is the identity on what Gemini holds (a Gemini client's
  request: roles, texts, thoughts and their signatures, carriers, calls and results, media,
  tools, tool choice, sampling, limits, structured output, thinking);
* Gemini → canonical → Gemini gives the body back, for bodies as Gemini clients write them
  (calls without ids included: made ids are never sent), each accepted by ``google-genai``;
* Claude / Chat / Responses → Gemini → the same format keeps what their users see (the
  common subset of ``tests/test_cross_properties.py``).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.genai import types
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_cross_properties import _request_view
from tests.test_cross_properties import requests as common_requests

from apibridge.codecs import get_codec
from apibridge.codecs._context import Context
from apibridge.codecs.gemini._request import decode_request, encode_request
from apibridge.model import (
    DocumentPart,
    ImagePart,
    Message,
    OutputFormat,
    ReasoningConfig,
    Request,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

words = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=20
)
names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
signatures = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())
blobs = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())
json_args = st.dictionaries(
    names, st.one_of(st.integers(-1000, 1000), words, st.booleans(), st.none()), max_size=3
)
SCHEMA = {"type": "object", "properties": {"x": {"type": "string"}}}


def gem(hints: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"gemini": hints}


@st.composite
def model_turn(
    draw: st.DrawFn, turn: int, tool_names: list[str]
) -> tuple[list[Any], list[ToolCallPart]]:
    parts: list[Any] = []
    if draw(st.booleans()):
        parts.append(ThinkingPart(text=draw(words), extras=gem({"_signature": draw(signatures)})))
    if draw(st.booleans()):
        signed = draw(st.booleans())  # a text's signature stays on the text (_parts)
        hints = {"thoughtSignature": draw(signatures)} if signed else {}
        if signed and draw(st.booleans()):
            hints["_signature_alone"] = True  # it came alone, after the text
        parts.append(TextPart(text=draw(words), extras=gem(hints) if hints else {}))
    calls = []
    for k in range(draw(st.integers(0, 2))):
        if k == 0 and draw(st.booleans()):
            parts.append(
                ThinkingPart(extras=gem({"_signature": draw(signatures), "_carrier": True}))
            )
        call = ToolCallPart(
            id=f"fc_{turn}_{k}",
            name=draw(st.sampled_from(tool_names)),
            arguments=orjson.dumps(draw(json_args)).decode(),
        )
        parts.append(call)
        calls.append(call)
    if not parts:
        parts.append(TextPart(text=draw(words)))
    return parts, calls


@st.composite
def user_parts(draw: st.DrawFn) -> list[Any]:
    parts: list[Any] = [TextPart(text=draw(words))]
    kind = draw(st.sampled_from(["none", "image", "pdf", "image_url", "file_url"]))
    if kind == "image":
        parts.append(ImagePart(media_type="image/png", data=draw(blobs)))
    elif kind == "pdf":
        parts.append(DocumentPart(media_type="application/pdf", data=draw(blobs)))
    elif kind == "image_url":
        parts.append(ImagePart(url="gs://bucket/" + draw(names) + ".jpg", media_type="image/jpeg"))
    elif kind == "file_url":
        parts.append(
            DocumentPart(url="https://files.example/" + draw(names), media_type="text/plain")
        )
    return parts


@st.composite
def gemini_requests(draw: st.DrawFn) -> Request:
    """Canonical requests as a Gemini client's decode (hints included)."""
    tool_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    tools: list[Tool] = [
        Tool(
            name=n,
            description=draw(st.none() | words),
            parameters=draw(st.none() | st.just(SCHEMA)),
            extras=gem({"_group": 0}),
        )
        for n in tool_names
    ]
    if draw(st.booleans()):
        tools.append(
            Tool(
                name="googleSearch",
                kind="server",
                server_type="google_search",
                raw={"googleSearch": {}},
                source_format="gemini",
                extras=gem({"_group": 1}),
            )
        )
    messages: list[Message] = []
    for _ in range(draw(st.integers(0, 2))):
        messages.append(Message(role="user", content=tuple(draw(user_parts()))))
        parts, calls = draw(model_turn(len(messages), tool_names))
        messages.append(Message(role="assistant", content=tuple(parts)))
        if calls:
            results = tuple(
                ToolResultPart(
                    call_id=c.id,
                    content=(TextPart(text=draw(words)),),
                    is_error=draw(st.booleans()),
                )
                for c in calls
            )
            messages.append(Message(role="user", content=results))
    messages.append(Message(role="user", content=tuple(draw(user_parts()))))
    hints: dict[str, Any] = {"_native": True}
    reasoning = draw(
        st.sampled_from(
            [
                None,
                ReasoningConfig(mode="disabled"),
                ReasoningConfig(mode="adaptive", summary="auto"),
                ReasoningConfig(mode="enabled", budget_tokens=2048),
                ReasoningConfig(mode="enabled", budget_tokens=512, summary="auto"),
                ReasoningConfig(mode="enabled", effort="low"),
                ReasoningConfig(mode="enabled", effort="high", summary="auto"),
            ]
        )
    )
    if reasoning is not None and reasoning.effort is not None and reasoning.budget_tokens is None:
        hints["_budget_absent"] = True
    choice = draw(
        st.sampled_from(
            [
                None,
                ToolChoice(mode="auto"),
                ToolChoice(mode="any"),
                ToolChoice(mode="none"),
                ToolChoice(mode="any", allowed=tuple(tool_names)) if len(tool_names) > 1 else None,
                ToolChoice(mode="auto", allowed=(tool_names[0],)),
                ToolChoice(mode="tool", name=tool_names[-1]),
            ]
        )
    )
    logprobs = draw(st.sampled_from([None, True, False]))
    seed = draw(st.none() | st.integers(0, 100))
    if seed is not None:
        hints["seed"] = seed
    return Request(
        model=draw(st.sampled_from(["gemini-2.5-flash", "gemini-3-pro-preview"])),
        system=tuple(TextPart(text=draw(words)) for _ in range(draw(st.integers(0, 2)))),
        messages=tuple(messages),
        tools=tuple(tools),
        tool_choice=choice,
        max_tokens=draw(st.none() | st.integers(1, 65536)),
        temperature=draw(st.sampled_from([None, 0.0, 0.5, 1.0, 2.0])),
        top_p=draw(st.sampled_from([None, 0.9, 1.0])),
        top_k=draw(st.none() | st.integers(1, 100)),
        stop=tuple(draw(st.lists(words, max_size=2))),
        reasoning=reasoning,
        output_format=draw(
            st.sampled_from(
                [
                    None,
                    OutputFormat(kind="text"),
                    OutputFormat(kind="json_object"),
                    OutputFormat(kind="json_schema", schema=SCHEMA),
                ]
            )
        ),
        n=draw(st.sampled_from([None, 1])),
        logprobs=logprobs,
        top_logprobs=draw(st.none() | st.integers(1, 5)) if logprobs else None,
        extras=gem(hints),
    )


@settings(max_examples=150)
@given(gemini_requests())
def test_canonical_to_gemini_and_back_is_the_identity(request: Request) -> None:
    ctx = Context()
    body = encode_request(request, ctx)
    assert ctx.losses == []
    assert decode_request(body, Context()) == request


# ------------------------------------------------------------------------------ wire level


@st.composite
def gemini_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Bodies as Gemini clients write them (camelCase), calls with or without ids."""
    tool_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    contents: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 3))):
        contents.append({"role": "user", "parts": [{"text": draw(words)}]})
        parts: list[dict[str, Any]] = []
        if draw(st.booleans()):
            thought: dict[str, Any] = {"text": draw(words), "thought": True}
            if draw(st.booleans()):
                thought["thoughtSignature"] = draw(signatures)
            parts.append(thought)
        calls = []
        with_ids = draw(st.booleans())  # Gemini 3 gives ids, 2.5 does not
        for k in range(draw(st.integers(0, 3))):
            call: dict[str, Any] = {
                "name": draw(st.sampled_from(tool_names)),
                "args": draw(json_args),
            }
            if with_ids:
                call = {"id": draw(names) + str(k), **call}
            part: dict[str, Any] = {"functionCall": call}
            if k == 0 and draw(st.booleans()):
                part["thoughtSignature"] = draw(signatures)
            parts.append(part)
            calls.append(call)
        if not calls:
            text: dict[str, Any] = {"text": draw(words)}
            if draw(st.booleans()):
                text["thoughtSignature"] = draw(signatures)
            parts.append(text)
        contents.append({"role": "model", "parts": parts})
        if calls:
            answers = draw(st.permutations(calls)) if with_ids else calls
            responses = []
            for call in answers:
                response: dict[str, Any] = {"name": call["name"]}
                if "id" in call:
                    response = {"id": call["id"], **response}
                response["response"] = draw(
                    st.sampled_from(
                        [
                            {"output": "ok"},
                            {"error": "failed"},
                            {"output": {"n": 1}},
                            {"result": [1, 2]},
                        ]
                    )
                )
                responses.append({"functionResponse": response})
            contents.append({"role": "user", "parts": responses})
    contents.append({"role": "user", "parts": [{"text": draw(words)}]})
    body: dict[str, Any] = {"model": "models/gemini-2.5-flash", "contents": contents}
    if draw(st.booleans()):
        body["systemInstruction"] = {"parts": [{"text": draw(words)}]}
    body["tools"] = [
        {"functionDeclarations": [{"name": n, "parametersJsonSchema": SCHEMA} for n in tool_names]}
    ]
    config: dict[str, Any] = {}
    for key, values in (
        ("temperature", st.sampled_from([0.0, 0.7, 1.5])),
        ("topP", st.sampled_from([0.5, 0.95])),
        ("topK", st.integers(1, 64)),
        ("maxOutputTokens", st.integers(1, 8192)),
        ("stopSequences", st.lists(words, min_size=1, max_size=2)),
        ("seed", st.integers(0, 9)),
        (
            "thinkingConfig",
            st.sampled_from(
                [
                    {"thinkingBudget": 0},
                    {"thinkingBudget": 1024, "includeThoughts": True},
                    {"thinkingLevel": "LOW"},
                ]
            ),
        ),
    ):
        if draw(st.booleans()):
            config[key] = draw(values)
    if config:
        body["generationConfig"] = config
    return body


@settings(max_examples=150)
@given(gemini_bodies())
def test_gemini_bodies_go_back_as_they_came(body: dict[str, Any]) -> None:
    for content in body["contents"]:
        types.Content.model_validate(content)  # the bodies are what the SDK accepts
    ctx = Context()
    assert encode_request(decode_request(body, Context()), ctx) == body
    assert ctx.losses == []


# ------------------------------------------------------------------------------ A → Gemini → A


@settings(max_examples=100)
@given(common_requests(), st.sampled_from(["anthropic", "chat", "responses"]))
def test_other_formats_survive_a_trip_through_gemini(request: Request, fmt: str) -> None:
    codec = get_codec(fmt)
    body = codec.encode_request(request, Context())
    gemini = encode_request(codec.decode_request(body, Context()), Context())
    for content in gemini["contents"]:
        types.Content.model_validate(content)
    back = codec.encode_request(decode_request(gemini, Context()), Context())
    assert _request_view(back, fmt) == _request_view(body, fmt)


@given(st.lists(st.sampled_from(["read", "list", "grep"]), min_size=1, max_size=6), st.randoms())
def test_results_without_ids_answer_the_calls_they_were_made_for(
    called: list[str], rng: Any
) -> None:
    """Gemini 2.5 answers calls without ids, one response per call, each function's in call
    order (other functions' may interleave): every result must pair with its own call, which
    Claude, Chat and Responses then see by id."""
    calls = [{"functionCall": {"name": n, "args": {"n": k}}} for k, n in enumerate(called)]
    # shuffle across functions, keeping each function's responses in its call order
    queues = {n: [k for k, m in enumerate(called) if m == n] for n in set(called)}
    order: list[int] = []
    while any(queues.values()):
        name = rng.choice(sorted(n for n, q in queues.items() if q))
        order.append(queues[name].pop(0))
    responses = [
        {"functionResponse": {"name": called[k], "response": {"output": str(k)}}} for k in order
    ]
    body = {
        "model": "models/gemini-2.5-flash",
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": calls},
            {"role": "user", "parts": responses},
        ],
    }
    request = decode_request(body, Context())
    made = {
        p.id: orjson.loads(p.arguments)["n"]
        for p in request.messages[1].content
        if isinstance(p, ToolCallPart)
    }
    assert len(made) == len(calls)
    for result in request.messages[2].content:
        assert isinstance(result, ToolResultPart)
        assert str(made[result.call_id]) == result.text
    claude = get_codec("anthropic").encode_request(request, Context())
    uses = {
        b["id"]: b["input"]["n"]
        for b in claude["messages"][1]["content"]
        if b["type"] == "tool_use"
    }
    for block in claude["messages"][2]["content"]:
        assert str(uses[block["tool_use_id"]]) == block["content"]
