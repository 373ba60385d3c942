"""Issue 15, item 9: prompt-cache markers cross between Anthropic ``cache_control`` and OpenAI
``prompt_cache_breakpoint`` / ``prompt_cache_options`` where the upstream takes them
(``cache_breakpoints``), and are reported lost where it does not.

Each output is validated with the official SDK request types (``oracles``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import apibridge
from apibridge.codecs._cache_markers import TTL_TO_OPENAI
from apibridge.errors import Loss
from oracles import validate_request

OPENAI = ("chat", "responses")
EPHEMERAL: dict[str, Any] = {"type": "ephemeral"}
HOUR: dict[str, Any] = {"type": "ephemeral", "ttl": "1h"}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 16).decode()
PDF = base64.b64encode(b"%PDF-1.4 tiny").decode()

#: a Claude Code-like request: marked system, tools, user blocks and a marked tool result.
ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 100,
    "system": [
        {"type": "text", "text": "You are a coding agent."},
        {"type": "text", "text": "Project rules.", "cache_control": HOUR},
    ],
    "tools": [
        {
            "name": "read",
            "input_schema": {"type": "object", "properties": {}},
            "cache_control": EPHEMERAL,
        }
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    "cache_control": EPHEMERAL,
                },
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                    "cache_control": EPHEMERAL,
                },
                {"type": "text", "text": "read it", "cache_control": EPHEMERAL},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "file text",
                    "cache_control": EPHEMERAL,
                }
            ],
        },
    ],
}

#: where each OpenAI format keeps the marked parts of ANTHROPIC_REQUEST.
SYSTEM_TEXT = {"chat": "text", "responses": "input_text"}


def _convert(
    body: dict[str, Any], source: str, target: str, **options: Any
) -> tuple[dict[str, Any], list[Loss]]:
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source=source, target=target, losses=losses, **options)
    validate_request(target, out)
    return out, losses


def _breakpoints(value: Any) -> list[tuple[str, Any]]:
    """Every ``prompt_cache_breakpoint`` in ``value``, with the type of the part holding it."""
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        if "prompt_cache_breakpoint" in value:
            found.append((value.get("type", ""), value["prompt_cache_breakpoint"]))
        for inner in value.values():
            found += _breakpoints(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _breakpoints(inner)
    return found


def _markers(value: Any) -> list[tuple[str, Any]]:
    """Every block-level ``cache_control`` in an Anthropic request's system and messages."""
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        if "cache_control" in value and "type" in value:
            found.append((value["type"], value["cache_control"]))
        for key, inner in value.items():
            if key != "cache_control":
                found += _markers(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _markers(inner)
    return found


# ------------------------------------------------------------------ Anthropic → OpenAI


@pytest.mark.parametrize("target", OPENAI)
def test_fidelity_18_anthropic_markers_become_openai_breakpoints(target: str) -> None:
    body = {**ANTHROPIC_REQUEST, "cache_control": HOUR}
    out, losses = _convert(body, "anthropic", target, cache_breakpoints=True)
    found = _breakpoints({k: v for k, v in out.items() if k != "tools"})
    text = SYSTEM_TEXT[target]
    image = "image_url" if target == "chat" else "input_image"
    document = "file" if target == "chat" else "input_file"
    explicit = {"mode": "explicit"}
    assert found == [
        (text, {"mode": "explicit", "ttl": "12h"}),  # 1h: the shortest lifetime that covers it
        (image, explicit),
        (document, explicit),
        (text, explicit),
        (text, explicit),  # the tool result's marker, on its last part
    ]
    if target == "responses":
        # instructions take no breakpoint: the marked system prompt is a system message
        assert "instructions" not in out
        assert out["input"][0]["role"] == "system"
        assert out["prompt_cache_options"] == {"mode": "implicit", "ttl": "12h"}
    else:
        assert out["prompt_cache_options"] == {"mode": "implicit"}  # Chat's one ttl is 30m
    lost = {loss.field for loss in losses}
    assert "tools[0].cache_control" in lost  # OpenAI tools take no breakpoint
    assert not any(".content[" in f and f.endswith("cache_control") for f in lost)


@pytest.mark.parametrize("target", OPENAI)
def test_anthropic_markers_are_reported_where_breakpoints_are_off(target: str) -> None:
    body = {**ANTHROPIC_REQUEST, "cache_control": EPHEMERAL}
    out, losses = _convert(body, "anthropic", target)  # the library default for OpenAI
    assert _breakpoints(out) == []
    assert "prompt_cache_options" not in out
    lost = [loss.field for loss in losses]
    for field in (
        "request.cache_control",
        "system[1].cache_control",
        "messages[0].content[0].cache_control",
        "messages[0].content[1].cache_control",
        "messages[0].content[2].cache_control",
        "messages[2].content[0].cache_control",
        "tools[0].cache_control",
    ):
        assert field in lost
    off = [loss for loss in losses if "cache_breakpoints" in loss.reason]
    assert len(off) == 6  # the reason names the setting that would carry them


# ------------------------------------------------------------------ OpenAI → Anthropic

OPENAI_REQUESTS: dict[str, dict[str, Any]] = {
    "chat": {
        "model": "gpt-5.6",
        "messages": [
            {
                "role": "system",
                "content": [
                    {
                        "type": "text",
                        "text": "rules",
                        "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "12h"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "hi",
                        "prompt_cache_breakpoint": {"mode": "explicit"},
                    }
                ],
            },
        ],
    },
    "responses": {
        "model": "gpt-5.6",
        "input": [
            {
                "role": "system",
                "content": [
                    {
                        "type": "input_text",
                        "text": "rules",
                        "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "12h"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": "hi",
                        "prompt_cache_breakpoint": {"mode": "explicit"},
                    }
                ],
            },
        ],
    },
}


@pytest.mark.parametrize("source", OPENAI)
def test_fidelity_18_openai_breakpoints_become_anthropic_markers(source: str) -> None:
    out, losses = _convert(OPENAI_REQUESTS[source], source, "anthropic")  # on by default
    assert _markers(out) == [("text", HOUR), ("text", EPHEMERAL)]
    # 12h is longer than Anthropic keeps a prefix: carried as 1h, and said
    assert [(loss.field, loss.action) for loss in losses if "cache" in loss.field] == [
        ("system[0].prompt_cache_breakpoint.ttl", "sent as 1h")
    ]


@pytest.mark.parametrize("source", OPENAI)
@pytest.mark.parametrize(
    ("options", "marker"),
    [
        ({"mode": "implicit"}, EPHEMERAL),
        ({"mode": "implicit", "ttl": "30m"}, EPHEMERAL),
        ({"mode": "explicit"}, None),
    ],
)
def test_openai_prompt_cache_options_reach_anthropic(
    source: str, options: dict[str, Any], marker: dict[str, Any] | None
) -> None:
    body = {**OPENAI_REQUESTS[source], "prompt_cache_options": options}
    out, losses = _convert(body, source, "anthropic")
    assert out.get("cache_control") == marker  # implicit: Anthropic's automatic caching
    assert "request.prompt_cache_options" not in [loss.field for loss in losses]


def test_responses_request_ttl_is_the_default_lifetime_of_its_breakpoints() -> None:
    body = {
        **OPENAI_REQUESTS["responses"],
        "prompt_cache_options": {"mode": "explicit", "ttl": "12h"},
    }
    out, losses = _convert(body, "responses", "anthropic")
    assert _markers(out) == [("text", HOUR), ("text", HOUR)]
    assert "cache_control" not in out  # explicit mode: no automatic marker
    assert sorted(loss.field for loss in losses if "cache" in loss.field) == [
        "messages[0].content[0].prompt_cache_breakpoint.ttl",  # 12h from the request, as 1h
        "system[0].prompt_cache_breakpoint.ttl",
    ]


@pytest.mark.parametrize("source", OPENAI)
def test_openai_breakpoints_are_reported_when_anthropic_markers_are_off(source: str) -> None:
    out, losses = _convert(OPENAI_REQUESTS[source], source, "anthropic", cache_breakpoints=False)
    assert _markers(out) == []
    lost = [loss.field for loss in losses]
    assert "system[0].prompt_cache_breakpoint" in lost
    assert "messages[0].content[0].prompt_cache_breakpoint" in lost


# ------------------------------------------------------------------ Chat ⇄ Responses


@pytest.mark.parametrize("source", OPENAI)
def test_openai_breakpoints_cross_to_the_other_openai_api(source: str) -> None:
    target = "responses" if source == "chat" else "chat"
    out, losses = _convert(OPENAI_REQUESTS[source], source, target, cache_breakpoints=True)
    assert [b for _, b in _breakpoints(out)] == [
        {"mode": "explicit", "ttl": "12h"},
        {"mode": "explicit"},
    ]
    assert losses == []
    _, losses = _convert(OPENAI_REQUESTS[source], source, target)
    assert {loss.field for loss in losses} == {
        "system[0].prompt_cache_breakpoint",
        "messages[0].content[0].prompt_cache_breakpoint",
    }


@pytest.mark.parametrize("fmt", OPENAI)
@pytest.mark.parametrize("setting", [None, False, True])
def test_same_format_breakpoints_are_untouched(fmt: str, setting: bool | None) -> None:
    out, losses = _convert(OPENAI_REQUESTS[fmt], fmt, fmt, cache_breakpoints=setting)
    assert _breakpoints(out) == _breakpoints(OPENAI_REQUESTS[fmt])
    assert losses == []


def test_chat_tool_message_breakpoint_reaches_a_responses_tool_output() -> None:
    body = {
        "model": "gpt-5.6",
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "c1",
                "content": [
                    {"type": "text", "text": "ok", "prompt_cache_breakpoint": {"mode": "explicit"}}
                ],
            },
        ],
    }
    out, losses = _convert(body, "chat", "responses", cache_breakpoints=True)
    output = out["input"][-1]["output"]
    assert output == [
        {"type": "input_text", "text": "ok", "prompt_cache_breakpoint": {"mode": "explicit"}}
    ]
    assert losses == []
    out, losses = _convert(body, "chat", "responses")
    assert out["input"][-1]["output"] == "ok"
    assert [loss.field for loss in losses] == [
        "messages[2].content[0].content[0].prompt_cache_breakpoint"
    ]


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("via", OPENAI)
@pytest.mark.parametrize("ttl", sorted(k for k in TTL_TO_OPENAI if k is not None))
def test_anthropic_marker_lifetime_survives_a_trip_through_openai(via: str, ttl: str) -> None:
    marker = {"type": "ephemeral", "ttl": ttl}
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": marker}]}
        ],
    }
    there, losses = _convert(body, "anthropic", via, cache_breakpoints=True)
    assert losses == []
    back, losses = _convert(there, via, "anthropic")
    assert _markers(back) == [("text", {"5m": EPHEMERAL, "1h": HOUR}[ttl])]
    # each side's default meets the other's (5m ⇄ 30m, both unwritten); 1h goes out as 12h,
    # the shortest OpenAI lifetime that covers it, and 12h comes back as 1h, said as shorter
    assert [loss.action for loss in losses if "cache" in loss.field] == (
        ["sent as 1h"] if ttl == "1h" else []
    )


