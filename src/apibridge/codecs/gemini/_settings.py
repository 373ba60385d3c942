"""Gemini request settings ⇄ canonical: ``tools``, ``toolConfig`` and ``generationConfig``
(sampling, limits, structured output, ``thinkingConfig``), for ``_request``.

Theory of operation
-------------------
*Tools.* Each ``functionDeclarations`` entry is a function :class:`~apibridge.model.Tool`
(JSON Schema from ``parametersJsonSchema``, or from the OpenAPI ``parameters`` with its
upper-case types lower-cased, :func:`json_schema`); every other key of a tool object
(``googleSearch``, ``codeExecution``, ``urlContext`` …) is a server tool of origin ``gemini``
(``server_type`` its snake_case name). Each tool remembers its tool object (hint ``_group``)
so a Gemini trip groups them as they came; another format's functions go in one object, as
``parametersJsonSchema`` (a Gemini client's OpenAPI schema goes back as it came while it still
says the same), its free-form tools as functions taking ``{"input": string}``.

*Tool choice.* ``functionCallingConfig``: ``AUTO`` ⇄ ``auto``, ``ANY`` ⇄ ``any`` (one allowed
name ⇄ ``tool``), ``NONE`` ⇄ ``none``; ``VALIDATED`` with allowed names ⇄ ``auto`` restricted to
them, without ⇄ ``auto`` with the mode kept in the choice's extras (lost elsewhere).

*Generation.* ``temperature``, ``topP``, ``topK``, ``maxOutputTokens``, ``stopSequences``,
``candidateCount``, ``responseLogprobs`` / ``logprobs``; ``responseMimeType`` with
``responseJsonSchema`` / ``responseSchema`` ⇄ :class:`~apibridge.model.OutputFormat`
(another media type is carried as it came). ``thinkingConfig``: ``thinkingBudget`` 0 is
disabled, -1 adaptive, N a budget; ``thinkingLevel`` an effort; ``includeThoughts`` the
summary ``auto``. For another format's request, an effort becomes ``thinkingLevel`` on
``gemini-3`` models and a budget elsewhere (``codecs._reasoning``, reported); models that do
not think (1.x, 2.0, Gemma) get no ``thinkingConfig`` (reported); ``includeThoughts`` is on
whenever reasoning is, since clients of other formats expect to see it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    opt_bool,
    opt_int,
    opt_str,
)
from apibridge.codecs._custom_tools import describe, input_schema
from apibridge.codecs._reasoning import budget_for_effort, nearest_effort
from apibridge.codecs.gemini._wire import FORMAT, field, model_name, snake
from apibridge.errors import InvalidPayload
from apibridge.model import ReasoningConfig, Request, Tool, ToolChoice

__all__ = [
    "decode_thinking",
    "decode_tool_config",
    "decode_tools",
    "encode_thinking",
    "encode_tool_config",
    "encode_tools",
    "json_schema",
    "known",
]


#: ``thinkingLevel`` words ⇄ canonical efforts.
_LEVELS: Final = ("minimal", "low", "medium", "high")


#: ``functionCallingConfig.mode`` → canonical mode.
_MODES: Final[Mapping[str, Literal["auto", "any", "none"]]] = {
    "AUTO": "auto",
    "ANY": "any",
    "NONE": "none",
    "VALIDATED": "auto",
    "MODE_UNSPECIFIED": "auto",
}


def known(names: Sequence[str]) -> frozenset[str]:
    return frozenset(names) | frozenset(snake(n) for n in names)


def decode_tools(value: Any) -> tuple[Tool, ...]:
    if value is None:
        return ()
    tools: list[Tool] = []
    for i, raw in enumerate(expect_list(value, "tools")):
        where = f"tools[{i}]"
        obj = expect_obj(raw, where)
        for key, inner in obj.items():
            if key in ("functionDeclarations", "function_declarations"):
                for j, declaration in enumerate(expect_list(inner, f"{where}.{key}")):
                    tools.append(_decode_function(declaration, f"{where}.{key}[{j}]", i))
            else:
                tools.append(
                    Tool(
                        name=key,
                        kind="server",
                        server_type=snake(key),
                        raw={key: inner},
                        source_format=FORMAT,
                        extras={FORMAT: {"_group": i}},
                    )
                )
    return tuple(tools)


_FUNCTION_KEYS: Final = known(("name", "description", "parameters", "parametersJsonSchema"))


def _decode_function(raw: Any, where: str, group: int) -> Tool:
    obj = expect_obj(raw, where)
    fields: dict[str, Any] = {k: v for k, v in obj.items() if k not in _FUNCTION_KEYS}
    fields["_group"] = group
    schema = field(obj, "parametersJsonSchema")
    if schema is not None:
        parameters: Mapping[str, Any] | None = expect_obj(schema, f"{where}.parametersJsonSchema")
        openapi = field(obj, "parameters")
        if openapi is not None:
            fields["parameters"] = openapi  # both sent: Gemini refuses that; carried as sent
    else:
        openapi = field(obj, "parameters")
        parameters = None
        if openapi is not None:
            parameters = json_schema(expect_obj(openapi, f"{where}.parameters"))
            fields["_openapi"] = openapi  # a Gemini trip sends the client's own schema back
    return Tool(
        name=expect_str(obj.get("name"), f"{where}.name"),
        description=opt_str(obj.get("description"), f"{where}.description"),
        parameters=parameters,
        extras={FORMAT: fields},
    )


def json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A Gemini OpenAPI-subset ``Schema`` as JSON Schema: ``type`` lower-cased (``STRING`` →
    ``string``), ``nullable: true`` as a ``null`` type, nested schemas likewise."""
    out: dict[str, Any] = {}
    nullable = schema.get("nullable") is True
    for key, value in schema.items():
        if key == "nullable":
            if not isinstance(value, bool):
                out[key] = value
            continue
        if key == "type" and isinstance(value, str):
            kind = value.lower()
            out[key] = [kind, "null"] if nullable and kind != "null" else kind
        elif key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            out[key] = {
                k: json_schema(v) if isinstance(v, Mapping) else v for k, v in value.items()
            }
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = json_schema(value)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            out[key] = [json_schema(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    if nullable and "type" not in out:
        out["nullable"] = True
    return out


def decode_tool_config(value: Any, hints: dict[str, Any]) -> ToolChoice | None:
    if value is None:
        return None
    obj = expect_obj(value, "toolConfig")
    rest = {
        k: v
        for k, v in obj.items()
        if k not in ("functionCallingConfig", "function_calling_config")
    }
    if rest:
        hints["toolConfig"] = rest
    raw = field(obj, "functionCallingConfig")
    if raw is None:
        return None
    where = "toolConfig.functionCallingConfig"
    config = expect_obj(raw, where)
    word = opt_str(config.get("mode"), f"{where}.mode") or "AUTO"
    mode = _MODES.get(word.upper())
    if mode is None:
        raise InvalidPayload(f"{where}.mode: expected AUTO, ANY, NONE or VALIDATED, got {word!r}")
    names = field(config, "allowedFunctionNames")
    allowed = (
        None
        if names is None
        else tuple(
            expect_str(n, f"{where}.allowedFunctionNames[{i}]")
            for i, n in enumerate(expect_list(names, f"{where}.allowedFunctionNames"))
        )
    )
    extras = {k: v for k, v in config.items() if k not in _CALLING_KEYS}
    if word.upper() == "VALIDATED" and allowed is not None and word == "VALIDATED":
        pass  # auto among some tools: what ToolChoice(auto, allowed) says (and encodes to)
    elif word.upper() in ("VALIDATED", "MODE_UNSPECIFIED"):
        extras["mode"] = word  # a mode other formats cannot say: lost there
    elif config.get("mode") is None:
        extras["_mode"] = None  # the mode was not sent
    elif word != word.upper():
        extras["_mode"] = word
    if mode == "any" and allowed is not None and len(allowed) == 1:
        return ToolChoice(mode="tool", name=allowed[0], extras=_wrap(extras))
    return ToolChoice(mode=mode, allowed=allowed, extras=_wrap(extras))


_CALLING_KEYS: Final = known(("mode", "allowedFunctionNames"))


def _wrap(fields: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {FORMAT: dict(fields)} if fields else {}


def decode_thinking(value: Any, hints: dict[str, Any]) -> ReasoningConfig | None:
    if value is None:
        return None
    where = "generationConfig.thinkingConfig"
    obj = expect_obj(value, where)
    budget = opt_int(field(obj, "thinkingBudget"), f"{where}.thinkingBudget")
    level = opt_str(field(obj, "thinkingLevel"), f"{where}.thinkingLevel")
    include = opt_bool(field(obj, "includeThoughts"), f"{where}.includeThoughts")
    rest = {
        k: v
        for k, v in obj.items()
        if k not in known(("thinkingBudget", "thinkingLevel", "includeThoughts"))
    }
    if rest:
        hints["thinkingConfig"] = rest
    if include is False:
        hints["_thoughts_off"] = True
    effort = None
    if level is not None:
        effort = level.lower()
        if effort == "thinking_level_unspecified":
            effort = None
        if level != level.upper():
            hints["_level_spelling"] = level
    summary = "auto" if include else None
    if budget == 0:
        return ReasoningConfig(mode="disabled", effort=effort, summary=summary)
    if budget is not None and budget > 0:
        return ReasoningConfig(mode="enabled", budget_tokens=budget, effort=effort, summary=summary)
    if budget is None:
        hints["_budget_absent"] = True
        if effort is not None:
            return ReasoningConfig(mode="enabled", effort=effort, summary=summary)
    return ReasoningConfig(mode="adaptive", effort=effort, summary=summary)


def encode_tools(tools: Sequence[Tool], ctx: Context) -> list[dict[str, Any]]:
    """The ``tools`` array: function declarations grouped as they came (one tool object for
    those of another format), server tools of origin Gemini as they came."""
    out: list[dict[str, Any]] = []
    groups: dict[Any, dict[str, Any]] = {}
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        own = tool.extras.get(FORMAT) or {}
        group = own.get("_group", "functions")
        if tool.kind == "server":
            if tool.source_format != FORMAT or tool.raw is None:
                kind = tool.server_type or tool.name
                ctx.lose(where, f"Gemini has no {kind!r} tool", "dropped")
                continue
            target = groups.get(group)
            if target is None:
                target = groups[group] = {}
                out.append(target)
            target.update(tool.raw)
            continue
        declaration = _encode_function(tool, ctx, where)
        target = groups.get(group)
        if target is None:
            target = groups[group] = {}
            out.append(target)
        target.setdefault("functionDeclarations", []).append(declaration)
    return out


def _encode_function(tool: Tool, ctx: Context, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    description = tool.description
    if tool.kind == "custom":
        description = describe(tool, ctx, where, "Gemini")
    if description is not None:
        out["description"] = description
    if tool.kind == "custom":
        out["parametersJsonSchema"] = input_schema()
        if tool.parameters is not None:
            ctx.lose(f"{where}.parameters", "a free-form tool takes no schema", "dropped")
    elif tool.parameters is not None:
        schema = tool.parameters
        openapi = (tool.extras.get(FORMAT) or {}).get("_openapi")
        if isinstance(openapi, Mapping) and json_schema(openapi) == schema:
            out["parameters"] = openapi  # the client's own OpenAPI schema, as it came
        else:
            out["parametersJsonSchema"] = schema if type(schema) is dict else dict(schema)
    if tool.format is not None and tool.kind != "custom":
        ctx.lose(f"{where}.format", "Gemini function tools take no grammar")
    if tool.strict:
        ctx.lose(f"{where}.strict", "Gemini function declarations have no strict mode")
    if tool.defer_loading:
        ctx.lose(
            f"{where}.defer_loading",
            "Gemini tools cannot wait for a tool search to load them",
            "the tool is sent loaded from the start",
        )
    if tool.namespace is not None:
        ctx.lose(f"{where}.namespace", "Gemini has no tool namespaces")
    if tool.cache_control is not None:
        ctx.lose(f"{where}.cache_control", "Gemini has no prompt-cache markers")
    own = tool.extras.get(FORMAT)
    if own:
        for key, value in own.items():
            if not key.startswith("_"):
                out.setdefault(key, value)
    ctx.lose_extras(tool.extras, FORMAT, where)
    return out


_MODE_TO_WIRE: Final[Mapping[str, str]] = {
    "auto": "AUTO",
    "any": "ANY",
    "none": "NONE",
    "tool": "ANY",
}


def encode_tool_config(
    request: Request, own: Mapping[str, Any], ctx: Context, *, has_tools: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rest = own.get("toolConfig")
    if isinstance(rest, Mapping):
        out.update(rest)
    choice = request.tool_choice
    if choice is None or not has_tools:
        # Gemini answers 400 to a function-calling mode without tools: nothing said is lost
        return out
    config: dict[str, Any] = {}
    choice_own = choice.extras.get(FORMAT) or {}
    mode = _MODE_TO_WIRE[choice.mode]
    names: tuple[str, ...] | None = choice.allowed
    if choice.mode == "tool":
        if choice.name:
            names = (choice.name,)
        else:
            ctx.lose("tool_choice.name", "a forced tool choice without a name", "sent as ANY")
    elif choice.mode == "auto" and names is not None:
        mode = "VALIDATED"  # Gemini restricts the calls it may make only when validating
    kept = choice_own.get("mode", choice_own.get("_mode", mode))
    if kept is None and mode == "AUTO":
        pass  # the client sent no mode
    elif isinstance(kept, str) and _MODES.get(kept.upper()) == _MODES.get(mode):
        config["mode"] = kept
    else:
        config["mode"] = mode
    if names is not None:
        if choice.mode == "none":
            ctx.lose("tool_choice.allowed", "no tools are called with mode NONE")
        else:
            config["allowedFunctionNames"] = list(names)
    for key, value in choice_own.items():
        if not key.startswith("_"):
            config.setdefault(key, value)
    ctx.lose_extras(choice.extras, FORMAT, "tool_choice")
    out["functionCallingConfig"] = config
    return out


def _thinks(model: str) -> bool:
    """Whether a Gemini model takes ``thinkingConfig`` (1.x, 2.0 and Gemma models do not)."""
    return not model.startswith(("gemini-1", "gemini-2.0", "gemma"))


def encode_thinking(
    request: Request, own: Mapping[str, Any], ctx: Context, *, native: bool
) -> dict[str, Any] | None:
    reasoning = request.reasoning
    rest = own.get("thinkingConfig")
    out: dict[str, Any] = dict(rest) if isinstance(rest, Mapping) else {}
    if reasoning is None:
        return out or None
    model = model_name(request.model)
    if not native and not _thinks(model):
        if reasoning.mode != "disabled":
            ctx.lose("reasoning", f"{model} does not think")
        return out or None
    gemini3 = model.startswith("gemini-3")
    if native:
        _native_thinking(reasoning, own, out)
    elif reasoning.mode == "disabled":
        _thinking_off(model, out, ctx, gemini3=gemini3)
    elif reasoning.mode == "adaptive":
        out["thinkingBudget"] = -1
        if reasoning.effort is not None:
            _level_or_budget(reasoning.effort, out, ctx, gemini3=gemini3, adaptive=True)
    elif gemini3 and reasoning.effort is not None:
        out["thinkingLevel"] = _level(reasoning.effort, ctx)
        if reasoning.budget_tokens is not None:
            ctx.lose(
                "reasoning.budget_tokens",
                "Gemini takes a thinking level or a budget, not both",
                "sent the level",
            )
    elif reasoning.budget_tokens is not None:
        out["thinkingBudget"] = reasoning.budget_tokens
        if reasoning.effort is not None:
            ctx.lose(
                "reasoning.effort",
                "Gemini takes a thinking level or a budget, not both",
                "sent the budget",
            )
    elif reasoning.effort is not None:
        _level_or_budget(reasoning.effort, out, ctx, gemini3=gemini3, adaptive=False)
    else:
        out["thinkingBudget"] = -1
    if native:
        if reasoning.summary is not None:
            out["includeThoughts"] = True
        elif own.get("_thoughts_off"):
            out["includeThoughts"] = False
    elif reasoning.mode != "disabled":
        # clients of other formats expect to see the reasoning they asked for
        out["includeThoughts"] = True
        if reasoning.summary not in (None, "auto"):
            ctx.lose("reasoning.summary", "Gemini decides how thoughts are summarised")
    return out or None


def _native_thinking(
    reasoning: ReasoningConfig, own: Mapping[str, Any], out: dict[str, Any]
) -> None:
    """A Gemini client's own ``thinkingConfig``, as it came."""
    if reasoning.mode == "disabled":
        out["thinkingBudget"] = 0
    elif reasoning.budget_tokens is not None:
        out["thinkingBudget"] = reasoning.budget_tokens
    elif not own.get("_budget_absent"):
        out["thinkingBudget"] = -1
    if reasoning.effort is not None:
        spelled = own.get("_level_spelling")
        if isinstance(spelled, str) and spelled.lower() == reasoning.effort:
            out["thinkingLevel"] = spelled
        else:
            out["thinkingLevel"] = reasoning.effort.upper()


def _thinking_off(model: str, out: dict[str, Any], ctx: Context, *, gemini3: bool) -> None:
    if gemini3:
        ctx.lose("reasoning", f"{model} always thinks", "sent at thinkingLevel LOW")
        out["thinkingLevel"] = "LOW"
    elif model.startswith("gemini-2.5-pro"):
        ctx.lose("reasoning", f"{model} always thinks", "sent with the least budget, 128")
        out["thinkingBudget"] = 128
    else:
        out["thinkingBudget"] = 0


def _level(effort: str, ctx: Context) -> str:
    word = nearest_effort(effort, _LEVELS)
    if word != effort:
        ctx.lose("reasoning.effort", f"Gemini has no thinking level {effort!r}", f"sent as {word}")
    return word.upper()


def _level_or_budget(
    effort: str, out: dict[str, Any], ctx: Context, *, gemini3: bool, adaptive: bool
) -> None:
    """An effort on Gemini: ``thinkingLevel`` on Gemini 3, a budget from the effort elsewhere
    (reported: Gemini 2.5 sizes thinking by budget only)."""
    if gemini3:
        out.pop("thinkingBudget", None)
        out["thinkingLevel"] = _level(effort, ctx)
        return
    if adaptive:
        ctx.lose("reasoning.effort", "Gemini 2.5 has no thinking level", "dropped: dynamic budget")
        return
    budget = budget_for_effort(effort)
    ctx.lose(
        "reasoning.effort",
        "Gemini 2.5 sizes thinking by a token budget",
        f"sent as thinkingBudget {budget}",
    )
    out["thinkingBudget"] = budget
