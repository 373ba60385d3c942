"""Gemini ``generateContent`` requests ⇄ canonical :class:`~apibridge.Request`.

Theory of operation
-------------------
A request body is a ``GenerateContentRequest``: ``model`` (``models/x``; the gateway puts the
path's model there, the transport takes it out again), ``contents``, ``systemInstruction``,
``tools``, ``toolConfig``, ``generationConfig``, ``safetySettings``, ``cachedContent``. Every
field is read in camelCase or snake_case (``_wire.field``); the encoder writes camelCase.

* ``contents``: ``user`` ⇄ ``user``, ``model`` ⇄ ``assistant`` (the legacy ``function`` role
  is a user turn); parts by ``_parts``, with call ids made from each call's position and
  ``functionResponse`` parts paired with their calls by id, else by name and order.
* ``systemInstruction`` (text parts) ⇄ ``Request.system``. Gemini has no system turns: one
  between the turns of another format's request moves to ``systemInstruction`` (a loss,
  ``moved``), as the Anthropic encoder does.
* ``tools``: each ``functionDeclarations`` entry ⇄ a function :class:`~apibridge.model.Tool`
  (JSON Schema from ``parametersJsonSchema``, or from the OpenAPI ``parameters`` with its
  upper-case types lower-cased; written back as ``parametersJsonSchema``); every other key of a
  tool object (``googleSearch``, ``codeExecution``, ``urlContext`` …) a server tool of origin
  ``gemini`` (``server_type`` its snake_case name), carried to Gemini as it came and reported
  lost by the other formats. A free-form (Responses ``custom``) tool goes as a function taking
  ``{"input": string}`` (``codecs._custom_tools``).
* ``toolConfig.functionCallingConfig`` ⇄ :class:`~apibridge.model.ToolChoice`: ``AUTO`` ⇄
  ``auto``, ``ANY`` ⇄ ``any`` (with one allowed name ⇄ ``tool``), ``NONE`` ⇄ ``none``,
  ``VALIDATED`` (auto, constrained) ⇄ ``auto`` with the mode kept in the choice's extras; an
  ``auto`` choice restricted to some tools is ``VALIDATED`` with those names.
* ``generationConfig``: ``temperature``, ``topP``, ``topK``, ``maxOutputTokens``,
  ``stopSequences``, ``candidateCount`` (more than 1 is refused: apibridge answers one
  candidate), ``responseMimeType`` with ``responseJsonSchema`` / ``responseSchema`` ⇄
  :class:`~apibridge.model.OutputFormat`, ``responseLogprobs`` / ``logprobs`` ⇄ ``logprobs`` /
  ``top_logprobs``, ``thinkingConfig`` ⇄ :class:`~apibridge.model.ReasoningConfig`
  (``thinkingBudget`` 0 disabled, -1 adaptive, N a budget; ``thinkingLevel`` an effort;
  ``includeThoughts`` the summary ``auto``). Its other fields (``seed``, penalties,
  ``responseModalities``, ``speechConfig`` …) and the request's other fields
  (``safetySettings``, ``cachedContent`` …) ride in ``extras["gemini"]``; a Chat client's
  ``seed``, ``presence_penalty`` and ``frequency_penalty`` become those ``generationConfig``
  fields.

Decoded requests carry the hint ``_native``: the client's own turns and settings go back as
they came. A request from another format is fitted to Gemini instead: consecutive turns of one
role merge, thinking without a Gemini signature is left out (``_parts``), the first function
call of a model turn that has no signature gets the documented placeholder (one loss), effort
becomes ``thinkingLevel`` on ``gemini-3`` models and a ``thinkingBudget`` (``codecs._reasoning``)
on the others, and ``includeThoughts`` is on whenever reasoning is, since clients of other
formats expect to see it.
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
    opt_number,
    opt_str,
)
from apibridge.codecs._custom_tools import describe, input_schema
from apibridge.codecs._reasoning import budget_for_effort, nearest_effort
from apibridge.codecs.gemini._parts import (
    Calls,
    call_names,
    decode_parts,
    encode_parts,
)
from apibridge.codecs.gemini._wire import (
    FORMAT,
    PLACEHOLDER_SIGNATURE,
    field,
    model_name,
    model_path,
    snake,
)
from apibridge.errors import InvalidPayload, Loss, UnsupportedFeature
from apibridge.model import (
    Message,
    OutputFormat,
    ReasoningConfig,
    Request,
    TextPart,
    Tool,
    ToolChoice,
)

__all__ = ["NATIVE", "decode_request", "encode_request", "json_schema"]

#: hint: the request came from a Gemini client; its turns and settings go back as they came.
NATIVE: Final = "_native"

#: ``generateContent`` body fields the canonical request maps (camelCase).
_TOP: Final = (
    "model",
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
)
#: ``generationConfig`` fields the canonical request maps.
_GENERATION: Final = (
    "temperature",
    "topP",
    "topK",
    "maxOutputTokens",
    "stopSequences",
    "candidateCount",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
)
#: every ``generationConfig`` field (``google-genai`` 3.6 ``GenerationConfig``): extras with
#: these names go back into ``generationConfig``, any other at the top of the body.
_GENERATION_ALL: Final = frozenset(
    {
        *_GENERATION,
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "responseModalities",
        "mediaResolution",
        "speechConfig",
        "audioTimestamp",
        "enableAffectiveDialog",
        "enableEnhancedCivicAnswers",
        "imageConfig",
        "modelSelectionConfig",
        "routingConfig",
        "_responseJsonSchema",
    }
)
_GENERATION_KEYS: Final = _GENERATION_ALL | frozenset(snake(k) for k in _GENERATION_ALL)

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


def _known(names: Sequence[str]) -> frozenset[str]:
    return frozenset(names) | frozenset(snake(n) for n in names)


_TOP_KEYS: Final = _known(_TOP)
_GENERATION_MAPPED: Final = _known(_GENERATION)


# ------------------------------------------------------------------------------ decoding


def decode_request(body: Mapping[str, Any], ctx: Context) -> Request:
    """A ``generateContent`` request body as a canonical :class:`~apibridge.Request`.

    ``stream`` is ``False``: whether the client streams is in its URL, not in the body (the
    gateway sets it). Raises :class:`~apibridge.errors.InvalidPayload` for a malformed body and
    for ``candidateCount`` above 1.
    """
    body = expect_obj(body, "request")
    hints: dict[str, Any] = {NATIVE: True}
    hints.update({k: v for k, v in body.items() if k not in _TOP_KEYS})
    model = model_name(expect_str(body.get("model"), "model"))
    calls = Calls()
    messages = tuple(
        _decode_content(raw, i, calls)
        for i, raw in enumerate(expect_list(field(body, "contents"), "contents"))
    )
    system = _decode_system(field(body, "systemInstruction"), hints)
    tools = _decode_tools(field(body, "tools"))
    choice = _decode_tool_config(field(body, "toolConfig"), hints)
    config = field(body, "generationConfig")
    config = {} if config is None else expect_obj(config, "generationConfig")
    for key, value in config.items():
        if key not in _GENERATION_MAPPED:
            hints[key] = value
    count = opt_int(field(config, "candidateCount"), "generationConfig.candidateCount")
    if count is not None and count > 1:
        raise InvalidPayload(
            f"generationConfig.candidateCount: apibridge answers with one candidate, "
            f"got {count}; send {count} requests instead"
        )
    stops = field(config, "stopSequences")
    stop = tuple(
        expect_str(s, f"generationConfig.stopSequences[{i}]")
        for i, s in enumerate(expect_list(stops or [], "generationConfig.stopSequences"))
    )
    return Request(
        model=model,
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=choice,
        max_tokens=opt_int(field(config, "maxOutputTokens"), "generationConfig.maxOutputTokens"),
        temperature=opt_number(field(config, "temperature"), "generationConfig.temperature"),
        top_p=opt_number(field(config, "topP"), "generationConfig.topP"),
        top_k=_whole(field(config, "topK"), "generationConfig.topK"),
        stop=stop,
        reasoning=_decode_thinking(field(config, "thinkingConfig"), hints),
        output_format=_decode_output(config, hints),
        n=count,
        logprobs=opt_bool(field(config, "responseLogprobs"), "generationConfig.responseLogprobs"),
        top_logprobs=opt_int(field(config, "logprobs"), "generationConfig.logprobs"),
        extras={FORMAT: hints},
    )


def _whole(value: Any, where: str) -> int | None:
    """An integer that the SDK may write as a float (``topK: 20.0``)."""
    number = opt_number(value, where)
    if number is None or isinstance(number, int):
        return number
    if not number.is_integer():
        raise InvalidPayload(f"{where}: expected an integer, got {number}")
    return int(number)


def _decode_content(raw: Any, i: int, calls: Calls) -> Message:
    where = f"contents[{i}]"
    obj = expect_obj(raw, where)
    role = opt_str(obj.get("role"), f"{where}.role")
    fields = {k: v for k, v in obj.items() if k not in ("role", "parts")}
    if role is None:
        fields["_no_role"] = True
        role = "user"
    elif role == "function":  # the legacy role of functionResponse turns
        fields["_role"] = role
        role = "user"
    elif role not in ("user", "model"):
        raise InvalidPayload(f"{where}.role: expected user or model, got {role!r}")
    parts = decode_parts(obj.get("parts", []), f"{where}.parts", calls=calls, turn=i)
    return Message(
        role="assistant" if role == "model" else "user",
        content=tuple(parts),
        extras={FORMAT: fields} if fields else {},
    )


def _decode_system(value: Any, hints: dict[str, Any]) -> tuple[TextPart, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # lenient: the SDK's own shorthand
        hints["_system_string"] = True
        return (TextPart(text=value),)
    obj = expect_obj(value, "systemInstruction")
    rest = {k: v for k, v in obj.items() if k != "parts"}
    if rest:
        hints["_system"] = rest
    parts = decode_parts(obj.get("parts", []), "systemInstruction.parts")
    out = []
    for i, part in enumerate(parts):
        if not isinstance(part, TextPart):
            raise InvalidPayload(f"systemInstruction.parts[{i}]: expected a text part")
        out.append(part)
    return tuple(out)


def _decode_tools(value: Any) -> tuple[Tool, ...]:
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


_FUNCTION_KEYS: Final = _known(("name", "description", "parameters", "parametersJsonSchema"))


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


def _decode_tool_config(value: Any, hints: dict[str, Any]) -> ToolChoice | None:
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


_CALLING_KEYS: Final = _known(("mode", "allowedFunctionNames"))


def _wrap(fields: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {FORMAT: dict(fields)} if fields else {}


def _decode_thinking(value: Any, hints: dict[str, Any]) -> ReasoningConfig | None:
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
        if k not in _known(("thinkingBudget", "thinkingLevel", "includeThoughts"))
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


def _decode_output(config: Mapping[str, Any], hints: dict[str, Any]) -> OutputFormat | None:
    mime = opt_str(field(config, "responseMimeType"), "generationConfig.responseMimeType")
    schema = field(config, "responseJsonSchema")
    openapi = field(config, "responseSchema")
    if mime == "application/json":
        if schema is not None:
            if openapi is not None:
                hints["responseSchema"] = openapi
            where = "generationConfig.responseJsonSchema"
            return OutputFormat(kind="json_schema", schema=expect_obj(schema, where))
        if openapi is not None:
            hints["_openapi_schema"] = openapi  # a Gemini trip sends it back as it came
            where = "generationConfig.responseSchema"
            return OutputFormat(kind="json_schema", schema=json_schema(expect_obj(openapi, where)))
        return OutputFormat(kind="json_object")
    if mime == "text/plain" and schema is None and openapi is None:
        return OutputFormat(kind="text")
    # another media type (text/x.enum …), or a schema without one: carried as it came
    for key in _known(("responseMimeType", "responseJsonSchema", "responseSchema")):
        if key in config:
            hints[key] = config[key]
    return None


# ------------------------------------------------------------------------------ encoding


def encode_request(request: Request, ctx: Context) -> dict[str, Any]:
    """A canonical request as a ``generateContent`` body for a Gemini upstream (``model``
    included as ``models/x``: the transport moves it into the URL; no ``stream``: the URL says
    it). Raises :class:`~apibridge.errors.UnsupportedFeature` for ``n > 1``; everything else
    Gemini cannot hold is reported through ``ctx``."""
    if request.n is not None and request.n > 1:
        raise UnsupportedFeature(
            Loss(field="n", reason="apibridge answers with one Gemini candidate", action="refused")
        )
    own: Mapping[str, Any] = request.extras.get(FORMAT) or {}
    native = bool(own.get(NATIVE))
    twins = _chat_twins(request.extras)
    foreign = request.extras
    if twins:
        chat = {k: v for k, v in request.extras["chat"].items() if k not in _CHAT_TWINS}
        foreign = {**request.extras, "chat": chat}
    ctx.lose_extras(foreign, FORMAT, "request")
    out: dict[str, Any] = {"model": model_path(request.model)}
    contents, moved = _encode_contents(request, ctx, native=native)
    out["contents"] = contents
    system = _encode_system((*request.system, *moved), own, ctx)
    if system is not None:
        out["systemInstruction"] = system
    tools = _encode_tools(request.tools, ctx)
    if tools:
        out["tools"] = tools
    tool_config = _encode_tool_config(request, own, ctx, has_tools=bool(tools) or native)
    if tool_config:
        out["toolConfig"] = tool_config
    config = _encode_generation(request, own, ctx, native=native)
    for key, value in twins.items():
        config.setdefault(key, value)
    for key, value in own.items():
        if key.startswith("_") or key in ("toolConfig", "thinkingConfig"):
            continue
        target = config if key in _GENERATION_KEYS else out
        target.setdefault(key, value)
    if config:
        out["generationConfig"] = config
    for name, value in (("user", request.user), ("metadata", request.metadata)):
        if value is not None:
            ctx.lose(name, f"Gemini requests have no {name}")
    if request.parallel_tool_calls is False:
        ctx.lose("parallel_tool_calls", "Gemini cannot be kept from calling tools in parallel")
    return out


#: a Chat client's sampling fields that Gemini's ``generationConfig`` has too.
_CHAT_TWINS: Final[Mapping[str, str]] = {
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


def _chat_twins(extras: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The ``generationConfig`` fields a Chat client's own fields give (``seed``, penalties)."""
    chat = extras.get("chat")
    if not chat:
        return {}
    return {_CHAT_TWINS[k]: v for k, v in chat.items() if k in _CHAT_TWINS and v is not None}


