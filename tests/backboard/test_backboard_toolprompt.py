"""Fallback tool mode: the prompt, the parser, the streaming scanner and the adapters."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apibridge.model import (
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Request,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    accumulate,
)
from apibridge.transports.backboard._fallback import FallbackStream, parse_response
from apibridge.transports.backboard._tool_prompt import (
    CALL_FENCE,
    CallScanner,
    ParsedCall,
    describe_tools,
    inline_tools,
    parse_tool_calls,
    render_call,
)

DECLARED = {"get_weather", "search"}


def fence(obj: object) -> str:
    return f"```{CALL_FENCE}\n{json.dumps(obj)}\n```"


def test_two_fenced_calls_with_prose_around() -> None:
    text = (
        "Let me check both cities.\n\n"
        + fence({"name": "get_weather", "arguments": {"city": "Paris"}})
        + "\n"
        + fence({"name": "get_weather", "arguments": {"city": "Rome"}})
        + "\n\nI will report back."
    )
    parsed = parse_tool_calls(text, DECLARED)
    assert parsed.calls == (
        ParsedCall(name="get_weather", arguments='{"city":"Paris"}'),
        ParsedCall(name="get_weather", arguments='{"city":"Rome"}'),
    )
    assert parsed.text == "Let me check both cities.\n\nI will report back."


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        # bare JSON in a sentence
        ('Calling {"name": "search", "arguments": {"q": "x"}} now', [("search", '{"q":"x"}')]),
        # arguments as a JSON string: kept byte for byte
        ('{"name": "search", "arguments": "{\\"q\\": 1}"}', [("search", '{"q": 1}')]),
        # OpenAI's shape, wrapped in tool_calls
        (
            '{"tool_calls": [{"type": "function", "function": {"name": "search", '
            '"arguments": "{}"}}]}',
            [("search", "{}")],
        ),
        # a list of calls, other argument keys
        (
            '[{"name": "search", "input": {"q": 2}}, {"tool": "get_weather", '
            '"parameters": {"city": "Oslo"}}]',
            [("search", '{"q":2}'), ("get_weather", '{"city":"Oslo"}')],
        ),
        # a call without arguments
        ('```json\n{"name": "search"}\n```', [("search", "{}")]),
    ],
)
def test_call_forms(text: str, calls: list[tuple[str, str]]) -> None:
    parsed = parse_tool_calls(text, DECLARED)
    assert [(c.name, c.arguments) for c in parsed.calls] == calls


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "rm_rf", "arguments": {}}',  # undeclared tool
        '{"name": "search", "arguments": [1, 2]}',  # arguments not an object
        '{"name": "search", "arguments": "not json"}',
        '{"name": "search", "arguments": {}, "extra": 1, "arguments2": {}',  # broken JSON
        '```python\nprint({"name": "search"})\n```',  # code, not a call
        'A dict {"a": 1} and a brace } and { alone',
        '[{"name": "search"}, {"name": "rm_rf"}]',  # one bad item spoils the list
    ],
)
def test_non_calls_stay_text_exactly(text: str) -> None:
    parsed = parse_tool_calls(text, DECLARED)
    assert parsed.calls == ()
    assert parsed.text == text


def test_mixed_valid_and_invalid() -> None:
    text = (
        'First {"name": "search", "arguments": {"q": "a"}} then '
        '{"name": "nope", "arguments": {}} and ' + fence({"name": "search", "arguments": {}})
    )
    parsed = parse_tool_calls(text, DECLARED)
    assert [c.name for c in parsed.calls] == ["search", "search"]
    assert parsed.text == 'First then {"name": "nope", "arguments": {}} and'


ANSWERS = [
    "Plain prose with no calls at all.",
    "Sure.\n\n" + fence({"name": "search", "arguments": {"q": "é"}}) + "\nDone `x` ``y``",
    'Inline {"name": "get_weather", "arguments": {"city": "Rome"}} call and {"junk": 1}.',
    "Code:\n```js\nlet a = {b: 1};\n```\nthen " + fence({"name": "search", "arguments": {}}),
]


@pytest.mark.parametrize("answer", ANSWERS)
@given(cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=10))
def test_scanner_gives_the_same_answer_for_any_chunking(answer: str, cuts: list[int]) -> None:
    points = sorted({c % (len(answer) + 1) for c in cuts})
    pieces = [answer[a:b] for a, b in zip([0, *points], [*points, len(answer)], strict=True)]
    scanner = CallScanner(DECLARED)
    shown = "".join(scanner.feed(p) for p in pieces)
    rest = scanner.finish()
    whole = parse_tool_calls(answer, DECLARED)
    assert shown + rest.text == whole.text
    assert rest.calls == whole.calls


def test_scanner_lets_prose_out_before_a_call_starts() -> None:
    scanner = CallScanner(DECLARED)
    assert scanner.feed("Hello there, ") == "Hello there, "
    assert scanner.feed("now ``") == "now "  # backticks may open a fence: held
    assert scanner.feed("`tool_call\n") == ""
    assert scanner.feed('{"name": "search", "arguments": {}}\n```') == ""
    rest = scanner.finish()
    assert rest.calls == (ParsedCall(name="search", arguments="{}"),)


def test_prompt_declares_tools_and_syntax() -> None:
    tools = (
        Tool(
            name="get_weather",
            description="Weather now.",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        ),
    )
    prompt = describe_tools(tools, ToolChoice(mode="tool", name="get_weather"))
    assert "## get_weather\nWeather now." in prompt
    assert '{"type":"object","properties":{"city":{"type":"string"}}}' in prompt
    assert f"```{CALL_FENCE}" in prompt
    assert "You must call the tool get_weather" in prompt
    assert "at least one" in describe_tools(tools, ToolChoice(mode="any"))


def test_inline_tools_rewrites_history_in_the_prompt_syntax() -> None:
    request = Request(
        model="featherless/tiny-llm",
        system=(TextPart(text="Base."),),
        tools=(Tool(name="search", parameters={"type": "object"}),),
        messages=(
            Message(role="user", content=(TextPart(text="find x"),)),
            Message(
                role="assistant",
                content=(ToolCallPart(id="c1", name="search", arguments='{"q":"x"}'),),
            ),
            Message(
                role="user",
                content=(
                    ToolResultPart(call_id="c1", content=(TextPart(text="found"),), is_error=True),
                ),
            ),
        ),
    )
    out = inline_tools(request)
    assert out.tools == ()
    assert out.tool_choice is None
    assert out.system[0].text == "Base."
    assert "## search" in out.system[1].text
    call_text = out.messages[1].content[0]
    assert isinstance(call_text, TextPart)
    assert call_text.text == render_call("search", '{"q":"x"}')
    assert parse_tool_calls(call_text.text, {"search"}).calls == (
        ParsedCall(name="search", arguments='{"q":"x"}'),
    )
    result_text = out.messages[2].content[0]
    assert isinstance(result_text, TextPart)
    assert result_text.text == "[Tool result (error) for search (id c1)]\nfound"


def test_stream_adapter_matches_the_response_adapter() -> None:
    answer = "I'll search.\n" + fence({"name": "search", "arguments": {"q": "z"}})
    events = [
        MessageStart(id="m", model="x"),
        PartStart(index=0, part=ThinkingPart(text="")),
        PartDelta(index=0, field="thinking", value="hmm"),
        PartStop(index=0),
        PartStart(index=1, part=TextPart(text="")),
        *[
            PartDelta(index=1, field="text", value=answer[i : i + 5])
            for i in range(0, len(answer), 5)
        ],
        PartStop(index=1),
        MessageDelta(stop_reason="end_turn"),
        MessageStop(),
    ]
    adapter = FallbackStream({"search"})
    out = [e for event in events for e in adapter.feed(event)]
    streamed = accumulate(out)
    whole = parse_response(
        Response(
            id="m",
            model="x",
            stop_reason="end_turn",
            content=(ThinkingPart(text="hmm"), TextPart(text=answer)),
        ),
        {"search"},
    )
    assert streamed.stop_reason == whole.stop_reason == "tool_use"
    assert [type(p) for p in streamed.content] == [type(p) for p in whole.content]
    assert streamed.content[1] == whole.content[1] == TextPart(text="I'll search.\n")
    call = streamed.content[2]
    assert isinstance(call, ToolCallPart)
    assert call.arguments == '{"q":"z"}'
    starts = [e.index for e in out if isinstance(e, PartStart)]
    assert starts == [0, 1, 2]


def test_answer_that_is_only_a_call_opens_no_empty_text_part() -> None:
    answer = fence({"name": "search", "arguments": {}})
    adapter = FallbackStream({"search"})
    events = [
        MessageStart(id="m", model="x"),
        PartStart(index=0, part=TextPart(text="")),
        PartDelta(index=0, field="text", value=answer),
        PartStop(index=0),
        MessageDelta(stop_reason="end_turn"),
        MessageStop(),
    ]
    out = [e for event in events for e in adapter.feed(event)]
    parts = [e.part for e in out if isinstance(e, PartStart)]
    assert len(parts) == 1
    assert isinstance(parts[0], ToolCallPart)
    assert [e.index for e in out if isinstance(e, PartStart)] == [0]
