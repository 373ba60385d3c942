"""The Claude model table (issue 15, items 1 to 3): output cap, sampling settings, effort.

Requests from OpenAI clients (Codex on Responses, Chat clients) are fitted to the Claude model
they reach; an Anthropic client's own request goes as it came. Every output is checked
against the ``anthropic`` SDK's request types.
"""

from __future__ import annotations

import asyncio
import fnmatch
import typing
from typing import Any

import pytest
from anthropic.types import model_param

import apibridge
from apibridge import _json
from apibridge._gateway._handler import Handler, HttpRequest
from apibridge.codecs import anthropic as codec
from apibridge.codecs._claude_models import (
    CLAUDE_MODELS,
    UNKNOWN_CLAUDE,
    UNKNOWN_MODEL,
    claude_model,
    overrides_from_options,
)
from apibridge.codecs._context import Context
from apibridge.config import ConfigError, GatewayConfig
from apibridge.errors import Loss, UnsupportedFeature
from apibridge.model import ReasoningConfig, Request
from oracles import validate_request
from samples import RecordingTransport

JSON = {"content-type": "application/json"}

USER = [{"role": "user", "content": "hi"}]


def to_claude(body: dict[str, Any], source: str = "responses") -> tuple[dict[str, Any], list[Loss]]:
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source=source, target="anthropic", losses=losses)
    validate_request("anthropic", out)
    return out, losses


def codex(model: str, **extra: Any) -> dict[str, Any]:
    """A request as Codex sends it: Responses, no ``max_output_tokens``."""
    return {"model": model, "input": "hi", "stream": True, **extra}


def fields(losses: list[Loss]) -> dict[str, str]:
    return {loss.field: loss.action for loss in losses}


# ------------------------------------------------------------------ 1. no output cap


@pytest.mark.parametrize(
    ("model", "cap"),
    [
        ("claude-opus-4-6", 128_000),
        ("claude-opus-4-7", 128_000),
        ("claude-opus-5-5", 128_000),
        ("claude-sonnet-4-5-20250929", 64_000),
        ("claude-haiku-4-5", 64_000),
        ("claude-opus-4-1-20250805", 32_000),
        ("claude-3-7-sonnet-20250219", 64_000),
    ],
)
def test_fidelity_16_codex_without_max_output_gets_the_models_max_output_on_claude(
    model: str, cap: int
) -> None:
    out, losses = to_claude(codex(model, reasoning={"effort": "high"}))
    assert out["max_tokens"] == cap
    # named as the Codex client spells it
    assert fields(losses)["max_output_tokens"] == f"defaulted to the model's maximum output, {cap}"
    budget = out.get("thinking", {}).get("budget_tokens")
    assert budget is None or budget < cap
    assert budget != 4095  # the old 4096 cap cut the thinking budget to 4095


def test_a_budget_model_gets_the_full_effort_budget_once_the_cap_is_the_models() -> None:
    out, losses = to_claude(codex("claude-sonnet-4-5", reasoning={"effort": "high"}))
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert "reasoning.effort" not in fields(losses)


def test_a_clients_own_max_output_is_kept() -> None:
    out, _ = to_claude(codex("claude-opus-4-7", max_output_tokens=2000))
    assert out["max_tokens"] == 2000


def test_unknown_names_get_a_safe_default() -> None:
    assert claude_model("claude-opus-9") is UNKNOWN_CLAUDE
    assert claude_model("glm-4.6") is UNKNOWN_MODEL
    out, _ = to_claude(codex("glm-4.6", temperature=0.2))
    assert out["max_tokens"] == 4096  # a third-party server's model: what was always sent
    assert out["temperature"] == 0.2


def test_every_model_in_the_sdk_literal_has_an_entry() -> None:
    names = typing.get_args(typing.get_args(model_param.ModelParam)[0])
    assert names
    for name in names:
        assert any(fnmatch.fnmatchcase(name, pattern) for pattern, _ in CLAUDE_MODELS), name


