"""Fidelity class 25: ``tool_choice`` without tools (issue 11, item 3).

A choice among no tools says nothing, and the APIs answer 400 to it: OpenAI Chat ("'tool_choice'
is only allowed when 'tools' are specified", the same for ``parallel_tool_calls``), Anthropic
("``tool_choice`` may only be specified while providing tools"), Responses for a choice that
forces a call ("Tool choice 'required' must be specified with 'tools' parameter"; ``auto``,
``none`` and ``parallel_tool_calls`` it accepts and echoes). When another format's request
reaches an upstream with no tools — it had none, or none survived conversion — the choice is
not sent, and nothing is reported lost. A client's own request to an upstream of its own
format goes as it came."""

from __future__ import annotations

from typing import Any

import pytest

import apibridge
from apibridge.errors import Loss
from oracles import validate_request

FORMATS = ("anthropic", "chat", "responses")

#: per source: (choice forcing a call, choice leaving it to the model), no tools
CHOICES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "anthropic": (
        {"tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
        {"tool_choice": {"type": "auto", "disable_parallel_tool_use": False}},
    ),
    "chat": (
        {"tool_choice": "required", "parallel_tool_calls": False},
        {"tool_choice": "auto", "parallel_tool_calls": True},
    ),
    "responses": (
        {"tool_choice": {"type": "function", "name": "lookup"}, "parallel_tool_calls": False},
        {"tool_choice": "none", "parallel_tool_calls": True},
    ),
}


def _body(source: str, extra: dict[str, Any]) -> dict[str, Any]:
    if source == "anthropic":
        base: dict[str, Any] = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        }
    elif source == "chat":
        base = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}
    else:
        base = {"model": "gpt-4.1", "input": "hi"}
    return {**base, **extra}


def _convert(body: dict[str, Any], source: str, target: str) -> tuple[dict[str, Any], list[str]]:
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source=source, target=target, losses=losses)
    validate_request(target, out)
    return out, [loss.field for loss in losses]


def _choice_words(lost: list[str]) -> list[str]:
    return [f for f in lost if f.startswith(("tool_choice", "parallel_tool_calls"))]


def _said(out: dict[str, Any]) -> dict[str, Any]:
    return {k: out[k] for k in ("tool_choice", "parallel_tool_calls") if k in out}


@pytest.mark.parametrize("forced", [True, False], ids=["forcing", "free"])
@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s in FORMATS for t in ("anthropic", "chat") if s != t],
)
def test_fidelity_25_no_tool_choice_without_tools_to_chat_and_anthropic(
    source: str, target: str, forced: bool
) -> None:
    """Chat and Anthropic upstreams got a ``tool_choice`` (Chat also ``parallel_tool_calls``)
    with no tools and answered 400, or a loss was reported for a choice that chose nothing."""
    body = _body(source, CHOICES[source][0 if forced else 1])
    out, lost = _convert(body, source, target)
    assert _said(out) == {}
    assert _choice_words(lost) == []


@pytest.mark.parametrize("forced", [True, False], ids=["forcing", "free"])
@pytest.mark.parametrize("source", ["anthropic", "chat"])
def test_fidelity_25_responses_gets_no_forcing_choice_without_tools(
    source: str, forced: bool
) -> None:
    """Responses rejects a choice that forces a call with no tools; ``auto``/``none`` and
    ``parallel_tool_calls`` it takes (its own answers echo them with ``tools: []``)."""
    body = _body(source, CHOICES[source][0 if forced else 1])
    out, lost = _convert(body, source, "responses")
    if forced:
        assert "tool_choice" not in out
    else:
        assert out["tool_choice"] == "auto"
    assert isinstance(out["parallel_tool_calls"], bool)
    assert _choice_words(lost) == []


@pytest.mark.parametrize(("source", "target"), [("responses", "chat"), ("anthropic", "chat")])
def test_fidelity_25_tools_that_do_not_survive_take_the_choice_along(
    source: str, target: str
) -> None:
    """The only tool is a server tool Chat has no tool for (Responses ``file_search``, reported
    lost itself) or sends as ``web_search_options`` (Anthropic web search): no Chat tool is
    left, so ``required`` and ``parallel_tool_calls`` are not sent either."""
    if source == "responses":
        extra = {
            "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}],
            "tool_choice": "required",
            "parallel_tool_calls": False,
        }
    else:
        extra = {
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        }
    out, lost = _convert(_body(source, extra), source, target)
    assert "tools" not in out
    assert _said(out) == {}
    assert _choice_words(lost) == []


@pytest.mark.parametrize("source", FORMATS)
def test_fidelity_25_a_clients_own_choice_without_tools_goes_as_it_came(source: str) -> None:
    """To an upstream of its own format the client's request is not second-guessed: the
    API's answer then names the client's own mistake."""
    body = _body(source, CHOICES[source][0])
    out, lost = _convert(body, source, source)
    assert _said(out) == {
        k: v for k, v in body.items() if k in ("tool_choice", "parallel_tool_calls")
    }
    assert lost == []


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_fidelity_25_with_tools_the_choice_still_crosses(source: str, target: str) -> None:
    """The rule only concerns requests without tools: with one, a forced choice crosses."""
    tool = {
        "anthropic": {"name": "lookup", "input_schema": {"type": "object", "properties": {}}},
        "chat": {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
        },
        "responses": {
            "type": "function",
            "name": "lookup",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        },
    }[source]
    body = _body(source, {**CHOICES[source][0], "tools": [tool]})
    out, lost = _convert(body, source, target)
    assert "tool_choice" in out
    assert _choice_words(lost) == []
