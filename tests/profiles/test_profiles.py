"""Server profiles (issue 11, "Upstream server profiles"): each family's table agrees with the
facts written down in ``tests/profiles/facts/`` (each with its source), and the requests
apibridge sends with a profile only use what that server accepts, in the shapes it accepts.

The validator below reads the facts files only, never the profile table: a profile that
claimed more than its server takes would send requests the facts refuse.
"""

from __future__ import annotations

import copy
import importlib.util
import tomllib
import typing
from pathlib import Path
from typing import Any

import openai.types.chat.completion_create_params as chat_params
import openai.types.shared.reasoning_effort as effort_module
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import apibridge
from apibridge._exchange import Exchange
from apibridge.codecs import chat
from apibridge.codecs._context import Context
from apibridge.codecs._profiles import (
    ANTHROPIC_PROFILES,
    CHAT_PROFILES,
    Profile,
    profile_for_host,
    profile_for_owner,
)
from oracles import validate_request

FACTS = Path(__file__).parent / "facts"
CHAT_FACTS = [
    "reasoning_field",
    "reasoning_efforts",
    "max_tokens_keys",
    "tool_result_parts",
    "allowed_tools",
    "named_tool_choice",
    "parallel_tool_calls",
    "tool_strict",
    "include_usage",
    "response_formats",
    "image_input",
    "cache_usage",
]
ANTHROPIC_FACTS = ["ignores", "blocks", "parallel_control"]


def _load(name: str) -> dict[str, Any]:
    with (FACTS / f"{name}.toml").open("rb") as f:
        return tomllib.load(f)


def _facts(fmt: str, family: str) -> dict[str, Any]:
    return _load(family if fmt == "chat" else f"anthropic-{family}")


def _sdk_fields() -> list[str]:
    """The OpenAI Chat request's fields, from the installed SDK."""
    base = chat_params.CompletionCreateParamsBase.__annotations__
    return sorted({*base, *chat_params.CompletionCreateParamsStreaming.__annotations__})


def _value(facts: dict[str, Any], key: str) -> Any:
    """A fact's value, ``None`` when unknown (or not written down)."""
    entry = facts.get(key)
    if entry is None or entry["value"] == "unknown":
        return None
    return entry["value"]


CHAT_FAMILIES = [n for n in CHAT_PROFILES if n != "generic"]
ANTHROPIC_FAMILIES = [n for n in ANTHROPIC_PROFILES if n != "generic"]


# ------------------------------------------------------------------ the table and its facts


def test_every_family_the_issue_names_has_a_profile() -> None:
    named = {"openai", "azure", "vllm", "sglang", "llamacpp", "ollama", "lmstudio"}
    named |= {"openrouter", "deepseek", "groq", "mistral", "together"}
    assert named <= set(CHAT_FAMILIES)
    assert {"deepseek", "kimi", "glm", "ollama", "vllm"} <= set(ANTHROPIC_FAMILIES)


def test_every_facts_file_belongs_to_a_profile_and_back() -> None:
    files = {p.stem for p in FACTS.glob("*.toml")}
    expected = set(CHAT_FAMILIES) | {f"anthropic-{n}" for n in ANTHROPIC_FAMILIES}
    assert files == expected


@pytest.mark.parametrize(
    ("fmt", "family"),
    [("chat", n) for n in CHAT_FAMILIES] + [("anthropic", n) for n in ANTHROPIC_FAMILIES],
)
def test_each_fact_has_a_source_or_says_where_it_was_looked_for(fmt: str, family: str) -> None:
    facts = _facts(fmt, family)
    assert facts["family"] == family
    assert facts["format"] == fmt
    for key in CHAT_FACTS if fmt == "chat" else ANTHROPIC_FACTS:
        entry = facts[key]
        if entry["value"] == "unknown":
            assert entry["searched"].strip(), (family, key)
        else:
            assert entry["source"].strip(), (family, key)


@pytest.mark.parametrize("family", CHAT_FAMILIES)
def test_the_chat_profile_table_is_its_facts(family: str) -> None:
    facts, profile = _facts("chat", family), CHAT_PROFILES[family]
    for key in CHAT_FACTS:
        value = _value(facts, key)
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(profile, key) == expected, (family, key)
    assert profile.rejects == tuple(_value(facts, "rejects") or ())
    fields = _value(facts, "request_fields")
    if fields == "sdk":
        fields = _sdk_fields()
    if profile.fields is not None:  # a whitelist is applied only where it is written down
        assert sorted(profile.fields) == sorted(fields)
    assert profile.message_rejects == tuple(_value(facts, "message_rejects") or ())