def _encode_system(
    parts: Sequence[TextPart], own: Mapping[str, Any], ctx: Context
) -> dict[str, Any] | str | None:
    if not parts:
        return None
    if own.get("_system_string") and len(parts) == 1 and not parts[0].extras:
        return parts[0].text
    out: dict[str, Any] = {}
    rest = own.get("_system")
    if isinstance(rest, Mapping):
        out.update(rest)
    out["parts"] = encode_parts(parts, ctx, "systemInstruction.parts")
    return out


def _encode_contents(
    request: Request, ctx: Context, *, native: bool
) -> tuple[list[dict[str, Any]], list[TextPart]]:
    """The ``contents`` array, and the system text that had to move to ``systemInstruction``."""
    names = call_names(request.messages)
    moved: list[TextPart] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(request.messages):
        where = f"contents[{i}]"
        if message.name is not None:
            ctx.lose(f"{where}.name", "Gemini turns have no name")
        if message.role in ("system", "developer"):
            ctx.lose(where, "Gemini has no system turns", "moved to systemInstruction")
            ctx.lose_extras(message.extras, FORMAT, where)
            for j, part in enumerate(message.content):
                if isinstance(part, TextPart):
                    moved.append(part)
                else:
                    ctx.lose(f"{where}.parts[{j}]", "the system instruction holds only text")
            continue
        if message.role not in ("user", "assistant"):
            raise InvalidPayload(f"{where}.role: Gemini has no {message.role!r} turns")
        role = "model" if message.role == "assistant" else "user"
        parts = encode_parts(message.content, ctx, f"{where}.parts", names=names)
        if message.content and not parts:
            ctx.lose_extras(message.extras, FORMAT, where)
            continue  # everything in the turn was left out (reported): no empty turn
        if not native and out and out[-1].get("role") == role:
            ctx.lose_extras(message.extras, FORMAT, where)
            out[-1]["parts"].extend(parts)
            continue
        out.append(_encode_turn(role, parts, message, ctx, where))
    if not native:
        reported = False
        for k, content in enumerate(out):
            if content.get("role") == "model":
                reported = _sign_first_call(content["parts"], ctx, k, reported=reported)
    return out, moved