# ------------------------------------------------------------------ 2. sampling settings


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-opus-5-5", "claude-sonnet-5"])
def test_fidelity_16_sampling_params_dropped_and_reported_for_models_that_reject_them(
    model: str,
) -> None:
    body = {"model": model, "messages": USER, "temperature": 0.3, "top_p": 0.9}
    out, losses = to_claude(body, source="chat")
    assert "temperature" not in out
    assert "top_p" not in out
    lost = fields(losses)
    assert lost["temperature"] == "dropped"
    assert lost["top_p"] == "dropped"


@pytest.mark.parametrize("param", ["temperature", "top_p"])
def test_sampling_params_kept_for_models_that_accept_them(param: str) -> None:
    body = {"model": "claude-sonnet-4-5", "messages": USER, param: 0.3}
    out, losses = to_claude(body, source="chat")
    assert out[param] == 0.3
    assert param not in fields(losses)


def test_temperature_and_top_p_together_keep_the_temperature() -> None:
    """Sonnet 4.5, Haiku 4.5 and Opus 4.1 on answer 400 "`temperature` and `top_p` cannot
    both be specified for this model" (open-webui#17922, BerriAI/litellm#15097); Gemini CLI
    sends both (temperature 1, topP 0.95) on every request."""
    body = {"model": "claude-sonnet-4-5", "messages": USER, "temperature": 0.3, "top_p": 0.9}
    out, losses = to_claude(body, source="chat")
    assert out["temperature"] == 0.3
    assert "top_p" not in out
    assert fields(losses)["top_p"] == "dropped"


def test_sampling_params_of_an_anthropic_client_go_as_sent() -> None:
    body = {"model": "claude-opus-4-7", "max_tokens": 100, "messages": USER, "temperature": 0.3}
    out = apibridge.convert_request(body, source="anthropic", target="anthropic")
    assert out["temperature"] == 0.3


def test_dropping_sampling_params_is_refused_in_strict_mode() -> None:
    body = {"model": "claude-opus-4-7", "max_tokens": 10, "messages": USER, "temperature": 0.3}
    with pytest.raises(UnsupportedFeature, match="temperature"):
        apibridge.convert_request(body, source="chat", target="anthropic", strict=True)


# ------------------------------------------------------------------ 3. effort


@pytest.mark.parametrize(
    ("model", "effort", "sent"),
    [
        ("claude-opus-4-7", "xhigh", "xhigh"),
        ("claude-opus-5-5", "low", "low"),
        ("claude-opus-4-6", "high", "high"),
        ("claude-opus-4-6", "xhigh", "high"),  # 4.6 has no xhigh: the nearer-below word
        ("claude-opus-4-7", "minimal", "low"),  # Anthropic has no minimal
    ],
)
def test_fidelity_16_effort_maps_to_output_config_effort_where_supported(
    model: str, effort: str, sent: str
) -> None:
    out, losses = to_claude(codex(model, reasoning={"effort": effort}))
    assert out["thinking"] == {"type": "adaptive"}
    assert out["output_config"] == {"effort": sent}
    if sent != effort:
        assert fields(losses)["reasoning.effort"] == f"sent as {sent}"


def test_chat_reasoning_effort_maps_to_output_config_effort() -> None:
    body = {"model": "claude-opus-4-7", "messages": USER, "reasoning_effort": "medium"}
    out, _ = to_claude(body, source="chat")
    assert out["thinking"] == {"type": "adaptive"}
    assert out["output_config"] == {"effort": "medium"}


def test_effort_without_adaptive_thinking_sends_a_budget_and_the_effort() -> None:
    out, _ = to_claude(codex("claude-opus-4-5", reasoning={"effort": "medium"}))
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert out["output_config"] == {"effort": "medium"}


def test_effort_on_a_model_without_effort_is_a_budget_only() -> None:
    out, _ = to_claude(codex("claude-sonnet-4-5", reasoning={"effort": "low"}))
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "output_config" not in out


def test_effort_on_a_model_that_does_not_think_is_reported() -> None:
    out, losses = to_claude(codex("claude-3-5-haiku-20241022", reasoning={"effort": "low"}))
    assert "thinking" not in out
    assert "output_config" not in out
    assert "reasoning" in fields(losses)