@pytest.mark.parametrize("family", ANTHROPIC_FAMILIES)
def test_the_anthropic_profile_table_is_its_facts(family: str) -> None:
    facts, profile = _facts("anthropic", family), ANTHROPIC_PROFILES[family]
    assert profile.ignores == tuple(_value(facts, "ignores") or ())
    blocks = _value(facts, "blocks")
    assert profile.blocks == (None if blocks is None else tuple(blocks))
    assert profile.parallel_control == _value(facts, "parallel_control")


def test_the_openai_facts_are_the_sdks() -> None:
    """The OpenAI facts read back from the installed SDK (the published schema)."""
    facts = _load("openai")
    assert _value(facts, "reasoning_efforts") == list(
        typing.get_args(typing.get_args(effort_module.ReasoningEffort)[0])
    )
    assert {"max_tokens", "max_completion_tokens"} <= set(
        chat_params.CompletionCreateParamsBase.__annotations__
    )
    kinds = {
        typing.get_type_hints(t)["type"].__args__[0]
        for t in typing.get_args(chat_params.ResponseFormat)
    }
    assert set(_value(facts, "response_formats")) | {"text"} == kinds


# ------------------------------------------------------------------ what is sent, validated

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
IMAGE_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAX+XDSw"
    "AAAABJRU5ErkJggg=="
)
DATA_URL = f"data:image/png;base64,{IMAGE_B64}"

ANTHROPIC_BODY: dict[str, Any] = {
    "model": "m",
    "max_tokens": 1000,
    "system": "Be brief.",
    "stream": True,
    "temperature": 0.5,
    "top_k": 5,
    "stop_sequences": ["STOP"],
    "metadata": {"user_id": "u-1"},
    "thinking": {"type": "enabled", "budget_tokens": 12000},
    "tools": [
        {"name": "get", "description": "Get.", "input_schema": SCHEMA, "strict": True},
        {"name": "put", "description": "Put.", "input_schema": SCHEMA},
    ],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": IMAGE_B64},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"q": "a"}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {"type": "text", "text": "found"},
                        {"type": "text", "text": "twice"},
                    ],
                },
                {"type": "text", "text": "And now?"},
            ],
        },
    ],
}

RESPONSES_BODY: dict[str, Any] = {
    "model": "m",
    "instructions": "Be brief.",
    "max_output_tokens": 500,
    "stream": True,
    "parallel_tool_calls": False,
    "reasoning": {"effort": "xhigh"},
    "text": {"format": {"type": "json_schema", "name": "answer", "schema": SCHEMA, "strict": True}},
    "tools": [
        {"type": "function", "name": "get", "parameters": SCHEMA, "strict": True},
        {"type": "function", "name": "put", "parameters": SCHEMA, "strict": False},
    ],
    "tool_choice": {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "get"}],
    },
    "input": [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look:"},
                {"type": "input_image", "image_url": DATA_URL, "detail": "auto"},
            ],
        },
        {"type": "function_call", "call_id": "call_1", "name": "get", "arguments": '{"q":"a"}'},
        {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": [
                {"type": "input_text", "text": "found"},
                {"type": "input_text", "text": "twice"},
            ],
        },
    ],
}

CHAT_BODY: dict[str, Any] = {
    "model": "m",
    "max_completion_tokens": 300,
    "stream": True,
    "stream_options": {"include_usage": True},
    "logprobs": True,
    "top_logprobs": 2,
    "reasoning_effort": "high",
    "parallel_tool_calls": True,
    "response_format": {"type": "json_object"},
    "tools": [
        {"type": "function", "function": {"name": "get", "parameters": SCHEMA, "strict": True}},
        {"type": "function", "function": {"name": "put", "parameters": SCHEMA}},
    ],
    "tool_choice": {"type": "function", "function": {"name": "get"}},
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "name": "ann",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": DATA_URL}},
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get", "arguments": "{}"}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": [{"type": "text", "text": "found"}, {"type": "text", "text": "twice"}],
        },
    ],
}

BODIES = {"anthropic": ANTHROPIC_BODY, "responses": RESPONSES_BODY, "chat": CHAT_BODY}