def _sign_first_call(
    parts: list[dict[str, Any]], ctx: Context, turn: int, *, reported: bool
) -> bool:
    """Give the first function call of a model turn the placeholder signature when it has
    none (Gemini 3 refuses such a history); the loss is reported once per request."""
    for j, part in enumerate(parts):
        if "functionCall" not in part:
            continue
        if "thoughtSignature" in part:
            return reported
        part["thoughtSignature"] = PLACEHOLDER_SIGNATURE
        if not reported:
            ctx.lose(
                f"contents[{turn}].parts[{j}].thoughtSignature",
                "the call has no Gemini thought signature (another model made it, or the "
                "client dropped it)",
                "sent with Gemini's placeholder: the model's reasoning is not replayed",
            )
        return True
    return reported


def _encode_turn(
    role: str, parts: list[dict[str, Any]], message: Message, ctx: Context, where: str
) -> dict[str, Any]:
    own = message.extras.get(FORMAT) or {}
    out: dict[str, Any] = {}
    if own.get("_role"):
        out["role"] = own["_role"]
    elif not own.get("_no_role"):
        out["role"] = role
    out["parts"] = parts
    for key, value in own.items():
        if not key.startswith("_"):
            out.setdefault(key, value)
    ctx.lose_extras(message.extras, FORMAT, where)
    return out