def test_a_budget_for_an_adaptive_only_model_becomes_its_effort_band() -> None:
    body = {
        "model": "claude-opus-4-7",
        "max_tokens": 40_000,
        "messages": USER,
        "thinking": {"type": "enabled", "budget_tokens": 30_000},
    }
    out = apibridge.convert_request(body, source="anthropic", target="anthropic")
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 30_000}  # native: as sent
    # the same budget from another format (backboard, or a policy that set one) is fitted
    ctx = Context()
    request = Request(
        model="claude-opus-4-7",
        messages=(),
        max_tokens=40_000,
        reasoning=ReasoningConfig(mode="enabled", budget_tokens=30_000),
    )
    out = codec.encode_request(request, ctx)
    assert out["thinking"] == {"type": "adaptive"}
    assert out["output_config"] == {"effort": "xhigh"}
    assert {loss.field for loss in ctx.losses} == {"reasoning.budget_tokens"}


@pytest.mark.parametrize("word", ["xhigh", "max"])
def test_fidelity_16_xhigh_reaches_openai_unchanged(word: str) -> None:
    body = {
        "model": "gpt-5.5",
        "max_tokens": 1000,
        "messages": USER,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": word},
    }
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source="anthropic", target="responses", losses=losses)
    validate_request("responses", out)
    assert out["reasoning"]["effort"] == word
    assert "reasoning.effort" not in fields(losses)
    back = apibridge.convert_request(
        {"model": "gpt-5.5", "input": "hi", "reasoning": {"effort": word}},
        source="responses",
        target="responses",
    )
    assert back["reasoning"] == {"effort": word}


# ------------------------------------------------- thinking that cannot be off, forced tools


def _beta_thinking(out: dict[str, Any]) -> None:
    """``between_tools`` is typed only in the SDK's beta params (no beta header needed)."""
    import pydantic
    from anthropic.types.beta import BetaThinkingConfigParam

    pydantic.TypeAdapter(BetaThinkingConfigParam).validate_python(out["thinking"])


@pytest.mark.parametrize(
    "model",
    [
        "claude-fable-5",
        "claude-fable-5-1",
        "claude-fable-5-2",
        "claude-mythos-5-1",
        "claude-mythos-preview",
        "claude-opus-5-5",
    ],
)
@pytest.mark.parametrize(
    ("source", "off"),
    [("chat", {"reasoning_effort": "none"}), ("responses", {"reasoning": {"effort": "none"}})],
)
def test_reasoning_off_on_an_always_thinking_model_is_its_lowest_effort(
    model: str, source: str, off: dict[str, Any]
) -> None:
    body = {"model": model, **off}
    body.update({"messages": USER} if source == "chat" else {"input": "hi"})
    out, losses = to_claude(body, source=source)
    assert "thinking" not in out  # ``disabled`` is a 400 on these models
    assert out["output_config"]["effort"] == "low"
    word = "reasoning_effort" if source == "chat" else "reasoning"  # the client's field
    (loss,) = [x for x in losses if x.field == word]
    assert loss.reason == f"{model} always thinks"
    assert loss.action == "sent at the lowest effort, low"


def test_reasoning_off_on_sonnet_5_5_is_thinking_between_tools_only() -> None:
    body = {"model": "claude-sonnet-5-5", "messages": USER, "reasoning_effort": "none"}
    out, losses = to_claude(body, source="chat")
    assert out["thinking"] == {"type": "between_tools"}
    assert "effort" not in out.get("output_config", {})
    _beta_thinking(out)
    assert (
        fields(losses)["reasoning_effort"]
        == "sent as thinking between tool calls only (between_tools)"
    )


@pytest.mark.parametrize("model", ["claude-opus-5", "claude-sonnet-5", "claude-haiku-5-5"])
def test_reasoning_off_stays_disabled_where_the_model_takes_it(model: str) -> None:
    body = {"model": model, "messages": USER, "reasoning_effort": "none"}
    out, losses = to_claude(body, source="chat")
    assert out["thinking"] == {"type": "disabled"}
    assert "reasoning" not in fields(losses)