def _sent(
    client: str, upstream: str, profile: Profile | None, body: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Exchange]:
    exchange = Exchange.from_client(
        copy.deepcopy(body or BODIES[client]),
        client=client,
        upstream=upstream,
        profile=profile,
        reasoning_efforts=(profile.reasoning_efforts or None) if profile else None,
        reasoning_field=profile.reasoning_field if profile else None,
    )
    return exchange.upstream_request(), exchange


def _violations(sent: dict[str, Any], facts: dict[str, Any], client: str) -> list[str]:
    """Where ``sent`` uses what the server (per ``facts``) does not accept."""
    out: list[str] = []
    fields = _value(facts, "request_fields")
    if fields == "sdk":
        fields = _sdk_fields()
    if fields is not None:
        out += [f"field {k}" for k in sent if k not in fields]
    out += [f"rejected {k}" for k in sent if k in (_value(facts, "rejects") or ())]
    for k, message in enumerate(sent["messages"]):
        out += [
            f"messages[{k}].{key}"
            for key in _value(facts, "message_rejects") or ()
            if key in message
        ]
        content = message.get("content")
        if isinstance(content, list):
            if message["role"] == "tool" and _value(facts, "tool_result_parts") is False:
                out.append(f"messages[{k}] tool parts")
            if _value(facts, "image_input") is False:
                out += [
                    f"messages[{k}] image"
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "image_url"
                ]
    efforts = _value(facts, "reasoning_efforts")
    own_word = client == "chat"  # a Chat client's own word goes as it came
    effort = sent.get("reasoning_effort")
    if efforts is not None and effort is not None and not own_word and effort not in efforts:
        out.append(f"reasoning_effort {sent['reasoning_effort']}")
    keys = _value(facts, "max_tokens_keys")
    for key in ("max_tokens", "max_completion_tokens"):
        if keys is not None and key in sent and key not in keys:
            out.append(key)
    choice = sent.get("tool_choice")
    if isinstance(choice, dict):
        if choice.get("type") == "allowed_tools" and _value(facts, "allowed_tools") is False:
            out.append("tool_choice allowed_tools")
        if choice.get("type") == "function" and _value(facts, "named_tool_choice") is False:
            out.append("tool_choice function")
    if "parallel_tool_calls" in sent and _value(facts, "parallel_tool_calls") is False:
        out.append("parallel_tool_calls")
    if _value(facts, "tool_strict") is False:
        out += [
            f"tools[{k}].strict"
            for k, tool in enumerate(sent.get("tools") or ())
            if "strict" in tool.get("function", {})
        ]
    if "stream_options" in sent and _value(facts, "include_usage") is False:
        out.append("stream_options")
    kinds = _value(facts, "response_formats")
    fmt = sent.get("response_format")
    if kinds is not None and fmt is not None and fmt["type"] not in [*kinds, "text"]:
        out.append(f"response_format {fmt['type']}")
    return out


@pytest.mark.parametrize("client", ["anthropic", "responses", "chat"])
@pytest.mark.parametrize("family", CHAT_FAMILIES)
def test_fidelity_29_requests_sent_with_a_chat_profile_fit_its_facts(
    family: str, client: str
) -> None:
    facts = _facts("chat", family)
    sent, _ = _sent(client, "chat", CHAT_PROFILES[family])
    assert _violations(sent, facts, client) == []
    if family == "openai":
        validate_request("chat", sent)  # the SDK's own request model


@pytest.mark.parametrize("client", ["anthropic", "responses", "chat"])
def test_the_same_requests_without_a_profile_break_the_strictest_facts(client: str) -> None:
    """The validator has teeth: without a profile, some family's facts are broken by what
    apibridge sends (so the profiles above are what makes those requests fit)."""
    sent, _ = _sent(client, "chat", None)
    broken = [f for f in CHAT_FAMILIES if _violations(sent, _facts("chat", f), client)]
    assert broken


@pytest.mark.parametrize("client", ["anthropic", "responses", "chat"])
def test_the_generic_profile_changes_nothing(client: str) -> None:
    bare, bare_exchange = _sent(client, "chat", None)
    generic, generic_exchange = _sent(client, "chat", CHAT_PROFILES["generic"])
    assert generic == bare
    assert generic_exchange.losses == bare_exchange.losses


def _loss_fields(exchange: Exchange) -> set[str]:
    return {loss.field for loss in exchange.losses}


