"""Anthropic request options ⇄ canonical: tools, tool choice, reasoning, output, metadata.

Theory of operation
-------------------
* **Tools**: a client tool (``input_schema``, ``strict``, ``cache_control``; ``"type":
  "custom"`` spelled out or not) ↔ ``Tool(kind="function")``; web search
  (``web_search_YYYYMMDD``) ↔ ``Tool(kind="server", server_type="web_search")``, built from
  another API's web search with its location and allowed domains; every other typed tool
  (bash, text editor, computer, code execution …) is a server tool kept raw. A Responses
  ``custom`` tool becomes a client tool taking ``{"input": string}``, its grammar written
  into the description (``codecs._custom_tools``).
* **Tool choice**: the ``type`` table both ways; ``disable_parallel_tool_use`` ↔
  ``Request.parallel_tool_calls`` (negated).
* **Reasoning**: ``thinking`` (``enabled`` + ``budget_tokens``, ``adaptive``, ``disabled``)
  and ``output_config.effort`` ↔ :class:`ReasoningConfig`. An effort alone from another API
  becomes a thinking budget (``codecs._reasoning``), kept below ``max_tokens``.
* **Output**: ``output_config.format`` (``json_schema``) ↔ :class:`OutputFormat`.
* **Metadata**: ``metadata.user_id`` ↔ ``Request.user``.

Fields of these objects that do not map stay in ``extras["anthropic"]`` under the object's
own name and are merged back on encoding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from apibridge.codecs._claude_models import ClaudeModel
from apibridge.codecs._context import Context, expect_obj, expect_str, opt_bool, opt_int, opt_str
from apibridge.codecs._custom_tools import describe, input_schema
from apibridge.codecs._reasoning import budget_for_effort, effort_for_budget, nearest_effort
from apibridge.codecs._tool_search import ANTHROPIC_TOOL_SEARCH, is_tool_search
from apibridge.codecs._web_search import flat_location
from apibridge.codecs.anthropic._wire import FORMAT, Own, absent_keys, cache_control, finish, own_of
from apibridge.errors import InvalidPayload
from apibridge.model import OutputFormat, ReasoningConfig, Request, Tool, ToolChoice

__all__ = [
    "EFFORT_ONLY",
    "EFFORT_TO_WIRE",
    "MIN_BUDGET",
    "THINKING_MODES",
    "TOOL_CHOICE_FROM_WIRE",
    "TOOL_CHOICE_TO_WIRE",
    "TYPE_CUSTOM",
    "decode_metadata",
    "decode_reasoning",
    "decode_tool",
    "decode_tool_choice",
    "encode_metadata",
    "encode_reasoning",
    "encode_tool",
    "encode_tool_choice",
]

#: Anthropic ``tool_choice.type`` → canonical ``ToolChoice.mode``.
TOOL_CHOICE_FROM_WIRE: Final[Mapping[str, Literal["auto", "any", "tool", "none"]]] = {
    "auto": "auto",
    "any": "any",
    "tool": "tool",
    "none": "none",
}

#: canonical ``ToolChoice.mode`` → Anthropic ``tool_choice.type``.
TOOL_CHOICE_TO_WIRE: Final[Mapping[str, str]] = {v: k for k, v in TOOL_CHOICE_FROM_WIRE.items()}

#: Anthropic ``thinking.type`` → canonical ``ReasoningConfig.mode`` (and back).
THINKING_MODES: Final[Mapping[str, Literal["enabled", "adaptive", "disabled"]]] = {
    "enabled": "enabled",
    "adaptive": "adaptive",
    "disabled": "disabled",
}

#: canonical effort → ``output_config.effort`` (Anthropic has no ``minimal``).
EFFORT_TO_WIRE: Final[Mapping[str, str]] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}

#: hint: ``output_config.effort`` came without a ``thinking`` setting.
EFFORT_ONLY: Final = "_effort_only"
#: hint: a client tool had ``"type": "custom"`` spelled out.
TYPE_CUSTOM: Final = "_type_custom"

#: The smallest thinking budget Anthropic accepts.
MIN_BUDGET: Final = 1024

_TOOL_KEYS: Final = frozenset(
    {"type", "name", "description", "input_schema", "strict", "cache_control", "defer_loading"}
)
_WEB_SEARCH_TYPE: Final = re.compile(r"web_search_\d+")
_DATED_TYPE: Final = re.compile(r"(?P<name>.+?)_\d{8}")


def decode_tool(value: Any, where: str) -> Tool:
    """One ``tools`` entry: a client tool, web search, or another typed tool kept raw."""
    tool = expect_obj(value, where)
    kind = tool.get("type")
    if kind is not None and kind != "custom":
        kind = expect_str(kind, f"{where}.type")
        dated = _DATED_TYPE.fullmatch(kind)
        name = tool.get("name")
        return Tool(
            name=name if isinstance(name, str) else kind,
            kind="server",
            server_type="web_search"
            if _WEB_SEARCH_TYPE.fullmatch(kind)
            else (dated["name"] if dated else kind),
            raw=dict(tool),
            source_format=FORMAT,
            cache_control=cache_control(tool, where),
        )
    own = Own(tool, _TOOL_KEYS)
    own.empties(tool, ("description", "strict", "cache_control", "defer_loading"))
    own.absent(tool, ("input_schema",))
    if kind == "custom":
        own.set(TYPE_CUSTOM)
    schema = tool.get("input_schema")
    strict = opt_bool(tool.get("strict"), f"{where}.strict")
    return Tool(
        name=expect_str(tool.get("name"), f"{where}.name"),
        description=opt_str(tool.get("description"), f"{where}.description"),
        parameters=None if schema is None else expect_obj(schema, f"{where}.input_schema"),
        strict=strict,
        defer_loading=opt_bool(tool.get("defer_loading"), f"{where}.defer_loading"),
        cache_control=cache_control(tool, where),
        extras=own.extras(),
    )


def decode_tool_choice(value: Any) -> tuple[ToolChoice | None, bool | None]:
    """``tool_choice`` as ``(ToolChoice, parallel_tool_calls)``."""
    if value is None:
        return None, None
    choice = expect_obj(value, "tool_choice")
    mode = choice.get("type")
    if not isinstance(mode, str) or mode not in TOOL_CHOICE_FROM_WIRE:
        raise InvalidPayload(f"tool_choice.type: expected auto, any, tool or none, got {mode!r}")
    own = Own(choice, frozenset({"type", "name", "disable_parallel_tool_use"}))
    own.empties(choice, ("disable_parallel_tool_use",))
    disable = opt_bool(
        choice.get("disable_parallel_tool_use"), "tool_choice.disable_parallel_tool_use"
    )
    name = choice.get("name")
    if mode == "tool":
        name = expect_str(name, "tool_choice.name")
    elif name is not None:
        own.set("name", name)
        name = None
    mapped = ToolChoice(mode=TOOL_CHOICE_FROM_WIRE[mode], name=name, extras=own.extras())
    return mapped, None if disable is None else not disable


def decode_reasoning(
    body: Mapping[str, Any], own: Own
) -> tuple[ReasoningConfig | None, OutputFormat | None]:
    """``thinking`` and ``output_config`` as reasoning and output settings (rest kept)."""
    effort: str | None = None
    output_format: OutputFormat | None = None
    config = body.get("output_config")
    if config is not None:
        rest = dict(expect_obj(config, "output_config"))
        if isinstance(rest.get("effort"), str):
            effort = rest.pop("effort")
        fmt = rest.get("format")
        if (
            isinstance(fmt, Mapping)
            and set(fmt) == {"type", "schema"}
            and fmt["type"] == "json_schema"
            and isinstance(fmt["schema"], Mapping)
        ):
            output_format = OutputFormat(kind="json_schema", schema=fmt["schema"])
            del rest["format"]
        if rest or (effort is None and output_format is None):
            own.set("output_config", rest)
    reasoning = None
    thinking = body.get("thinking")
    if thinking is not None:
        thinking = expect_obj(thinking, "thinking")
        mode = THINKING_MODES.get(str(thinking.get("type")))
        if mode is None:
            own.set("thinking", dict(thinking))  # a type this version does not know
        else:
            rest = {k: v for k, v in thinking.items() if k not in ("type", "budget_tokens")}
            if rest:
                own.set("thinking", rest)
            budget = opt_int(thinking.get("budget_tokens"), "thinking.budget_tokens")
            reasoning = ReasoningConfig(mode=mode, budget_tokens=budget, effort=effort)
    if reasoning is None and effort is not None:
        own.set(EFFORT_ONLY)
        reasoning = ReasoningConfig(mode="enabled", effort=effort)
    return reasoning, output_format


def decode_metadata(value: Any, own: Own) -> str | None:
    """``metadata.user_id`` (the request's ``user``); other metadata fields are kept."""
    if value is None:
        return None
    metadata = expect_obj(value, "metadata")
    user = metadata.get("user_id")
    rest = {k: v for k, v in metadata.items() if k != "user_id" or not isinstance(v, str)}
    if rest or not isinstance(user, str):
        own.set("metadata", rest)
    return user if isinstance(user, str) else None


def encode_tool(tool: Tool, where: str, ctx: Context) -> dict[str, Any] | None:
    """One Anthropic tool for ``tool``, or ``None`` (with a loss) when it has none."""
    if tool.kind == "server":
        if tool.source_format == FORMAT and tool.raw:
            return dict(tool.raw)
        if tool.server_type == "web_search":
            return _web_search_tool(tool, where, ctx)
        if is_tool_search(tool.server_type):  # the hosted Responses tool search
            for key in set(tool.raw or {}) - {"type", "execution"}:
                ctx.lose(f"{where}.{key}", "Anthropic tool search has no such setting")
            return dict(ANTHROPIC_TOOL_SEARCH)
        ctx.lose(where, f"the {tool.server_type or tool.name} tool has no Anthropic equivalent")
        return None
    own = own_of(tool.extras)
    out: dict[str, Any] = {"name": tool.name}
    if own.get(TYPE_CUSTOM):
        out["type"] = "custom"
    description = tool.description
    if tool.kind == "custom":
        # Free-form input travels as one string field (its grammar described); answers
        # unwrap it again.
        description = describe(tool, ctx, where, "Anthropic")
    if description is not None:
        out["description"] = description
    if tool.kind == "custom":
        out["input_schema"] = input_schema()
    elif tool.parameters is not None:
        schema = tool.parameters  # carried as it is: a schema is never walked or copied
        out["input_schema"] = schema if type(schema) is dict else dict(schema)
    elif "input_schema" not in absent_keys(tool.extras):
        out["input_schema"] = {"type": "object", "properties": {}}
    if tool.strict is not None:
        out["strict"] = tool.strict
    if tool.defer_loading is not None:
        out["defer_loading"] = tool.defer_loading
    if tool.cache_control is not None:
        out["cache_control"] = dict(tool.cache_control)
    return finish(out, tool.extras, ctx, where)


def _web_search_tool(tool: Tool, where: str, ctx: Context) -> dict[str, Any]:
    """Another API's web search tool as Anthropic's: location and allowed domains carry."""
    out: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search"}
    raw = tool.raw or {}
    for key, value in raw.items():
        if key == "user_location" and isinstance(value, Mapping):
            out["user_location"] = flat_location(value)  # Chat nests the place: read both
        elif key == "filters" and isinstance(value, Mapping):
            domains = value.get("allowed_domains")
            if isinstance(domains, list):
                out["allowed_domains"] = domains
            for other in set(value) - {"allowed_domains"}:
                ctx.lose(f"{where}.filters.{other}", "Anthropic web search has no such filter")
        elif key not in ("type", "name"):
            ctx.lose(f"{where}.{key}", "Anthropic web search has no such setting")
    if tool.cache_control is not None:
        out["cache_control"] = dict(tool.cache_control)
    return out


def encode_tool_choice(
    request: Request, ctx: Context, *, has_tools: bool, forced: bool = True
) -> dict[str, Any] | None:
    """``tool_choice`` for the request, or ``None`` when there is nothing to say.

    ``forced`` false: the model answers 400 to a forced choice (``any`` or a named tool), which
    is then sent as ``auto`` and reported."""
    choice, parallel = request.tool_choice, request.parallel_tool_calls
    if choice is None and parallel is None:
        return None
    if not has_tools:  # the API answers 400 to a choice without tools; nothing is lost
        return None
    mode = choice.mode if choice is not None else "auto"
    if not forced and mode in ("any", "tool"):
        ctx.lose("tool_choice", f"{request.model} cannot be forced to call a tool", "sent as auto")
        mode = "auto"
    out: dict[str, Any] = {"type": TOOL_CHOICE_TO_WIRE[mode]}
    if mode == "tool":
        if choice is not None and choice.name:
            out["name"] = choice.name
        else:
            ctx.lose("tool_choice.name", "a forced tool choice without a name", "sent as any")
            out["type"] = "any"
    if choice is not None and choice.allowed is not None:
        ctx.lose("tool_choice.allowed", "Anthropic cannot restrict the choice to some tools")
    if parallel is not None:
        if mode == "none":
            ctx.lose("parallel_tool_calls", "no tool calls are made with tool_choice none")
        else:
            out["disable_parallel_tool_use"] = not parallel
    return finish(out, choice.extras if choice else {}, ctx, "tool_choice")


def encode_reasoning(
    request: Request,
    own: Mapping[str, Any],
    max_tokens: int,
    out: dict[str, Any],
    ctx: Context,
    model: ClaudeModel | None = None,
    *,
    native: bool = True,
) -> None:
    """Write ``thinking`` and ``output_config`` into ``out``.

    ``model`` says what the upstream model takes (:mod:`apibridge.codecs._claude_models`). A
    request from another API (``native`` false) is fitted to it: an effort becomes adaptive
    thinking with ``output_config.effort`` where the model has both, a budget plus the effort
    where it has effort but no adaptive thinking, a budget alone elsewhere; a budget for a
    model with adaptive thinking only becomes adaptive thinking with the budget's effort band;
    reasoning for a model that does not think is dropped. Each change is reported.
    """
    rest = own.get("output_config")
    config: dict[str, Any] = dict(rest) if isinstance(rest, Mapping) else {}
    reasoning = request.reasoning
    if reasoning is not None:
        effort = reasoning.effort
        thinking: dict[str, Any] | None = None
        fit = model is not None and not native
        if own.get(EFFORT_ONLY):
            pass
        elif fit and model is not None and reasoning.mode != "disabled" and not model.thinking:
            ctx.lose("reasoning", f"{request.model} does not think")
            effort = None
        elif fit and model is not None and reasoning.mode != "disabled":
            thinking, effort = _fitted_thinking(reasoning, model, max_tokens, ctx)
        elif fit and model is not None and model.thinking and model.thinking_off != "disabled":
            thinking, effort = _thinking_off(request.model, model, ctx)
        elif reasoning.mode == "enabled":
            thinking, effort = _thinking_budget(reasoning, max_tokens, ctx, fit=not native)
        else:
            thinking = {"type": reasoning.mode}
        if thinking is not None:
            extra = own.get("thinking")
            out["thinking"] = {**(extra if isinstance(extra, Mapping) else {}), **thinking}
        effort = _wire_effort(effort, ctx)
        if effort is not None and fit and model is not None and not model.efforts:
            ctx.lose("reasoning.effort", f"{request.model} has no effort setting")
            effort = None
        elif effort is not None and fit and model is not None:
            word = nearest_effort(effort, model.efforts)
            if word != effort:
                ctx.lose(
                    "reasoning.effort",
                    f"{request.model} has no effort {effort!r}",
                    f"sent as {word}",
                )
            effort = word
        if effort is not None:
            config["effort"] = effort
        if reasoning.summary is not None:
            ctx.lose("reasoning.summary", "Anthropic decides how thinking is summarised")
    fmt = request.output_format
    if fmt is not None and fmt.kind == "json_schema" and fmt.schema is not None:
        config["format"] = {"type": "json_schema", "schema": dict(fmt.schema)}
        if fmt.name is not None:
            ctx.lose("output_format.name", "Anthropic output formats have no name")
        if fmt.description is not None:
            ctx.lose("output_format.description", "Anthropic output formats have no description")
        if fmt.strict is False:
            ctx.lose("output_format.strict", "Anthropic always follows the schema strictly")
    elif fmt is not None and fmt.kind != "text":
        ctx.lose("output_format", "Anthropic structured output needs a JSON schema")
    if config or "output_config" in own:
        out["output_config"] = config


def _fitted_thinking(
    reasoning: ReasoningConfig, model: ClaudeModel, max_tokens: int, ctx: Context
) -> tuple[dict[str, Any] | None, str | None]:
    """``thinking`` and the effort to send, for another API's reasoning on ``model``."""
    adaptive = "adaptive" in model.thinking
    if reasoning.mode == "adaptive" and not adaptive:
        ctx.lose("reasoning", "the model has no adaptive thinking", "sent as a thinking budget")
        return _thinking_budget(reasoning, max_tokens, ctx)
    if reasoning.budget_tokens is not None:
        if "enabled" in model.thinking:
            return _thinking_budget(reasoning, max_tokens, ctx)
        effort = reasoning.effort
        if effort is None and model.efforts:
            effort = effort_for_budget(reasoning.budget_tokens, allowed=model.efforts)
        ctx.lose(
            "reasoning.budget_tokens",
            "the model takes no thinking budget",
            f"sent as adaptive thinking with effort {effort}" if effort else "sent as adaptive",
        )
        return {"type": "adaptive"}, effort
    if adaptive and (model.efforts or reasoning.effort is None):
        return {"type": "adaptive"}, reasoning.effort if model.efforts else None
    if not adaptive and model.efforts:
        # effort without adaptive thinking (Opus 4.5): a budget from the effort, and the effort
        thinking, _ = _thinking_budget(reasoning, max_tokens, ctx)
        return thinking, reasoning.effort
    if adaptive:  # adaptive thinking without effort words: the effort cannot be said
        ctx.lose("reasoning.effort", "the model has no effort setting", "sent as adaptive")
        return {"type": "adaptive"}, None
    return _thinking_budget(reasoning, max_tokens, ctx)


def _thinking_off(
    name: str, model: ClaudeModel, ctx: Context
) -> tuple[dict[str, Any] | None, str | None]:
    """``thinking`` and effort for reasoning switched off, on a model that cannot switch it
    off: its lowest setting (Sonnet 5.5's ``between_tools``), or the lowest effort."""
    if model.thinking_off == "between_tools":
        ctx.lose(
            "reasoning",
            f"{name} cannot turn thinking off",
            "sent as thinking between tool calls only (between_tools)",
        )
        return {"type": "between_tools"}, None
    low = model.efforts[0] if model.efforts else None
    ctx.lose(
        "reasoning",
        f"{name} always thinks",
        f"sent at the lowest effort, {low}" if low else "sent without a thinking setting",
    )
    return None, low


def _wire_effort(effort: str | None, ctx: Context) -> str | None:
    if effort is None:
        return None
    wire_effort = EFFORT_TO_WIRE.get(effort)
    if wire_effort is None:
        ctx.lose("reasoning.effort", f"Anthropic has no effort {effort!r}")
    elif wire_effort != effort:
        ctx.lose(
            "reasoning.effort", f"Anthropic has no effort {effort!r}", f"sent as {wire_effort}"
        )
    return wire_effort


def _thinking_budget(
    reasoning: ReasoningConfig, max_tokens: int, ctx: Context, *, fit: bool = True
) -> tuple[dict[str, Any] | None, str | None]:
    """``thinking`` for an ``enabled`` setting, and the effort still to send. Another API's
    budget (``fit``; Gemini's ``thinkingBudget`` may exceed its ``maxOutputTokens``) is kept
    below ``max_tokens`` as Anthropic requires; a Claude client's own goes as it came."""
    given = reasoning.budget_tokens
    if given is not None and (not fit or given < max_tokens):
        return {"type": "enabled", "budget_tokens": given}, reasoning.effort
    # Only an effort: the budget table says it (and older models reject the effort field).
    budget = budget_for_effort(reasoning.effort or "medium") if given is None else given
    field = "reasoning.effort" if given is None else "reasoning.budget_tokens"
    if budget >= max_tokens:
        if max_tokens <= MIN_BUDGET:
            ctx.lose("reasoning", f"max_tokens {max_tokens} leaves no room for thinking")
            return None, None
        ctx.lose(field, "the thinking budget must stay below max_tokens", "clamped")
        budget = max_tokens - 1
    return {"type": "enabled", "budget_tokens": budget}, reasoning.effort if given else None


def encode_metadata(
    request: Request, own: Mapping[str, Any], ctx: Context
) -> dict[str, Any] | None:
    """``metadata`` with ``user_id`` from ``Request.user`` (and the fields kept)."""
    rest = own.get("metadata")
    metadata: dict[str, Any] = dict(rest) if isinstance(rest, Mapping) else {}
    if request.user is not None:
        metadata["user_id"] = request.user
    return metadata if metadata or "metadata" in own else None