@pytest.mark.parametrize("ttl", ["2h", ["1h"], 5])
def test_a_lifetime_the_other_side_lacks_is_reported(ttl: Any) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "hi",
                        "cache_control": {"type": "ephemeral", "ttl": ttl},
                    }
                ],
            }
        ],
    }
    losses: list[Loss] = []
    out = apibridge.convert_request(
        body, source="anthropic", target="chat", losses=losses, cache_breakpoints=True
    )
    assert _breakpoints(out) == [("text", {"mode": "explicit"})]
    assert [loss.field for loss in losses] == ["messages[0].content[0].cache_control.ttl"]


def _listed(content: Any) -> list[dict[str, Any]]:
    """Content as a list of parts (one plain text may be spelled as a string)."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


_TTLS = st.sampled_from([None, "absent", "5m", "1h"])


@settings(max_examples=60, deadline=None)
@given(marks=st.lists(_TTLS, min_size=1, max_size=6), via=st.sampled_from(OPENAI))
def test_every_marker_comes_back_on_its_own_block(marks: list[str | None], via: str) -> None:
    """Any run of marked and unmarked blocks: each marker becomes one breakpoint on its own
    part, and comes back to Anthropic on the same block with its lifetime class."""
    blocks: list[dict[str, Any]] = []
    for i, ttl in enumerate(marks):
        block: dict[str, Any] = {"type": "text", "text": f"block {i}"}
        if ttl == "absent":
            block["cache_control"] = EPHEMERAL
        elif ttl is not None:
            block["cache_control"] = {"type": "ephemeral", "ttl": ttl}
        blocks.append(block)
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": blocks}],
    }
    there, losses = _convert(body, "anthropic", via, cache_breakpoints=True)
    assert losses == []
    content = _listed(there["messages"][0]["content"] if via == "chat" else there["input"])
    if via == "responses":
        content = _listed(content[0]["content"])
    assert len(content) == len(blocks)
    for block, part in zip(blocks, content, strict=True):
        marker = block.get("cache_control")
        if marker is None:
            assert "prompt_cache_breakpoint" not in part
        else:
            assert part["prompt_cache_breakpoint"].get("ttl") == TTL_TO_OPENAI[marker.get("ttl")]
    back, _ = _convert(there, via, "anthropic")
    returned = _listed(back["messages"][0]["content"])
    for block, part in zip(blocks, returned, strict=True):
        marker = block.get("cache_control")
        expected = None if marker is None else (HOUR if marker.get("ttl") == "1h" else EPHEMERAL)
        assert part.get("cache_control") == expected