def test_an_anthropic_clients_own_disabled_thinking_goes_as_sent() -> None:
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 100,
        "messages": USER,
        "thinking": {"type": "disabled"},
    }
    out = apibridge.convert_request(body, source="anthropic", target="anthropic")
    assert out["thinking"] == {"type": "disabled"}


_TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "f"}}])
@pytest.mark.parametrize("model", ["claude-fable-5-1", "claude-opus-5-5", "claude-sonnet-5-5"])
def test_a_forced_tool_choice_is_auto_for_models_that_reject_it(model: str, choice: Any) -> None:
    body = {"model": model, "messages": USER, "tools": _TOOLS, "tool_choice": choice}
    out, losses = to_claude(body, source="chat")
    assert out["tool_choice"] == {"type": "auto"}
    (loss,) = [x for x in losses if x.field == "tool_choice"]
    assert loss.reason == f"{model} cannot be forced to call a tool"
    assert loss.action == "sent as auto"


@pytest.mark.parametrize("model", ["claude-fable-5", "claude-opus-5", "claude-sonnet-4-6"])
def test_a_forced_tool_choice_is_kept_where_the_model_takes_it(model: str) -> None:
    body = {"model": model, "messages": USER, "tools": _TOOLS, "tool_choice": "required"}
    out, losses = to_claude(body, source="chat")
    assert out["tool_choice"] == {"type": "any"}
    assert "tool_choice" not in fields(losses)


def test_forced_tool_choice_override_and_thinking_off_override() -> None:
    overrides = overrides_from_options(
        {"claude-opus-5-5*": {"forced_tool_choice": True, "thinking_off": "disabled"}}
    )
    model = claude_model("claude-opus-5-5", overrides)
    assert model.forced_tools is True
    assert model.thinking_off == "disabled"
    assert claude_model("claude-opus-5-5").forced_tools is False


# ------------------------------------------------------------------ the per-upstream override


def test_override_replaces_the_fields_it_names() -> None:
    overrides = overrides_from_options(
        {"claude-opus-4-7*": {"max_output_tokens": 32_000, "sampling": ["temperature"]}}
    )
    model = claude_model("claude-opus-4-7", overrides)
    assert model.max_output == 32_000
    assert model.sampling == ("temperature",)
    assert model.efforts == claude_model("claude-opus-4-7").efforts


@pytest.mark.parametrize(
    "table",
    [
        {"claude-*": {"max_output_tokens": 0}},
        {"claude-*": {"sampling": ["temp"]}},
        {"claude-*": {"efforts": ["huge"]}},
        {"claude-*": {"colour": "red"}},
        {"claude-*": {"thinking_off": "off"}},
        {"claude-*": {"forced_tool_choice": "no"}},
        {"claude-*": 3},
        ["claude-*"],
    ],
)
def test_a_bad_override_is_refused(table: Any) -> None:
    with pytest.raises(ValueError, match="claude_models"):
        overrides_from_options(table)


def test_gateway_upstream_override_reaches_the_anthropic_encoder() -> None:
    options = {
        "claude_models": {
            "my-claude*": {"max_output_tokens": 20_000, "sampling": [], "efforts": ["high"]}
        }
    }
    config = GatewayConfig.single(
        "anthropic=http://anthropic.test", api_key="sk-ant-test", options=options
    )
    recorder = RecordingTransport()
    handler = Handler(config, transports={"default": recorder})
    body = {"model": "my-claude-1", "input": "hi", "temperature": 0.5}
    request = HttpRequest(method="POST", path="/v1/responses", headers=JSON, body=_json.dumps(body))
    response = asyncio.run(handler.handle(request))
    assert response.status == 200
    (exchange,) = recorder.exchanges
    sent = exchange.upstream_request()
    assert sent["max_tokens"] == 20_000
    assert "temperature" not in sent


def test_a_bad_gateway_override_fails_at_start_up() -> None:
    options = {"claude_models": {"claude-*": {"max_output_tokens": "lots"}}}
    config = GatewayConfig.single(
        "anthropic=http://anthropic.test", api_key="sk-ant-test", options=options
    )
    with pytest.raises(ConfigError, match=r"upstreams\.default\.options\.claude_models"):
        Handler(config, transports={"default": RecordingTransport()})
