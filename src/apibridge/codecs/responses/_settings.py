"""Request settings of the Responses codec: tools, ``tool_choice``, ``reasoning``, ``text``.

Theory of operation
-------------------
Function and custom tools map to :class:`~apibridge.model.Tool` field by field; hosted tools
(``web_search``, ``file_search``, ``mcp`` …) become server tools that keep their definition
whole (``Tool.raw``), with ``server_type`` naming the canonical tool (all web search versions are
``web_search``); another format's web search tool becomes ``{"type": "web_search"}`` with its
domain filter and location. A function tool from another format is sent with ``strict: false``
(Responses would otherwise enforce strict schemas). ``tool_choice`` words map through the
tables below; ``allowed_tools`` and hosted-tool choices keep their original spelling in a
``_raw`` hint while the canonical choice still says the same. ``reasoning.effort`` maps
directly (``none`` means reasoning off); a budget from another format maps to the effort band of
:mod:`apibridge.codecs._reasoning`, reported since the exact budget cannot be said.
``text.format`` maps to :class:`~apibridge.model.OutputFormat`; ``text.verbosity`` and any
other key ride in extras (``text``, ``text_format``, ``reasoning`` hold unmapped sub-fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs

from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    str_or_none,
)
from apibridge.codecs._reasoning import effort_for_budget, nearest_effort
from apibridge.codecs._tool_search import TOOL_SEARCH, is_tool_search
from apibridge.codecs._web_search import flat_location
from apibridge.codecs.responses._wire import (
    FORMAT,
    finish,
    hints,
    lose_cache,
    lose_foreign,
    pack,
    split,
)
from apibridge.errors import InvalidPayload
from apibridge.model import (
    Message,
    OutputFormat,
    ReasoningConfig,
    Request,
    Tool,
    ToolChoice,
    ToolResultPart,
)

__all__ = [
    "CHOICE_MODES",
    "CHOICE_WORDS",
    "LOADED",
    "SERVER_TOOL_TYPES",
    "add_loaded_tools",
    "decode_reasoning_config",
    "decode_text",
    "decode_tool",
    "decode_tool_choice",
    "decode_tools",
    "encode_reasoning_config",
    "encode_text",
    "encode_tool",
    "encode_tool_choice",
    "encode_tools",
]

#: Hosted tool types a ``tool_choice`` object can force by type alone (the SDK's list).
HOSTED_CHOICES = frozenset(
    {
        "file_search",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "computer",
        "computer_use",
        "computer_use_preview",
        "image_generation",
        "code_interpreter",
        "apply_patch",
        "shell",
    }
)

ChoiceMode: TypeAlias = Literal["auto", "any", "none", "tool"]

#: ``tool_choice`` strings ↔ canonical modes.
CHOICE_MODES: Mapping[str, ChoiceMode] = {"auto": "auto", "none": "none", "required": "any"}
CHOICE_WORDS: Mapping[str, str] = {v: k for k, v in CHOICE_MODES.items()}

#: Hosted tool type → canonical server tool name.
SERVER_TOOL_TYPES: Mapping[str, str] = {
    "web_search": "web_search",
    "web_search_preview": "web_search",
    "web_search_2025_08_26": "web_search",
    "web_search_preview_2025_03_11": "web_search",
    "file_search": "file_search",
    "code_interpreter": "code_interpreter",
    "image_generation": "image_generation",
    "computer_use_preview": "computer_use",
    "computer": "computer_use",
    "mcp": "mcp",
    "local_shell": "local_shell",
    "shell": "shell",
    "apply_patch": "apply_patch",
    "tool_search": "tool_search",
}


# ------------------------------------------------------------------------------ tools


#: the fields of a ``namespace`` tool that the members' canonical fields hold.
_NAMESPACE_MAPPED: Final = frozenset({"type", "name", "description", "tools"})


def decode_tools(listed: Sequence[Any]) -> tuple[Tool, ...]:
    """The whole ``tools`` list; a ``namespace`` tool becomes its members, in order, each with
    its :attr:`~apibridge.model.Tool.namespace`."""
    out: list[Tool] = []
    for i, raw in enumerate(listed):
        where = f"tools[{i}]"
        members = raw.get("tools") if isinstance(raw, Mapping) else None
        if not isinstance(members, list) or not members or raw.get("type") != "namespace":
            out.append(decode_tool(raw, where))  # an empty namespace stays a kept server tool
            continue
        namespace = expect_str(raw.get("name"), f"{where}.name")
        about = str_or_none(raw.get("description"))
        rest = split(raw, _NAMESPACE_MAPPED)
        for j, member in enumerate(members):
            tool = decode_tool(member, f"{where}.tools[{j}]")
            if tool.kind == "server":
                raise InvalidPayload(f"{where}.tools[{j}]: a namespace holds function/custom tools")
            extras = tool.extras
            if j == 0 and rest:  # the namespace's own unmapped fields ride on its first member
                extras = pack({**hints(extras), "_namespace_extra": rest})
            out.append(
                attrs.evolve(tool, namespace=namespace, namespace_description=about, extras=extras)
            )
    return tuple(out)


#: hint on a tool that a ``tool_search_output`` of the input loaded (it stays in that item).
LOADED: Final = "_loaded"


def add_loaded_tools(tools: tuple[Tool, ...], messages: Sequence[Message]) -> tuple[Tool, ...]:
    """``tools`` and, after them, the tools the client-executed ``tool_search_output`` items
    of the input loaded: each once (by namespace and name), loaded (no ``defer_loading``),
    marked :data:`LOADED`."""
    added: list[Tool] = []
    seen = {(t.namespace, t.name) for t in tools if t.kind != "server"}
    for message in messages:
        for part in message.content:
            if not isinstance(part, ToolResultPart) or part.kind != "tool_search":
                continue
            item = hints(part.extras).get("_item")
            listed = item.get("tools") if isinstance(item, Mapping) else None
            if not isinstance(listed, list):
                continue
            for tool in decode_tools(listed):
                key = (tool.namespace, tool.name)
                if tool.kind == "server" or key in seen:
                    continue
                seen.add(key)
                extras = {**tool.extras, FORMAT: {**hints(tool.extras), LOADED: True}}
                added.append(attrs.evolve(tool, defer_loading=None, extras=extras))
    return (*tools, *added) if added else tools


def encode_tools(tools: tuple[Tool, ...], ctx: Context, *, native: bool) -> list[dict[str, Any]]:
    """``tools`` for the wire: consecutive members of one namespace regrouped into it; the
    tools a ``tool_search_output`` of the input loaded stay in that item.

    ``defer_loading: true`` is written where the request has a tool search to load the tool
    with (or the request came from a Responses client, ``native``); otherwise the tool is sent
    loaded from the start and the flag reported: another format's tool search (Claude Code's
    ``ToolSearch`` function) cannot load a deferred Responses tool.
    """
    out: list[dict[str, Any]] = []
    group: dict[str, Any] | None = None
    searchable = native or any(
        t.kind == "tool_search" or (t.kind == "server" and is_tool_search(t.server_type))
        for t in tools
    )
    for i, tool in enumerate(tools):
        if tool.extras and hints(tool.extras).get(LOADED):
            continue
        if tool.defer_loading and not searchable:
            ctx.lose(
                f"tools[{i}].defer_loading",
                "responses loads deferred tools only through its own tool_search tool, "
                "which this request does not have",
                "the tool is sent loaded from the start",
            )
            tool = attrs.evolve(tool, defer_loading=None)
        encoded = encode_tool(tool, ctx, f"tools[{i}]")
        if encoded is None:
            continue
        if tool.namespace is None:
            group = None
            out.append(encoded)
            continue
        if group is None or group["name"] != tool.namespace:
            group = {"type": "namespace", "name": tool.namespace}
            if tool.namespace_description is not None:
                group["description"] = tool.namespace_description
            group["tools"] = []
            group.update(hints(tool.extras).get("_namespace_extra") or {})
            out.append(group)
        group["tools"].append(encoded)
    return out


def decode_tool(raw: Any, where: str) -> Tool:
    """One entry of ``tools``: function, custom, or a hosted (server) tool kept whole."""
    obj = expect_obj(raw, where)
    kind = expect_str(obj.get("type"), f"{where}.type")
    description = str_or_none(obj.get("description"))
    defer = obj.get("defer_loading")
    if defer is not None and not isinstance(defer, bool):
        raise InvalidPayload(f"{where}.defer_loading: expected a boolean")
    if kind == "function":
        extra = split(obj, ("type", "name", "description", "parameters", "strict", "defer_loading"))
        absent = [k for k in ("parameters", "strict") if k not in obj]
        if absent:
            extra["_absent"] = absent
        params = obj.get("parameters")
        return Tool(
            name=expect_str(obj.get("name"), f"{where}.name"),
            description=description,
            parameters=expect_obj(params, f"{where}.parameters") if params is not None else None,
            strict=obj.get("strict") if isinstance(obj.get("strict"), bool) else None,
            defer_loading=defer,
            extras=pack(extra),
        )
    if kind == "custom":
        fmt = obj.get("format")
        return Tool(
            name=expect_str(obj.get("name"), f"{where}.name"),
            kind="custom",
            description=description,
            format=expect_obj(fmt, f"{where}.format") if fmt is not None else None,
            defer_loading=defer,
            extras=pack(split(obj, ("type", "name", "description", "format", "defer_loading"))),
        )
    if kind == "tool_search" and obj.get("execution") == "client":
        # Client-executed (Codex): a function the client runs, under the name it has nowhere.
        params = obj.get("parameters")
        return Tool(
            name=TOOL_SEARCH,
            kind="tool_search",
            description=description,
            parameters=expect_obj(params, f"{where}.parameters") if params is not None else None,
            extras=pack(split(obj, ("type", "description", "parameters", "execution"))),
        )
    name = next((obj[k] for k in ("name", "server_label") if isinstance(obj.get(k), str)), kind)
    return Tool(
        name=name,
        kind="server",
        server_type=SERVER_TOOL_TYPES.get(kind, kind),
        raw=dict(obj),
        source_format=FORMAT,
    )


def encode_tool(tool: Tool, ctx: Context, where: str) -> dict[str, Any] | None:
    """A canonical tool for ``tools`` (``None``: it cannot be carried; reported)."""
    out: dict[str, Any]
    lose_cache(tool, ctx, where)
    lose_foreign(ctx, tool.extras, where)
    if tool.kind == "server":
        if tool.source_format == FORMAT and tool.raw is not None:
            return dict(tool.raw)
        return _foreign_server_tool(tool, ctx, where)
    if tool.kind == "tool_search":
        out = {"type": "tool_search", "execution": "client"}
        if tool.description is not None:
            out["description"] = tool.description
        if tool.parameters is not None:
            out["parameters"] = dict(tool.parameters)
        finish(out, tool.extras)
        return out
    out = {"type": tool.kind, "name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    if tool.defer_loading is not None:
        out["defer_loading"] = tool.defer_loading
    if tool.kind == "custom":
        if tool.format is not None:
            out["format"] = _flat_format(tool.format)
    else:
        schema = tool.parameters  # carried as it is: a schema is never walked or copied
        if schema is None:
            out["parameters"] = {"type": "object", "properties": {}}
        else:
            out["parameters"] = schema if type(schema) is dict else dict(schema)
        # Responses function tools are strict unless told otherwise; schemas written for
        # other APIs rarely satisfy strict mode, so an unsaid ``strict`` is said as false.
        out["strict"] = tool.strict if tool.strict is not None else False
    finish(out, tool.extras)
    return out


def _flat_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    """A custom tool's grammar in the flat Responses shape (Chat nests it under ``grammar``)."""
    nested = fmt.get("grammar")
    if fmt.get("type") == "grammar" and isinstance(nested, Mapping):
        return {"type": "grammar", **nested}
    return dict(fmt)


