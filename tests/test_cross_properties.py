"""Hypothesis: the common subset of the three client formats survives A → B → A.

Canonical values in the subset every format can hold are generated, encoded as format A,
converted to B and back to A, and decoded again: what a user of A sees (roles, texts, tool
calls with their parsed arguments, tool results, system text, tools, limits, sampling, tool
choice, stop reason, usage) must be unchanged. Ids may be re-minted only where a format has
no place for them.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

import apibridge
from apibridge.codecs import Context, get_codec
from apibridge.model import (
    Message,
    Request,
    Response,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

FMTS = ("anthropic", "chat", "responses")
PAIRS = [(a, b) for a in FMTS for b in FMTS if a != b]

words = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=30
).filter(lambda s: s.strip() == s and s != "")
names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
json_args = st.dictionaries(
    names, st.one_of(st.integers(-1000, 1000), words, st.booleans()), max_size=3
)
SCHEMA = {"type": "object", "properties": {"x": {"type": "string"}}}


@st.composite
def requests(draw: st.DrawFn) -> Request:
    tool_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    tools = tuple(Tool(name=n, description=draw(words), parameters=SCHEMA) for n in tool_names)
    messages: list[Message] = []
    for turn in range(draw(st.integers(0, 2))):
        messages.append(Message(role="user", content=(TextPart(text=draw(words)),)))
        calls = tuple(
            ToolCallPart(
                id=f"call_{turn}_{i}",
                name=draw(st.sampled_from(tool_names)),
                arguments=orjson.dumps(draw(json_args)).decode(),
            )
            for i in range(draw(st.integers(1, 2)))
        )
        messages.append(Message(role="assistant", content=(TextPart(text=draw(words)), *calls)))
        results = tuple(
            ToolResultPart(call_id=c.id, content=(TextPart(text=draw(words)),)) for c in calls
        )
        messages.append(Message(role="user", content=results))
        messages.append(Message(role="assistant", content=(TextPart(text=draw(words)),)))
    messages.append(Message(role="user", content=(TextPart(text=draw(words)),)))
    choice = draw(
        st.sampled_from(
            [None, ToolChoice(mode="auto"), ToolChoice(mode="any"), ToolChoice(mode="none")]
            + [ToolChoice(mode="tool", name=n) for n in tool_names]
        )
    )
    return Request(
        model=draw(names),
        system=(TextPart(text=draw(words)),) if draw(st.booleans()) else (),
        messages=tuple(messages),
        tools=tools,
        tool_choice=choice,
        max_tokens=draw(st.integers(1, 8000)),
        temperature=draw(st.sampled_from([None, 0.0, 0.5, 1.0])),
        top_p=draw(st.sampled_from([None, 0.9])),
    )


def _request_view(body: dict[str, Any], fmt: str) -> dict[str, Any]:
    request = get_codec(fmt).decode_request(body, Context())
    messages = []
    for m in request.messages:
        parts = []
        for p in m.content:
            if isinstance(p, TextPart):
                parts.append(("text", p.text))
            elif isinstance(p, ToolCallPart):
                parts.append(("call", p.id, p.name, orjson.loads(p.arguments or "{}")))
            elif isinstance(p, ToolResultPart):
                parts.append(("result", p.call_id, p.text, p.is_error))
        messages.append((m.role, tuple(parts)))
    choice = request.tool_choice
    return {
        "model": request.model,
        "system": "".join(p.text for p in request.system),
        "messages": messages,
        "tools": [(t.name, t.description, dict(t.parameters or {})) for t in request.tools],
        "choice": None if choice is None else (choice.mode, choice.name),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
    }


@given(requests(), st.sampled_from(PAIRS))
def test_requests_survive_a_to_b_to_a(request: Request, pair: tuple[str, str]) -> None:
    a, b = pair
    body = get_codec(a).encode_request(request, Context())
    there = apibridge.convert_request(body, source=a, target=b, losses=[])
    back = apibridge.convert_request(there, source=b, target=a, losses=[])
    assert _request_view(back, a) == _request_view(body, a)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    parts: list[Any] = []
    if draw(st.booleans()):
        parts.append(TextPart(text=draw(words)))
    calls = [
        ToolCallPart(
            id=f"call_{i}", name=draw(names), arguments=orjson.dumps(draw(json_args)).decode()
        )
        for i in range(draw(st.integers(0, 2)))
    ]
    if not parts and not calls:
        parts.append(TextPart(text=draw(words)))
    stop = "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens"]))
    return Response(
        id="resp_x",
        model=draw(names),
        content=(*parts, *calls),
        stop_reason=stop,
        usage=Usage(
            input_tokens=draw(st.integers(0, 10_000)),
            output_tokens=draw(st.integers(0, 10_000)),
            cache_read_tokens=draw(st.integers(0, 1000)),
        ),
    )


def _response_view(body: dict[str, Any], fmt: str) -> dict[str, Any]:
    response = get_codec(fmt).decode_response(body, Context())
    content = []
    for p in response.content:
        if isinstance(p, TextPart):
            content.append(("text", p.text))
        elif isinstance(p, ToolCallPart):
            content.append(("call", p.id, p.name, orjson.loads(p.arguments or "{}")))
    usage = response.usage or Usage()
    return {
        "model": response.model,
        "content": content,
        "stop": response.stop_reason,
        "usage": (usage.total_input, usage.output_tokens, usage.cache_read_tokens),
    }


@given(responses(), st.sampled_from(PAIRS))
def test_responses_survive_a_to_b_to_a(response: Response, pair: tuple[str, str]) -> None:
    a, b = pair
    body = get_codec(a).encode_response(response, Context())
    there = apibridge.convert_response(body, source=a, target=b, losses=[])
    back = apibridge.convert_response(there, source=b, target=a, losses=[])
    assert _response_view(back, a) == _response_view(body, a)
