"""Chat Completions requests (``POST /v1/chat/completions`` bodies) ↔ canonical :class:`Request`.

Theory of operation. ``messages`` are handled in ``_messages`` (system hoisting, tool-message
merging, assistant turns) and ``_parts`` (content parts). Here: ``tools`` (``function`` and
``custom``, whose grammar ``format`` is held in the Responses shape; ``web_search_options``
becomes a ``Tool(kind="server", server_type="web_search")``). A Chat client's own ``custom``
tools stay Chat ``custom`` tools; a free-form tool from another format (Codex's
``apply_patch``) goes as a function tool taking ``{"input": string}``, its grammar described
in the description (``codecs._custom_tools``), since vLLM, Ollama and most compatible servers
accept function tools only; calls to it in the answer are unwrapped back into free-form calls
(``_response``, ``_stream_decoder``).

``tool_choice`` (``required`` ↔ ``any``, named and ``allowed_tools`` forms), ``max_tokens`` /
``max_completion_tokens`` (the spelling kept as a hint; other formats get ``max_tokens``, which
every compatible server accepts), ``stop``, ``response_format`` ↔ :class:`OutputFormat`,
``reasoning_effort`` ↔ :class:`ReasoningConfig` (a Chat client's own word goes back as it
came; from another format only ``low``/``medium``/``high``, which vLLM insists on: a budget
maps to its band through ``codecs._reasoning`` and another effort word to the nearest of the
three, each a loss), ``user`` / ``safety_identifier`` ↔ ``Request.user``. Every other field
(``seed``, penalties, ``logit_bias``, ``service_tier``, ``store``, ``stream_options`` …) rides
in ``extras["chat"]``; a Responses client's twins of those (``store``, ``service_tier``,
``prompt_cache_key``, ``moderation`` …, ``text.verbosity`` → ``verbosity``) are written too
(:mod:`apibridge.codecs._openai_twins`). A streamed request from another format gets
``stream_options: {"include_usage": true}`` so that usage arrives.

*Deliberately lossy* (each a ``ctx.lose``): cache breakpoints, server tools other than web
search, reasoning summaries, switching reasoning off, a thinking budget (an effort band here).
Where a hint kept the client's raw spelling (``tool_choice``, ``response_format``,
``reasoning_effort``), it is written back only while it still decodes to the same value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, TypeVar

from apibridge.codecs._cache_markers import top_level_marker
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    opt_bool,
    opt_int,
    opt_number,
    opt_str,
)
from apibridge.codecs._context_edits import carry_context_management
from apibridge.codecs._custom_tools import describe, input_schema
from apibridge.codecs._openai_twins import (
    fast_requested,
    request_tier,
    request_twins,
    user_field,
    without_fast,
    without_twins,
)
from apibridge.codecs._reasoning import effort_for_budget, nearest_effort
from apibridge.codecs.chat._messages import decode_messages, encode_messages, encode_system
from apibridge.codecs.chat._plain import NO_HINTS, has_foreign_fields
from apibridge.codecs.chat._wire import (
    ABSENT,
    CHAT_CUSTOM,
    FORMAT,
    apply_extras,
    flat_grammar,
    hints,
    is_chat_custom,
    nested_grammar,
)
from apibridge.errors import InvalidPayload
from apibridge.model import OutputFormat, ReasoningConfig, Request, Tool, ToolChoice

__all__ = ["TOOL_CHOICE_MODES", "decode_request", "encode_request"]

#: hint: a Chat client sent ``tool_choice`` or ``parallel_tool_calls`` without tools.
_CHOICE_ALONE: Final = "_choice_without_tools"

#: ``tool_choice`` strings ↔ canonical modes (``required`` is Claude's ``any``).
TOOL_CHOICE_MODES: Final[Mapping[str, Literal["auto", "none", "any"]]] = {
    "auto": "auto",
    "none": "none",
    "required": "any",
}
_MODE_TO_CHOICE: Final[Mapping[str, str]] = {v: k for k, v in TOOL_CHOICE_MODES.items()}

#: the ``reasoning_effort`` words every compatible server accepts (vLLM declares exactly these;
#: anything else is a 400 there). A Chat client's own word is sent back as it came.
_EFFORTS: Final = ("low", "medium", "high")
#: hint: the client's own ``reasoning_effort`` word, when not one of :data:`_EFFORTS`.
_EFFORT_HINT: Final = "_reasoning_effort"

_REQUEST_MAPPED: Final = frozenset(
    {"model", "messages", "tools", "tool_choice", "parallel_tool_calls", "max_tokens"}
    | {"max_completion_tokens", "temperature", "top_p", "top_k", "stop", "n", "logprobs"}
    | {"top_logprobs", "response_format", "reasoning_effort", "user", "safety_identifier"}
    | {"metadata", "stream", "web_search_options"}
)
_WEB_LOCATION_KEYS: Final = ("city", "country", "region", "timezone")

_T = TypeVar("_T")


def _exact(hint: Any, decode: Callable[[Any], _T | None], value: _T) -> bool:
    """Whether the raw spelling kept in ``hint`` still decodes to ``value`` (so it may be
    written back as it was)."""
    if hint is None:
        return False
    try:
        return decode(hint) == value
    except InvalidPayload:
        return False


def decode_request(body: Mapping[str, Any], ctx: Context) -> Request:
    """A Chat Completions request body as a canonical :class:`Request`."""
    body = expect_obj(body, "request")
    fields: dict[str, Any] = {}
    trivial: dict[str, Any] = {}
    for key, value in body.items():
        nothing = value is None or (value == [] and key != "messages")
        if key in _REQUEST_MAPPED:
            if nothing or (key == "stream" and value is False):
                trivial[key] = value
        elif value is None:
            trivial[key] = None
        else:
            fields[key] = value
    model = expect_str(body.get("model"), "model")
    messages = decode_messages(body.get("messages"))
    if messages.system_layout is not None:
        fields["_system"] = messages.system_layout
    tools = _decode_tools(body.get("tools"))
    web = body.get("web_search_options")
    if web is not None:
        tools += (
            Tool(
                name="web_search",
                kind="server",
                server_type="web_search",
                raw=dict(expect_obj(web, "web_search_options")),
                source_format=FORMAT,
            ),
        )
    max_tokens = opt_int(body.get("max_completion_tokens"), "max_completion_tokens")
    legacy_max = opt_int(body.get("max_tokens"), "max_tokens")
    if max_tokens is not None:
        fields["_max_tokens_key"] = "max_completion_tokens"
        if legacy_max is not None:
            fields["max_tokens"] = legacy_max  # both spellings sent: keep the second as is
    else:
        max_tokens = legacy_max
    stop = body.get("stop")
    if isinstance(stop, str):
        fields["_stop_string"] = True
        stops: tuple[str, ...] = (stop,)
    else:
        stops = tuple(
            expect_str(s, f"stop[{k}]") for k, s in enumerate(expect_list(stop or [], "stop"))
        )
    user = opt_str(body.get("user"), "user")
    safety = opt_str(body.get("safety_identifier"), "safety_identifier")
    if user is None and safety is not None:
        user = safety
        fields["_user_key"] = "safety_identifier"
    elif safety is not None:
        fields["safety_identifier"] = safety
    stream = bool(opt_bool(body.get("stream"), "stream"))
    if stream and body.get("stream_options") is None:
        fields["_no_stream_options"] = True
    response_format = body.get("response_format")
    output_format = None if response_format is None else _decode_output_format(response_format)
    if output_format is not None and _encode_output_format(output_format) != body.get(
        "response_format"
    ):
        fields["_response_format"] = body["response_format"]
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort not in _EFFORTS:
        fields[_EFFORT_HINT] = effort
    raw_choice = body.get("tool_choice")
    tool_choice = None if raw_choice is None else _decode_tool_choice(raw_choice)
    if tool_choice is not None and _encode_tool_choice(tool_choice, tools) != body.get(
        "tool_choice"
    ):
        fields["_tool_choice"] = body["tool_choice"]
    if (raw_choice is not None or body.get("parallel_tool_calls") is not None) and not body.get(
        "tools"
    ):
        fields[_CHOICE_ALONE] = True  # the client's own choice without tools, sent as it came
    metadata = body.get("metadata")
    if trivial:
        fields["_trivial"] = trivial
    return Request(
        model=model,
        messages=messages.messages,
        system=messages.system,
        system_role=messages.system_role,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=opt_bool(body.get("parallel_tool_calls"), "parallel_tool_calls"),
        max_tokens=max_tokens,
        temperature=opt_number(body.get("temperature"), "temperature"),
        top_p=opt_number(body.get("top_p"), "top_p"),
        top_k=opt_int(body.get("top_k"), "top_k"),
        stop=stops,
        reasoning=None if effort is None else _decode_reasoning(effort),
        output_format=output_format,
        user=user,
        metadata=None if metadata is None else expect_obj(metadata, "metadata"),
        stream=stream,
        n=opt_int(body.get("n"), "n"),
        logprobs=opt_bool(body.get("logprobs"), "logprobs"),
        top_logprobs=opt_int(body.get("top_logprobs"), "top_logprobs"),
        extras={FORMAT: fields} if fields else {},
    )


def encode_request(request: Request, ctx: Context) -> dict[str, Any]:
    """A canonical :class:`Request` as a Chat Completions request body."""
    request = carry_context_management(request, ctx, FORMAT)
    extras = request.extras
    carried = extras.get(FORMAT, NO_HINTS) if extras else NO_HINTS
    twins = request_twins(extras, FORMAT) if extras and "responses" in extras else None
    tier = cache_options = None
    if extras and has_foreign_fields(extras):
        rest, tier = request_tier(without_fast(without_twins(extras, FORMAT), FORMAT), FORMAT)
        rest, cache_options = top_level_marker(rest, FORMAT, ctx)
        ctx.lose_extras(rest, FORMAT, "request")
    messages = encode_system(request.system, request.system_role, carried.get("_system"), ctx)
    messages += encode_messages(request.messages, ctx)
    out: dict[str, Any] = {"model": request.model, "messages": messages}
    tools: list[dict[str, Any]] = []
    for k, tool in enumerate(request.tools):
        if (
            tool.kind == "function"
            and not tool.extras
            and tool.format is None
            and tool.cache_control is None
            and tool.defer_loading is None
        ):
            # A plain function tool (the common case): no hints to read, nothing to lose.
            function: dict[str, Any] = {"name": tool.name}
            if tool.description is not None:
                function["description"] = tool.description
            schema = tool.parameters
            if schema is not None:  # carried as it is: a schema is never walked or copied
                function["parameters"] = schema if type(schema) is dict else dict(schema)
            if tool.strict is not None:
                function["strict"] = tool.strict
            tools.append({"type": "function", "function": function})
            continue
        where = f"tools[{k}]"
        if tool.defer_loading:
            ctx.lose(
                f"{where}.defer_loading",
                "chat tools cannot wait for a tool search to load them",
                "the tool is sent loaded from the start",
            )
        if tool.kind != "server":
            tools.append(_encode_tool(tool, ctx, where))
        elif tool.server_type == "web_search":
            out["web_search_options"] = _web_search_options(tool, ctx, where)
        elif tool.source_format == FORMAT and tool.raw is not None:
            tools.append(dict(tool.raw))  # a vendor's own tool type, carried whole
        else:
            kind = tool.server_type or tool.name
            ctx.lose(where, f"chat has no {kind!r} server tool", "dropped")
    if tools:
        out["tools"] = tools
    # Without tools OpenAI answers 400 to both ("'tool_choice' is only allowed when 'tools'
    # are specified"), and vLLM too: another format's choice among no tools is not sent, and
    # says nothing that is lost. A Chat client's own is sent as it came.
    keep = bool(tools) or bool(carried.get(_CHOICE_ALONE))
    if request.tool_choice is not None:
        choice = request.tool_choice
        hint = carried.get("_tool_choice")
        if _exact(hint, _decode_tool_choice, choice):
            out["tool_choice"] = hint
        else:
            encoded = _encode_tool_choice(choice, request.tools, ctx)
            if encoded is not None:
                out["tool_choice"] = encoded
        ctx.lose_extras(choice.extras, FORMAT, "tool_choice")
        if not keep:
            out.pop("tool_choice", None)
    if request.parallel_tool_calls is not None and keep:
        out["parallel_tool_calls"] = request.parallel_tool_calls
    if request.max_tokens is not None:
        out[carried.get("_max_tokens_key", "max_tokens")] = request.max_tokens
    for key, number in (
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("top_k", request.top_k),
        ("n", request.n),
        ("logprobs", request.logprobs),
        ("top_logprobs", request.top_logprobs),
    ):
        if number is not None:
            out[key] = number
    if request.stop:
        one = len(request.stop) == 1 and carried.get("_stop_string")
        out["stop"] = request.stop[0] if one else list(request.stop)
    if request.output_format is not None:
        hint = carried.get("_response_format")
        if _exact(hint, _decode_output_format, request.output_format):
            out["response_format"] = hint
        else:
            out["response_format"] = _encode_output_format(request.output_format)
    if request.reasoning is not None:
        effort = _encode_reasoning(request.reasoning, carried.get(_EFFORT_HINT), ctx)
        if effort is not None:
            out["reasoning_effort"] = effort
    if request.user is not None:
        out[carried.get("_user_key") or user_field(extras, FORMAT)] = request.user
    if request.metadata is not None:
        out["metadata"] = dict(request.metadata)
    if request.stream:
        out["stream"] = True
        if "stream_options" not in carried and not carried.get("_no_stream_options"):
            out["stream_options"] = {"include_usage": True}  # so that usage arrives
    apply_extras(out, carried)
    if twins:
        for key, value in twins.items():
            out.setdefault(key, value)
    if extras and fast_requested(extras, FORMAT):  # an Anthropic client's ``speed: fast``
        out.setdefault("service_tier", "fast")
    if tier is not None:  # an Anthropic client's ``service_tier``
        out.setdefault("service_tier", tier)
    if cache_options is not None:  # an Anthropic client's top-level ``cache_control``
        out.setdefault("prompt_cache_options", cache_options)
    return out


def _decode_tools(raw: Any) -> tuple[Tool, ...]:
    if raw is None:
        return ()
    return tuple(_decode_tool(t, f"tools[{k}]") for k, t in enumerate(expect_list(raw, "tools")))


_PLAIN_FUNCTION_KEYS: Final = frozenset({"name", "description", "parameters", "strict"})


def _plain_tool(obj: dict[str, Any]) -> Tool | None:
    """A function tool with nothing to keep but its values (no ``null``, no other field), as
    :func:`_decode_tool` reads it; ``None`` for any other shape."""
    inner = obj.get("function")
    if (
        len(obj) != 2
        or obj.get("type") != "function"
        or type(inner) is not dict
        or not inner.keys() <= _PLAIN_FUNCTION_KEYS
    ):
        return None
    name = inner.get("name")
    description = inner.get("description")
    parameters = inner.get("parameters")
    strict = inner.get("strict")
    if (
        type(name) is not str
        or (description is None and "description" in inner)
        or (description is not None and type(description) is not str)
        or (parameters is None and "parameters" in inner)
        or (parameters is not None and type(parameters) is not dict)
        or (strict is None and "strict" in inner)
        or (strict is not None and type(strict) is not bool)
    ):
        return None
    return Tool(name=name, description=description, parameters=parameters, strict=strict)


def _decode_tool(raw: Any, where: str) -> Tool:
    if type(raw) is dict:
        plain = _plain_tool(raw)
        if plain is not None:
            return plain
    obj = expect_obj(raw, where)
    fields = {k: v for k, v in obj.items() if k not in ("type", "function", "custom")}
    kind = obj.get("type", ABSENT)
    if kind is ABSENT and "function" in obj:
        kind = "function"
        fields["_type_absent"] = True
    if kind not in ("function", "custom"):
        # A vendor's own tool type: carried whole, as a server tool Chat alone understands.
        name = kind if isinstance(kind, str) else "unknown"
        return Tool(name=name, kind="server", raw=dict(obj), source_format=FORMAT)
    inner = expect_obj(obj.get(kind), f"{where}.{kind}")
    if kind == "custom":
        fields[CHAT_CUSTOM] = True  # the client's own custom tool: it stays one
    mapped = ("name", "description", "parameters", "strict", "format")
    nested = {k: v for k, v in inner.items() if k not in mapped or v is None}
    if nested:
        fields[kind] = nested
    parameters = inner.get("parameters")
    tool_format = inner.get("format")
    return Tool(
        name=expect_str(inner.get("name"), f"{where}.{kind}.name"),
        kind="custom" if kind == "custom" else "function",
        description=opt_str(inner.get("description"), f"{where}.{kind}.description"),
        parameters=None if parameters is None else expect_obj(parameters, f"{where}.parameters"),
        strict=opt_bool(inner.get("strict"), f"{where}.{kind}.strict"),
        format=None if tool_format is None else flat_grammar(expect_obj(tool_format, where)),
        extras={FORMAT: fields} if fields else {},
    )


def _encode_tool(tool: Tool, ctx: Context, where: str) -> dict[str, Any]:
    if tool.kind == "custom" and not is_chat_custom(tool):
        return _wrapped_tool(tool, ctx, where)
    carried = hints(tool.extras)
    kind = "custom" if tool.kind == "custom" else "function"  # a tool search is a function
    inner: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        inner["description"] = tool.description
    if kind == "custom":
        if tool.format is not None:
            inner["format"] = nested_grammar(tool.format)
        if tool.parameters is not None:
            ctx.lose(f"{where}.parameters", "chat custom tools take no schema", "dropped")
    else:
        if tool.parameters is not None:
            inner["parameters"] = dict(tool.parameters)
        if tool.format is not None:
            ctx.lose(f"{where}.format", "chat function tools take no grammar", "dropped")
    if tool.strict is not None:
        if kind == "custom":
            ctx.lose(f"{where}.strict", "chat custom tools have no strict mode", "dropped")
        else:
            inner["strict"] = tool.strict
    nested = carried.get(kind)
    if isinstance(nested, Mapping):
        inner.update(nested)
    out: dict[str, Any] = {} if carried.get("_type_absent") else {"type": kind}
    out[kind] = inner
    apply_extras(out, {k: v for k, v in carried.items() if k != kind})
    if tool.cache_control is not None:
        ctx.lose(f"{where}.cache_control", "chat caches prompts automatically", "dropped")
    ctx.lose_extras(tool.extras, FORMAT, where)
    return out


def _wrapped_tool(tool: Tool, ctx: Context, where: str) -> dict[str, Any]:
    """A free-form tool from another format as a function tool taking ``{"input": string}``
    (vLLM, Ollama and most compatible servers reject Chat ``custom`` tools); its grammar is
    described, not enforced, and calls to it come back unwrapped."""
    function: dict[str, Any] = {"name": tool.name}
    description = describe(tool, ctx, where, "chat")
    if description is not None:
        function["description"] = description
    function["parameters"] = input_schema()
    if tool.parameters is not None:
        ctx.lose(f"{where}.parameters", "a free-form tool takes no schema", "dropped")
    if tool.strict is not None:
        ctx.lose(f"{where}.strict", "a free-form tool has no strict mode", "dropped")
    if tool.cache_control is not None:
        ctx.lose(f"{where}.cache_control", "chat caches prompts automatically", "dropped")
    ctx.lose_extras(tool.extras, FORMAT, where)
    return {"type": "function", "function": function}


def _web_search_options(tool: Tool, ctx: Context, where: str) -> dict[str, Any]:
    """``web_search_options`` for a web-search server tool (Chat's own, or mapped from
    Claude's and Responses' definitions: context size and approximate location carry)."""
    raw = dict(tool.raw or {})
    if tool.source_format == FORMAT:
        return raw
    out: dict[str, Any] = {}
    size = raw.pop("search_context_size", None)
    if size is not None:
        out["search_context_size"] = size
    location = raw.pop("user_location", None)
    if isinstance(location, Mapping):
        place = {k: location[k] for k in _WEB_LOCATION_KEYS if isinstance(location.get(k), str)}
        if place:
            out["user_location"] = {"type": "approximate", "approximate": place}
    for key in raw:
        if key not in ("type", "name"):
            ctx.lose(f"{where}.{key}", "chat web search has no such option", "dropped")
    return out


def _decode_tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw not in TOOL_CHOICE_MODES:
            raise InvalidPayload(f"tool_choice: unknown mode {raw!r}")
        return ToolChoice(mode=TOOL_CHOICE_MODES[raw])
    obj = expect_obj(raw, "tool_choice")
    kind = obj.get("type")
    if kind in ("function", "custom"):
        inner = expect_obj(obj.get(kind), f"tool_choice.{kind}")
        return ToolChoice(mode="tool", name=expect_str(inner.get("name"), "tool_choice.name"))
    if kind == "allowed_tools":
        inner = expect_obj(obj.get("allowed_tools"), "tool_choice.allowed_tools")
        mode = inner.get("mode")
        if mode not in ("auto", "required"):
            raise InvalidPayload(f"tool_choice.allowed_tools.mode: unknown mode {mode!r}")
        names = []
        for k, entry in enumerate(expect_list(inner.get("tools"), "tool_choice.allowed_tools")):
            where = f"tool_choice.allowed_tools.tools[{k}]"
            entry = expect_obj(entry, where)
            spec = expect_obj(entry.get(str(entry.get("type"))), where)
            names.append(expect_str(spec.get("name"), f"{where}.name"))
        return ToolChoice(mode="any" if mode == "required" else "auto", allowed=tuple(names))
    raise InvalidPayload(f"tool_choice.type: unknown type {kind!r}")


def _encode_tool_choice(
    choice: ToolChoice, tools: tuple[Tool, ...], ctx: Context | None = None
) -> Any:
    """``tool_choice`` for ``choice``; a named Chat custom tool gets the ``custom`` form (a
    free-form tool from another format is a function tool here)."""
    kinds = {t.name: t.kind for t in tools if t.kind != "server"}
    native = {t.name for t in tools if is_chat_custom(t)}

    def named(name: str) -> dict[str, Any]:
        kind = "custom" if name in native else "function"
        return {"type": kind, kind: {"name": name}}

    if choice.mode == "tool":
        if choice.name is None:
            if ctx is not None:
                ctx.lose("tool_choice", "a forced tool choice names no tool", "sent as required")
            return "required"
        server = {t.name for t in tools if t.kind == "server"}
        if ctx is not None and choice.name in server and choice.name not in kinds:
            ctx.lose("tool_choice", f"chat cannot force the server tool {choice.name!r}", "dropped")
            return None
        return named(choice.name)
    if choice.allowed is not None and choice.mode in ("auto", "any"):
        return {
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "required" if choice.mode == "any" else "auto",
                "tools": [named(n) for n in choice.allowed],
            },
        }
    return _MODE_TO_CHOICE.get(choice.mode, "auto")


def _decode_output_format(raw: Any) -> OutputFormat | None:
    if raw is None:
        return None
    obj = expect_obj(raw, "response_format")
    kind = obj.get("type")
    if kind in ("text", "json_object"):
        return OutputFormat(kind=kind)
    if kind != "json_schema":
        raise InvalidPayload(f"response_format.type: unknown type {kind!r}")
    spec = expect_obj(obj.get("json_schema"), "response_format.json_schema")
    schema = spec.get("schema")
    return OutputFormat(
        kind="json_schema",
        name=opt_str(spec.get("name"), "response_format.json_schema.name"),
        schema=None if schema is None else expect_obj(schema, "response_format.json_schema"),
        strict=opt_bool(spec.get("strict"), "response_format.json_schema.strict"),
        description=opt_str(spec.get("description"), "response_format.json_schema.description"),
    )


def _encode_output_format(fmt: OutputFormat) -> dict[str, Any]:
    if fmt.kind != "json_schema":
        return {"type": fmt.kind}
    spec: dict[str, Any] = {"name": fmt.name if fmt.name is not None else "response"}
    if fmt.description is not None:
        spec["description"] = fmt.description
    if fmt.schema is not None:
        spec["schema"] = dict(fmt.schema)
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}


def _decode_reasoning(raw: Any) -> ReasoningConfig | None:
    effort = opt_str(raw, "reasoning_effort")
    if effort is None:
        return None
    return ReasoningConfig(mode="disabled" if effort == "none" else "enabled", effort=effort)


def _encode_reasoning(reasoning: ReasoningConfig, hint: Any, ctx: Context) -> str | None:
    """``reasoning_effort`` for ``reasoning``: the Chat client's own word (``hint``) as it
    came; otherwise ``low``, ``medium`` or ``high`` only, the nearest to the effort word or
    to a budget's band (a loss when the word changes)."""
    if reasoning.summary is not None:
        ctx.lose("reasoning.summary", "chat has no reasoning summaries", "dropped")
    if _exact(hint, _decode_reasoning, reasoning):
        return str(hint)
    if reasoning.mode == "disabled":
        ctx.lose("reasoning", "chat cannot switch reasoning off for every model", "omitted")
        return None
    if reasoning.effort is not None:
        if reasoning.budget_tokens is not None and reasoning.mode == "enabled":
            ctx.lose("reasoning.budget_tokens", "chat has effort levels only", "dropped")
        return _effort(reasoning.effort, ctx)
    if reasoning.mode == "adaptive":
        # The model decides, at Anthropic's default effort (high). Chat has no word for
        # "decide yourself", and a fixed high effort would override the server's own default
        # (and make servers without reasoning reject the request): no reasoning_effort, said.
        ctx.lose(
            "reasoning",
            "chat has no adaptive thinking (Anthropic's default effort is high)",
            "sent without reasoning_effort: the server's default effort applies",
        )
        return None
    if reasoning.budget_tokens is not None:
        effort = effort_for_budget(
            reasoning.budget_tokens, allowed=ctx.reasoning_efforts or _EFFORTS
        )
        ctx.lose(
            "reasoning.budget_tokens",
            f"chat has effort levels only; a budget of {reasoning.budget_tokens} tokens",
            f"sent as reasoning_effort {effort!r}",
        )
        return effort
    return None


def _effort(word: str, ctx: Context) -> str:
    """``word`` as one of the efforts the upstream accepts (``ctx.reasoning_efforts``, by
    default those every compatible server accepts), the nearest when not (a loss)."""
    accepted = ctx.reasoning_efforts or _EFFORTS
    effort = nearest_effort(word, accepted)
    if effort != word:
        server = (
            "this chat upstream accepts"
            if ctx.reasoning_efforts
            else ("chat servers such as vLLM accept")
        )
        ctx.lose(
            "reasoning.effort",
            f"{server} reasoning_effort {', '.join(accepted)} only, not {word!r}",
            f"sent as reasoning_effort {effort!r}",
        )
    return effort