def test_vllm_gets_the_allowed_tools_alone_with_the_mode_and_says_so() -> None:
    sent, exchange = _sent("responses", "chat", CHAT_PROFILES["vllm"])
    assert sent["tool_choice"] == "required"
    assert [t["function"]["name"] for t in sent["tools"]] == ["get"]
    assert "tool_choice" in _loss_fields(exchange)
    assert "tools[0].strict" in _loss_fields(exchange)
    assert sent["reasoning_effort"] == "high"  # xhigh, the nearest vLLM word


def test_deepseek_gets_json_object_for_a_schema_and_no_images() -> None:
    sent, exchange = _sent("responses", "chat", CHAT_PROFILES["deepseek"])
    assert sent["response_format"] == {"type": "json_object"}
    user = sent["messages"][1] if sent["messages"][0]["role"] == "system" else sent["messages"][0]
    assert all(p.get("type") != "image_url" for p in user["content"])
    fields = _loss_fields(exchange)
    assert "text.format.schema" in fields  # named in the Responses client's words
    assert any(f.startswith("messages[") for f in fields)


def test_groq_drops_what_it_refuses_and_reports_it() -> None:
    sent, exchange = _sent("chat", "chat", CHAT_PROFILES["groq"])
    assert not {"logprobs", "top_logprobs"} & set(sent)
    assert all("name" not in m for m in sent["messages"])
    assert {"logprobs", "top_logprobs"} <= _loss_fields(exchange)


def test_llamacpp_gets_a_named_choice_as_required_with_that_tool_only() -> None:
    sent, exchange = _sent("chat", "chat", CHAT_PROFILES["llamacpp"])
    assert sent["tool_choice"] == "required"
    assert [t["function"]["name"] for t in sent["tools"]] == ["get"]
    assert "tool_choice" in _loss_fields(exchange)


def test_openai_gets_max_completion_tokens_from_another_format() -> None:
    sent, exchange = _sent("anthropic", "chat", CHAT_PROFILES["openai"])
    assert sent["max_completion_tokens"] == 1000
    assert "max_tokens" not in sent
    assert "max_tokens" not in _loss_fields(exchange)


def test_mistral_gets_no_stream_options_and_only_a_client_of_its_own_is_told() -> None:
    sent, exchange = _sent("anthropic", "chat", CHAT_PROFILES["mistral"])
    assert "stream_options" not in sent
    assert "stream_options" not in _loss_fields(exchange)  # apibridge's own addition
    sent, exchange = _sent("chat", "chat", CHAT_PROFILES["mistral"])
    assert "stream_options" not in sent
    assert "stream_options" in _loss_fields(exchange)


def test_lmstudio_gets_json_object_as_an_open_schema() -> None:
    sent, _ = _sent("chat", "chat", CHAT_PROFILES["lmstudio"])
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == {"type": "object"}


@pytest.mark.parametrize(
    "family", [n for n in CHAT_FAMILIES if CHAT_PROFILES[n].cache_usage is not None]
)
def test_the_cache_usage_field_is_read(family: str) -> None:
    path = CHAT_PROFILES[family].cache_usage
    assert path is not None
    usage: dict[str, Any] = {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105}
    *parents, leaf = path.split(".")
    node = usage
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = 37
    answer = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }
    response = chat.decode_response(answer, Context())
    assert response.usage.cache_read_tokens == 37


# ------------------------------------------------------------------ Anthropic-format servers


def _anthropic_violations(sent: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    out: list[str] = []
    fields = _value(facts, "request_fields")
    if fields is not None:
        out += [f"field {k}" for k in sent if k not in fields]
    out += [f"ignored {k}" for k in sent if k in (_value(facts, "ignores") or ())]
    blocks = _value(facts, "blocks")
    for k, message in enumerate(sent["messages"]):
        content = message.get("content")
        if blocks is not None and isinstance(content, list):
            out += [f"messages[{k}] {b['type']}" for b in content if b["type"] not in blocks]
    choice = sent.get("tool_choice")
    parallel = isinstance(choice, dict) and "disable_parallel_tool_use" in choice
    if _value(facts, "parallel_control") is False and parallel:
        out.append("disable_parallel_tool_use")
    return out


DOCUMENT_BODY: dict[str, Any] = {
    **ANTHROPIC_BODY,
    "service_tier": "auto",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Read:"},
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "x"},
                },
            ],
        }
    ],
}