def _encode_tools(tools: Sequence[Tool], ctx: Context) -> list[dict[str, Any]]:
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


def _encode_tool_config(
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


def _encode_generation(
    request: Request, own: Mapping[str, Any], ctx: Context, *, native: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (
        ("temperature", request.temperature),
        ("topP", request.top_p),
        ("topK", request.top_k),
        ("candidateCount", request.n),
        ("maxOutputTokens", request.max_tokens),
    ):
        if value is not None:
            out[key] = value
    if request.stop:
        out["stopSequences"] = list(request.stop)
    if request.logprobs is not None:
        out["responseLogprobs"] = request.logprobs
    if request.top_logprobs is not None:
        out["logprobs"] = request.top_logprobs
        if not request.logprobs:
            out["responseLogprobs"] = True
    _encode_output(request.output_format, own, out, ctx)
    thinking = _encode_thinking(request, own, ctx, native=native)
    if thinking is not None:
        out["thinkingConfig"] = thinking
    return out


def _encode_output(
    fmt: OutputFormat | None, own: Mapping[str, Any], out: dict[str, Any], ctx: Context
) -> None:
    if fmt is None:
        return
    if fmt.kind == "text":
        out["responseMimeType"] = "text/plain"
        return
    out["responseMimeType"] = "application/json"
    if fmt.kind == "json_schema" and fmt.schema is not None:
        schema = fmt.schema if type(fmt.schema) is dict else dict(fmt.schema)
        openapi = own.get("_openapi_schema")
        if isinstance(openapi, Mapping) and json_schema(openapi) == schema:
            out["responseSchema"] = openapi  # the client's own OpenAPI schema, as it came
        else:
            out["responseJsonSchema"] = schema
    for name, value in (("name", fmt.name), ("description", fmt.description)):
        if value is not None:
            ctx.lose(f"output_format.{name}", f"Gemini response schemas have no {name}")
    if fmt.strict is False:
        ctx.lose("output_format.strict", "Gemini always follows the response schema")


def _thinks(model: str) -> bool:
    """Whether a Gemini model takes ``thinkingConfig`` (1.x, 2.0 and Gemma models do not)."""
    return not model.startswith(("gemini-1", "gemini-2.0", "gemma"))


def _encode_thinking(
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