def _foreign_server_tool(tool: Tool, ctx: Context, where: str) -> dict[str, Any] | None:
    """Another format's server tool, where Responses has the same one (web search)."""
    raw = tool.raw or {}
    if is_tool_search(tool.server_type):
        # Anthropic's tool search (regex or BM25) as the hosted one: it loads deferred tools.
        for key in set(raw) - {"type", "name", "cache_control"}:
            ctx.lose(f"{where}.{key}", "responses tool_search has no such setting")
        return {"type": "tool_search"}
    if tool.server_type != "web_search":
        ctx.lose(where, f"server tool {tool.name!r} has no responses equivalent")
        return None
    out: dict[str, Any] = {"type": "web_search"}
    for key, value in raw.items():
        if key == "allowed_domains" and isinstance(value, list):
            out["filters"] = {"allowed_domains": value}
        elif key == "user_location" and isinstance(value, Mapping):
            out["user_location"] = flat_location(value)  # Chat nests the place: read both
        elif key == "search_context_size" and value is not None:
            out["search_context_size"] = value  # Chat's web_search_options has it too
        elif key not in _WEB_SEARCH_SAID and value is not None:
            ctx.lose(f"{where}.{key}", "responses web_search has no such setting")
    return out


#: keys of another format's web search definition that are said without a loss: its name and
#: type, and ``cache_control`` (``Tool.cache_control``, reported where tools are encoded).
_WEB_SEARCH_SAID: Final = frozenset({"type", "name", "cache_control"})