@pytest.mark.parametrize("client", ["anthropic", "responses", "chat"])
@pytest.mark.parametrize("family", ANTHROPIC_FAMILIES)
def test_fidelity_29_requests_sent_with_an_anthropic_profile_fit_its_facts(
    family: str, client: str
) -> None:
    facts = _facts("anthropic", family)
    body = DOCUMENT_BODY if client == "anthropic" else None
    sent, _ = _sent(client, "anthropic", ANTHROPIC_PROFILES[family], body)
    assert _anthropic_violations(sent, facts) == []


def test_a_document_block_to_deepseek_is_dropped_and_reported() -> None:
    sent, exchange = _sent("anthropic", "anthropic", ANTHROPIC_PROFILES["deepseek"], DOCUMENT_BODY)
    assert [b["type"] for b in sent["messages"][0]["content"]] == ["text"]
    assert {"messages[0].content[1]", "service_tier", "top_k"} <= _loss_fields(exchange)


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    ("host", "fmt", "family"),
    [
        ("api.openai.com", "chat", "openai"),
        ("my-team.openai.azure.com", "chat", "azure"),
        ("openrouter.ai", "chat", "openrouter"),
        ("api.deepseek.com", "chat", "deepseek"),
        ("api.deepseek.com", "anthropic", "deepseek"),
        ("api.groq.com", "chat", "groq"),
        ("api.mistral.ai", "chat", "mistral"),
        ("api.together.xyz", "chat", "together"),
        ("api.moonshot.ai", "anthropic", "kimi"),
        ("api.z.ai", "anthropic", "glm"),
        ("127.0.0.1", "chat", None),
        ("openai.azure.com.evil.example", "chat", None),
        ("api.groq.com", "anthropic", None),
        (None, "chat", None),
    ],
)
def test_known_hosts_name_their_family(host: str | None, fmt: str, family: str | None) -> None:
    assert profile_for_host(host, fmt) == family


@pytest.mark.parametrize("family", [n for n in CHAT_FAMILIES if "owned_by" in _facts("chat", n)])
def test_each_owned_by_fact_names_its_family(family: str) -> None:
    facts = _facts("chat", family)
    owner = facts["owned_by"]
    assert facts["owned_by_source"].strip()
    assert profile_for_owner(["someone-else", owner]) == family
    assert profile_for_owner(["someone-else"]) is None


# ------------------------------------------------------------------ the docs


def test_the_profiles_page_tables_are_generated_from_the_code() -> None:
    docs = Path(__file__).parents[2] / "docs"
    page = (docs / "profiles.md").read_text(encoding="utf-8")
    assert "<!-- table: profiles -->" in page
    assert "<!-- table: anthropic_profiles -->" in page
    spec = importlib.util.spec_from_file_location("docs_hooks", docs / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    chat_table = hooks.TABLES["profiles"]()
    header = chat_table.splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")][1:] == CHAT_FAMILIES
    assert "`reasoning_details`" in chat_table  # OpenRouter's reasoning field, from the table
    anthropic_table = hooks.TABLES["anthropic_profiles"]()
    for family in ANTHROPIC_FAMILIES:
        assert f"| `{family}` |" in anthropic_table


# ------------------------------------------------------------------ generated requests

_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"]


@st.composite
def _responses_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A Responses client's request mixing the features the profiles differ on."""
    tools = [
        {"type": "function", "name": n, "parameters": SCHEMA, "strict": draw(st.booleans())}
        for n in ("get", "put", "rm")[: draw(st.integers(1, 3))]
    ]
    names = [t["name"] for t in tools]
    choice = draw(
        st.sampled_from(
            [
                "auto",
                "required",
                {"type": "function", "name": names[0]},
                {
                    "type": "allowed_tools",
                    "mode": draw(st.sampled_from(["auto", "required"])),
                    "tools": [{"type": "function", "name": n} for n in names[:1]],
                },
            ]
        )
    )
    content: list[dict[str, Any]] = [{"type": "input_text", "text": "hi"}]
    if draw(st.booleans()):
        content.append({"type": "input_image", "image_url": DATA_URL, "detail": "auto"})
    body: dict[str, Any] = {
        "model": "m",
        "input": [{"role": "user", "content": content}],
        "tools": tools,
        "tool_choice": choice,
        "stream": draw(st.booleans()),
        "max_output_tokens": draw(st.integers(1, 10_000)),
    }
    if draw(st.booleans()):
        body["parallel_tool_calls"] = draw(st.booleans())
    if draw(st.booleans()):
        body["reasoning"] = {"effort": draw(st.sampled_from(_EFFORTS[1:]))}
    fmt = draw(st.sampled_from([None, "json_object", "json_schema"]))
    if fmt == "json_object":
        body["text"] = {"format": {"type": "json_object"}}
    elif fmt == "json_schema":
        body["text"] = {"format": {"type": "json_schema", "name": "a", "schema": SCHEMA}}
    return body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_responses_bodies(), family=st.sampled_from(CHAT_FAMILIES))
