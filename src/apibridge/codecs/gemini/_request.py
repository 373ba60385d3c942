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
  Consecutive model contents (a streamed chat session keeps one per chunk) decode as one
  assistant message, their texts and thoughts joined (``_history``); a request from another
  format gets its function responses in the order of the calls they answer (Gemini 2.5 pairs
  them by position).
* ``systemInstruction`` (text parts) ⇄ ``Request.system``. Gemini has no system turns: one
  between the turns of another format's request moves to ``systemInstruction`` (a loss,
  ``moved``), as the Anthropic encoder does.
* ``tools``, ``toolConfig`` and ``generationConfig.thinkingConfig`` ⇄ tools, tool choice and
  :class:`~apibridge.model.ReasoningConfig`: ``_settings`` (built-in tools such as
  ``googleSearch`` are server tools of origin ``gemini``, carried to Gemini as they came and
  reported lost by the other formats);
* ``generationConfig``: ``temperature``, ``topP``, ``topK``, ``maxOutputTokens``,
  ``stopSequences``, ``candidateCount`` (more than 1 is refused: apibridge answers one
  candidate), ``responseMimeType`` with ``responseJsonSchema`` / ``responseSchema`` ⇄
  :class:`~apibridge.model.OutputFormat`, ``responseLogprobs`` / ``logprobs`` ⇄ ``logprobs`` /
  ``top_logprobs``. Its other fields (``seed``, penalties, ``responseModalities``,
  ``speechConfig`` …) and the request's other fields (``safetySettings``, ``cachedContent`` …)
  ride in ``extras["gemini"]``; a Chat client's ``seed``, ``presence_penalty`` and
  ``frequency_penalty`` become those ``generationConfig`` fields.

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
from typing import Any, Final

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
from apibridge.codecs.gemini._history import merge_model_turns, results_in_call_order
from apibridge.codecs.gemini._parts import (
    Calls,
    call_names,
    decode_parts,
    encode_parts,
)
from apibridge.codecs.gemini._settings import (
    decode_thinking,
    decode_tool_config,
    decode_tools,
    encode_thinking,
    encode_tool_config,
    encode_tools,
    json_schema,
    known,
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
    Request,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["NATIVE", "decode_request", "encode_request"]

#: hint: the request came from a Gemini client; its turns and settings go back as they came.
NATIVE: Final = "_native"

#: the most stop sequences Gemini takes (``GenerationConfig.stopSequences``: "up to 5").
_MAX_STOPS: Final = 5

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


_TOP_KEYS: Final = known(_TOP)
_GENERATION_MAPPED: Final = known(_GENERATION)


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
    messages = merge_model_turns(
        [
            _decode_content(raw, i, calls)
            for i, raw in enumerate(expect_list(field(body, "contents"), "contents"))
        ]
    )
    system = _decode_system(field(body, "systemInstruction"), hints)
    tools = decode_tools(field(body, "tools"))
    choice = decode_tool_config(field(body, "toolConfig"), hints)
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
        reasoning=decode_thinking(field(config, "thinkingConfig"), hints),
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
    for key in known(("responseMimeType", "responseJsonSchema", "responseSchema")):
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
    tools = encode_tools(request.tools, ctx)
    if tools:
        out["tools"] = tools
    tool_config = encode_tool_config(request, own, ctx, has_tools=bool(tools) or native)
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
    result_media = native or model_name(request.model).startswith("gemini-3")
    moved: list[TextPart] = []
    out: list[dict[str, Any]] = []
    ids: list[list[str]] = []  # per turn: a model turn's call ids, a user turn's result ids
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
        parts = encode_parts(
            message.content, ctx, f"{where}.parts", names=names, result_media=result_media
        )
        if message.content and not parts:
            ctx.lose_extras(message.extras, FORMAT, where)
            continue  # everything in the turn was left out (reported): no empty turn
        if role == "model":
            keys = [p.id for p in message.content if isinstance(p, ToolCallPart)]
        else:
            keys = [p.call_id for p in message.content if isinstance(p, ToolResultPart)]
        if not native and out and out[-1].get("role") == role:
            ctx.lose_extras(message.extras, FORMAT, where)
            out[-1]["parts"].extend(parts)
            ids[-1].extend(keys)
            continue
        out.append(_encode_turn(role, parts, message, ctx, where))
        ids.append(keys)
    if not native:
        reported = False
        for k, content in enumerate(out):
            if content.get("role") == "model":
                reported = _sign_first_call(content["parts"], ctx, k, reported=reported)
            elif k and out[k - 1].get("role") == "model":
                # Gemini pairs results without ids with the calls by position
                results_in_call_order(content["parts"], ids[k], ids[k - 1])
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
        stop = list(request.stop)
        if len(stop) > _MAX_STOPS and not native:
            ctx.lose(
                "stop",
                f"Gemini takes at most {_MAX_STOPS} stop sequences",
                f"sent the first {_MAX_STOPS}",
            )
            stop = stop[:_MAX_STOPS]
        out["stopSequences"] = stop
    if request.logprobs is not None:
        out["responseLogprobs"] = request.logprobs
    if request.top_logprobs is not None:
        out["logprobs"] = request.top_logprobs
        if not request.logprobs:
            out["responseLogprobs"] = True
    _encode_output(request.output_format, own, out, ctx)
    thinking = encode_thinking(request, own, ctx, native=native)
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