def decode_tool_choice(value: Any) -> ToolChoice | None:
    """``tool_choice``: a word, a named function/custom tool, ``allowed_tools`` or a hosted tool."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in CHOICE_MODES:
            raise InvalidPayload(f"tool_choice: unknown value {value!r}")
        return ToolChoice(mode=CHOICE_MODES[value])
    obj = expect_obj(value, "tool_choice")
    kind = expect_str(obj.get("type"), "tool_choice.type")
    if kind in ("function", "custom"):
        name = expect_str(obj.get("name"), "tool_choice.name")
        # ``_raw`` keeps the spelling (function or custom) while the choice stays the same
        return ToolChoice(mode="tool", name=name, extras=pack({"_raw": dict(obj)}))
    if kind == "allowed_tools":
        tools = expect_list(obj.get("tools"), "tool_choice.tools")
        names = tuple(_choice_name(expect_obj(t, "tool_choice.tools[]")) for t in tools)
        mode: ChoiceMode = "any" if obj.get("mode") == "required" else "auto"
        return ToolChoice(mode=mode, allowed=names, extras=pack({"_raw": dict(obj)}))
    return ToolChoice(mode="tool", name=_choice_name(obj), extras=pack({"_raw": dict(obj)}))


def _choice_name(obj: Mapping[str, Any]) -> str:
    for key in ("name", "server_label", "type"):
        if isinstance(obj.get(key), str):
            return str(obj[key])
    raise InvalidPayload("tool_choice: a tool entry has neither name nor type")


def encode_tool_choice(request: Request, ctx: Context) -> Any:
    """``request.tool_choice`` in Responses words (the received spelling while it still fits)."""
    choice = request.tool_choice
    assert choice is not None
    lose_foreign(ctx, choice.extras, "tool_choice")
    raw = hints(choice.extras).get("_raw")
    if isinstance(raw, Mapping):
        said = decode_tool_choice(raw)
        if said is not None and attrs.evolve(said, extras={}) == attrs.evolve(choice, extras={}):
            return dict(raw)
    kinds = {t.name: t for t in request.tools}
    if choice.allowed is not None and choice.mode in ("auto", "any"):
        return {
            "type": "allowed_tools",
            "mode": "required" if choice.mode == "any" else "auto",
            "tools": [_allowed_ref(kinds.get(n), n) for n in choice.allowed],
        }
    if choice.mode == "tool" and choice.name is not None:
        out = _choice_ref(kinds.get(choice.name), choice.name)
        if out is None:
            ctx.lose(
                "tool_choice.name",
                f"responses cannot force the hosted tool {choice.name!r}",
                "any tool is required instead",
            )
            return "required"
        finish(out, choice.extras)
        return out
    if choice.allowed is not None and choice.mode != "none":
        ctx.lose("tool_choice.allowed", "responses cannot restrict a forced choice", "dropped")
    return CHOICE_WORDS.get(choice.mode, "auto")


def _allowed_ref(tool: Tool | None, name: str) -> dict[str, Any]:
    """How ``allowed_tools`` names ``tool`` (hosted tools by their type)."""
    if tool is not None and tool.kind == "server":
        if tool.source_format == FORMAT and tool.raw and "type" in tool.raw:
            return {"type": tool.raw["type"]}
        return {"type": tool.server_type or name}
    return _choice_ref(tool, name) or {"type": "function", "name": name}


def _choice_ref(tool: Tool | None, name: str) -> dict[str, Any] | None:
    """How a choice names ``tool``; ``None`` for a hosted tool no choice can name."""
    if tool is not None and tool.kind == "server":
        kind = tool.raw.get("type") if tool.raw and tool.source_format == FORMAT else None
        return {"type": kind} if kind in HOSTED_CHOICES else None
    return {
        "type": "custom" if tool is not None and tool.kind == "custom" else "function",
        "name": name,
    }


# -------------------------------------------------------------------- request settings


def decode_reasoning_config(value: Any, extra: dict[str, Any]) -> ReasoningConfig | None:
    """``reasoning``: effort ``none`` means reasoning off; keys other than effort and summary
    go to extras."""
    if value is None:
        return None
    obj = expect_obj(value, "reasoning")
    summary_key = (
        "summary" if "summary" in obj or "generate_summary" not in obj else ("generate_summary")
    )
    if summary_key == "generate_summary":
        extra["_summary_key"] = summary_key
    rest = split(obj, ("effort", summary_key))
    if rest:
        extra["reasoning"] = rest
    effort = obj.get("effort")
    summary = obj.get(summary_key)
    return ReasoningConfig(
        mode="disabled" if effort == "none" else "enabled",
        effort=expect_str(effort, "reasoning.effort") if effort is not None else None,
        summary=expect_str(summary, f"reasoning.{summary_key}") if summary is not None else None,
    )


#: every effort word the Responses API defines (``ReasoningEffort`` of the openai 3.60 SDK);
#: Anthropic's ``xhigh`` and ``max`` reach it unchanged.
_OPENAI_EFFORTS: Final = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})
#: the words every reasoning model accepts (o-series models refuse ``minimal``, and only the
#: newest accept ``xhigh``): what a budget or another format's word becomes.
_SAFE_EFFORTS: Final = ("low", "medium", "high")


def encode_reasoning_config(request: Request, ctx: Context, own: Mapping[str, Any]) -> Any:
    """``reasoning`` for a request: a budget becomes an effort band (reported)."""
    config = request.reasoning
    if config is None:
        return own.get("reasoning")
    out: dict[str, Any] = dict(own.get("reasoning") or {})
    effort = config.effort
    if effort is not None and effort not in _OPENAI_EFFORTS:
        # a word OpenAI does not define: the nearest one every model accepts
        sent = nearest_effort(effort, _SAFE_EFFORTS)
        ctx.lose("reasoning.effort", f"responses has no effort {effort!r}", f"sent as {sent!r}")
        effort = sent
    if effort is None and config.budget_tokens is not None and config.mode == "enabled":
        effort = effort_for_budget(config.budget_tokens, allowed=_SAFE_EFFORTS)
        ctx.lose(
            "reasoning.budget_tokens",
            "responses sizes reasoning by effort only",
            f"mapped to effort {effort!r}",
        )
    elif config.budget_tokens is not None:
        ctx.lose("reasoning.budget_tokens", "responses sizes reasoning by effort only")
    if config.mode == "disabled" and effort is None:
        ctx.lose(
            "reasoning.mode",
            "responses cannot switch reasoning off for every model",
            "omitted (the model's default applies)",
        )
        return own.get("reasoning")
    if effort is not None:
        out["effort"] = effort
    if config.summary is not None:
        out[str(own.get("_summary_key", "summary"))] = config.summary
    return out


def decode_text(value: Any, extra: dict[str, Any]) -> OutputFormat | None:
    """``text.format`` as an :class:`OutputFormat`; ``verbosity`` and other keys go to extras."""
    if value is None:
        return None
    obj = expect_obj(value, "text")
    rest = split(obj, ("format",))
    if rest or obj.get("format") is None:
        extra["text"] = rest
    fmt = obj.get("format")
    if fmt is None:
        return None
    fmt = expect_obj(fmt, "text.format")
    kind = expect_str(fmt.get("type"), "text.format.type")
    if kind in ("text", "json_object"):
        known: tuple[str, ...] = ("type",)
        result = OutputFormat(kind=kind)  # type: ignore[arg-type]
    elif kind == "json_schema":
        known = ("type", "name", "schema", "strict", "description")
        schema = fmt.get("schema")
        result = OutputFormat(
            kind="json_schema",
            name=str_or_none(fmt.get("name")),
            schema=expect_obj(schema, "text.format.schema") if schema is not None else None,
            strict=fmt.get("strict") if isinstance(fmt.get("strict"), bool) else None,
            description=str_or_none(fmt.get("description")),
        )
    else:
        raise InvalidPayload(f"text.format.type: unknown format {kind!r}")
    rest_fmt = split(fmt, known)
    if rest_fmt:
        extra["text_format"] = rest_fmt
    return result


def encode_text(request: Request, own: Mapping[str, Any]) -> Any:
    """``text`` for a request: the format, with the extra keys it came with."""
    fmt = request.output_format
    text = own.get("text")
    if fmt is None:
        return text
    out: dict[str, Any] = dict(text or {})
    spec: dict[str, Any] = {"type": fmt.kind}
    if fmt.kind == "json_schema":
        spec["name"] = fmt.name or "response"
        spec["schema"] = dict(fmt.schema) if fmt.schema is not None else {}
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        if fmt.description is not None:
            spec["description"] = fmt.description
    spec.update(own.get("text_format") or {})
    out["format"] = spec
    return out