def test_generated_requests_fit_every_profiles_facts(body: dict[str, Any], family: str) -> None:
    facts = _facts("chat", family)
    sent, exchange = _sent("responses", "chat", CHAT_PROFILES[family], body)
    assert _violations(sent, facts, "responses") == []
    bare, bare_exchange = _sent("responses", "chat", None, body)
    sent, bare = copy.deepcopy(sent), copy.deepcopy(bare)
    for tool in [*sent.get("tools", ()), *bare.get("tools", ())]:
        if tool["function"].get("strict") is False:  # asks for nothing a server could lose
            del tool["function"]["strict"]
    if sent != bare:  # a change the client did not ask for is either equivalent or reported
        changed = {k for k in {*sent, *bare} if sent.get(k) != bare.get(k)}
        silent = {"max_tokens", "max_completion_tokens", "stream_options", "messages"}
        silent |= {"reasoning_effort"}  # the nearest word: reported by the effort rule itself
        if sent.get("response_format", {}).get("json_schema", {}).get("schema") == {
            "type": "object"
        }:
            silent.add("response_format")  # json_object as an open schema: the same request
        assert changed <= silent or len(exchange.losses) > len(bare_exchange.losses), changed


@pytest.mark.parametrize(
    ("client", "target", "family"),
    [
        ("responses", "chat", "vllm"),
        ("anthropic", "chat", "deepseek"),
        ("chat", "chat", "groq"),
        ("responses", "anthropic", "deepseek"),
    ],
)
def test_convert_request_takes_a_profile_as_the_gateway_applies_it(
    client: str, target: str, family: str
) -> None:
    """``apibridge.convert_request(profile=)`` gives what the gateway sends to an upstream
    with ``options.profile`` set, and reports the same losses."""
    tables = {"chat": CHAT_PROFILES, "anthropic": ANTHROPIC_PROFILES}
    sent, exchange = _sent(client, target, tables[target][family])
    losses: list[apibridge.Loss] = []
    body = apibridge.convert_request(
        copy.deepcopy(BODIES[client]), source=client, target=target, profile=family, losses=losses
    )
    assert body == sent
    assert losses == exchange.losses


def test_convert_request_refuses_an_unknown_profile_and_takes_generic() -> None:
    with pytest.raises(ValueError, match="unknown chat profile 'vllmm'"):
        apibridge.convert_request(BODIES["chat"], source="chat", target="chat", profile="vllmm")
    with pytest.raises(ValueError, match="unknown responses profile"):
        apibridge.convert_request(BODIES["chat"], source="chat", target="responses", profile="vllm")
    plain = apibridge.convert_request(
        copy.deepcopy(BODIES["chat"]), source="chat", target="chat", losses=[]
    )
    generic = apibridge.convert_request(
        copy.deepcopy(BODIES["chat"]), source="chat", target="chat", profile="generic", losses=[]
    )
    assert generic == plain


@pytest.mark.parametrize(
    ("client", "body", "field"),
    [
        ("responses", {"reasoning": {"effort": "high"}, "input": "hi"}, "reasoning"),
        (
            "chat",
            {"reasoning_effort": "high", "messages": [{"role": "user", "content": "hi"}]},
            "reasoning_effort",
        ),
    ],
)
def test_an_anthropic_servers_profile_names_what_it_drops_in_the_clients_words(
    client: str, body: dict[str, Any], field: str
) -> None:
    losses: list[apibridge.Loss] = []
    apibridge.convert_request(
        {"model": "m", "max_output_tokens" if client == "responses" else "max_tokens": 40_000}
        | body,
        source=client,
        target="anthropic",
        profile="vllm",
        losses=losses,
    )
    fields = {loss.field for loss in losses}
    assert field in fields
    assert not [f for f in fields if f.startswith(("thinking", "output_config"))], fields
