"""Responses request bodies (``POST /v1/responses``) ↔ the canonical :class:`Request`.

Theory of operation
-------------------
``input`` is a string or a flat list of items. Leading ``system``/``developer`` message items
(of one role) and ``instructions`` become ``Request.system``; every later item joins a turn:
consecutive items of one side fold into one :class:`~apibridge.model.Message` (assistant side:
assistant messages, ``function_call``, ``custom_tool_call``, ``reasoning``, server items such as
``web_search_call``; user side: user messages and the ``*_output`` items, as
:class:`~apibridge.model.ToolResultPart`). ``item_reference`` items stay in place as opaque
:class:`~apibridge.model.ServerToolPart` values of the current turn. Hints in the parts (see
:mod:`apibridge.codecs.responses._items`) put the items back exactly. Refused (400): a message
role other than ``user``, ``assistant``, ``system``, ``developer``; an item with neither
``type`` nor ``role`` (an ``item_reference`` without its optional type still has an ``id``),
or an ``item_reference`` without ``id``; a negative ``max_output_tokens``.

Top-level fields map one to one where the model has them (``max_output_tokens`` ↔
``max_tokens``, ``reasoning`` ↔ :class:`ReasoningConfig`, ``text.format`` ↔
:class:`OutputFormat`, ``user``/``safety_identifier`` ↔ ``user``, ``top_logprobs``, and the
``message.output_text.logprobs`` include ↔ ``logprobs``); everything else (``store``,
``include``, ``previous_response_id``, ``prompt_cache_key``, ``text.verbosity`` …) rides in
``extras["responses"]``, and a Chat client's twins of those (``store``, ``service_tier``,
``prompt_cache_key``, ``moderation`` …, ``verbosity`` → ``text.verbosity``) are written too
(:mod:`apibridge.codecs._openai_twins`). Tools, ``tool_choice``, ``reasoning`` and ``text``
are read and written by :mod:`apibridge.codecs.responses._settings`. Deliberately lossy:
Responses has no stop sequences or ``top_k`` (reported as losses), and ``n > 1`` raises
:class:`~apibridge.errors.UnsupportedFeature`. A request that did not come from a Responses
client and asks for reasoning also asks for ``reasoning.encrypted_content`` with
``store: false`` (unless it chose), so the reasoning comes back and can be replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs._cache_markers import (
    breakpoints_on,
    is_marked,
    openai_breakpoint,
    top_level_marker,
)
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    opt_int,
    opt_number,
    str_or_none,
)
from apibridge.codecs._context_edits import carry_context_management
from apibridge.codecs._openai_twins import (
    fast_requested,
    request_tier,
    request_twins,
    user_field,
    without_fast,
    without_twins,
)
from apibridge.codecs._phase import derive_phases, is_from_responses
from apibridge.codecs.responses._items import (
    ItemIds,
    decode_item,
    decode_message,
    encode_parts,
)
from apibridge.codecs.responses._settings import (
    add_loaded_tools,
    decode_reasoning_config,
    decode_text,
    decode_tool_choice,
    decode_tools,
    encode_reasoning_config,
    encode_text,
    encode_tool_choice,
    encode_tools,
)
from apibridge.codecs.responses._wire import (
    FORMAT,
    USER_SIDE_ITEMS,
    finish,
    has_foreign,
    hints,
    lose_foreign,
    pack,
    part_hints,
    split,
)
from apibridge.errors import InvalidPayload, Loss, UnsupportedFeature
from apibridge.model import ContentPart, Message, Request, ServerToolPart, TextPart, Tool

__all__ = ["decode_request", "encode_request"]

_REQUEST_FIELDS = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
        "max_output_tokens", "temperature", "top_p", "reasoning", "text", "stream",
        "metadata", "user", "top_logprobs",
    }
)  # fmt: skip

#: the mapped fields with the one that holds the end user's id (``user``, or the newer
#: ``safety_identifier``).
_USER_FIELDS: Final = _REQUEST_FIELDS | {"user"}
_SAFETY_FIELDS: Final = _REQUEST_FIELDS | {"safety_identifier"}

_LOGPROBS_INCLUDE = "message.output_text.logprobs"
_REASONING_INCLUDE = "reasoning.encrypted_content"


#: the roles of an input message (``EasyInputMessage``); any other is refused.
_INPUT_ROLES: Final = frozenset({"user", "assistant", "system", "developer"})


def _max_output_tokens(value: Any) -> int | None:
    limit = opt_int(value, "max_output_tokens")
    if limit is not None and limit < 0:
        raise InvalidPayload(f"max_output_tokens: must not be negative, got {limit}")
    return limit


# ------------------------------------------------------------------------------ input


def _decode_input(
    value: Any, extra: dict[str, Any]
) -> tuple[list[TextPart], str, tuple[Message, ...]]:
    """``input`` as (system parts, their role, turns): items of one side fold into a turn."""
    if value is None:
        return [], "system", ()
    if isinstance(value, str):
        extra["_input_string"] = True
        return [], "system", (Message(role="user", content=(TextPart(text=value),)),)
    system: list[TextPart] = []
    system_role: str | None = None
    turns: list[tuple[str, list[ContentPart]]] = []
    for i, raw in enumerate(expect_list(value, "input")):
        item = raw if type(raw) is dict else expect_obj(raw, f"input[{i}]")
        kind = item.get("type")
        if kind == "message" or (kind is None and "type" not in item and "role" in item):
            # (is_message, inline: one test per item)
            side = item.get("role")
            if type(side) is not str:
                side = expect_str(side, f"input[{i}].role")
            if side not in _INPUT_ROLES:
                raise InvalidPayload(f"input[{i}].role: unknown role {side!r}")
            parts = decode_message(item, side, f"input[{i}]")
            if not turns and side in ("system", "developer") and system_role in (None, side):
                texts = [p for p in parts if isinstance(p, TextPart)]
                if len(texts) == len(parts):
                    system.extend(texts)
                    system_role = side
                    continue
        elif item.get("type", "item_reference") == "item_reference":
            # A reference to a stored item: kept in place, in whatever turn is open. Without
            # an id it references nothing (and without a type it was no reference at all).
            ref_id = str_or_none(item.get("id"))
            if not ref_id:
                if "type" not in item:
                    raise InvalidPayload(f"input[{i}]: an item needs a type or a role")
                raise InvalidPayload(f"input[{i}].id: an item_reference needs an id")
            parts = [
                ServerToolPart(
                    kind="item_reference", raw=dict(item), source_format=FORMAT, id=ref_id
                )
            ]
            side = turns[-1][0] if turns else "user"
        else:
            parts = [decode_item(item, f"input[{i}]")]
            side = "user" if kind in USER_SIDE_ITEMS else "assistant"  # item_side, inline
        if turns and turns[-1][0] == side:
            turns[-1][1].extend(parts)
        else:
            turns.append((side, parts))
    messages = tuple([Message(role=role, content=tuple(parts)) for role, parts in turns])
    return system, system_role or "system", messages


# ---------------------------------------------------------------------------- request


def decode_request(body: Mapping[str, Any], ctx: Context) -> Request:
    """A Responses request body in canonical form (unknown fields kept in extras)."""
    body = expect_obj(body, "request")
    user_key = "user" if "user" in body or "safety_identifier" not in body else "safety_identifier"
    extra = split(body, _USER_FIELDS if user_key == "user" else _SAFETY_FIELDS)
    extra["_native"] = True  # a Responses client chose its own include/store
    if user_key != "user":
        extra["_user_field"] = user_key
    if "stream" in body and body["stream"] is False:
        extra["_stream_false"] = True
    system, system_role, messages = _decode_input(body.get("input"), extra)
    if "input" not in body:
        extra["_no_input"] = True
    if body.get("tools") == []:
        extra["_empty_tools"] = True
    instructions = body.get("instructions")
    if instructions is not None:
        text = expect_str(instructions, "instructions")
        system.insert(0, TextPart(text=text, extras=pack({"_instructions": True})))
    raw_tools = body.get("tools", [])
    tools: tuple[Tool, ...] = ()
    if raw_tools != []:
        listed = expect_list(raw_tools, "tools")
        tools = decode_tools(listed)
    tools = add_loaded_tools(tools, messages)
    include = body.get("include")
    if include is not None:
        expect_list(include, "include")  # carried as it came; the encoder extends the list
    metadata = body.get("metadata")
    user = body.get(user_key)
    parallel = body.get("parallel_tool_calls")
    return Request(
        model=expect_str(body.get("model"), "model"),
        messages=messages,
        system=tuple(system),
        system_role=system_role,
        tools=tools,
        tool_choice=decode_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=parallel if isinstance(parallel, bool) else None,
        max_tokens=_max_output_tokens(body.get("max_output_tokens")),
        temperature=opt_number(body.get("temperature"), "temperature"),
        top_p=opt_number(body.get("top_p"), "top_p"),
        reasoning=decode_reasoning_config(body.get("reasoning"), extra),
        output_format=decode_text(body.get("text"), extra),
        user=expect_str(user, user_key) if user is not None else None,
        metadata=expect_obj(metadata, "metadata") if metadata is not None else None,
        stream=body.get("stream") is True,
        logprobs=True if isinstance(include, list) and _LOGPROBS_INCLUDE in include else None,
        top_logprobs=opt_int(body.get("top_logprobs"), "top_logprobs"),
        extras=pack(extra),
    )


def _encode_system(request: Request, ctx: Context) -> tuple[str | None, list[dict[str, Any]]]:
    """``instructions`` and the leading system/developer items for ``Request.system``."""
    if not any(hints(p.extras) for p in request.system):
        if breakpoints_on(ctx, FORMAT) and any(is_marked(p) for p in request.system):
            # Marked for caching: ``instructions`` take no breakpoint, a system message does.
            items = encode_parts(request.system, request.system_role, ctx, "system", ItemIds(None))
            return None, items
        # Another format's system prompt: Responses says it best as ``instructions``.
        for i, part in enumerate(request.system):
            lose_foreign(ctx, part.extras, f"system[{i}]")
            # (a marker gets here only when breakpoints are off: reported as such)
            openai_breakpoint(part.cache_control, {}, FORMAT, ctx, f"system[{i}]")
            if part.citations:
                ctx.lose(f"system[{i}].citations", "instructions cannot carry citations")
        text = "\n\n".join(p.text for p in request.system)
        return (text if request.system else None), []
    said = [p for p in request.system if hints(p.extras).get("_instructions")]
    instructions = said[0].text if said else None
    rest = [p for p in request.system if not hints(p.extras).get("_instructions")]
    items = encode_parts(rest, request.system_role, ctx, "system", ItemIds(None))
    return instructions, items


def encode_request(request: Request, ctx: Context) -> dict[str, Any]:
    """A canonical request as a Responses request body.

    Raises :class:`~apibridge.errors.UnsupportedFeature` for ``n > 1`` (Responses answers
    once per request) and, in strict mode, for anything that cannot be carried.
    """
    if request.n is not None and request.n > 1:
        raise UnsupportedFeature(
            Loss(field="n", reason="responses answers with one choice", action="rejected")
        )
    request = carry_context_management(request, ctx, FORMAT)
    own = hints(request.extras)
    twins = request_twins(request.extras, FORMAT) if "chat" in request.extras else None
    rest = without_fast(without_twins(request.extras, FORMAT) if twins else request.extras, FORMAT)
    rest, tier = request_tier(rest, FORMAT)
    rest, cache_options = top_level_marker(rest, FORMAT, ctx)
    lose_foreign(ctx, rest, "request")
    body: dict[str, Any] = {"model": request.model}
    instructions, items = _encode_system(request, ctx)
    from_system = bool(items)
    ids = ItemIds(None)  # input items: no derived ids, so one serves every message
    foreign: list[int] = []  # input positions of assistant items from another format
    for i, message in enumerate(request.messages):
        # Place names are built only where a loss may be reported.
        if message.name is not None:
            ctx.lose(f"messages[{i}].name", "responses messages have no author name")
        if message.extras and has_foreign(message.extras):
            lose_foreign(ctx, message.extras, f"messages[{i}]")
        first = len(items)
        items.extend(
            encode_parts(message.content, message.role, ctx, f"messages[{i}].content", ids)
        )
        if message.role == "assistant" and not is_from_responses(message.content):
            foreign.extend(range(first, len(items)))
    if foreign:  # another client's assistant turns: their phase re-derived (see _phase)
        derive_phases(items, foreign)
    body["input"] = _input_value(request, items, own, from_system)
    if body["input"] is None:
        del body["input"]
    if instructions is not None:
        body["instructions"] = instructions
    if request.tools or own.get("_empty_tools"):
        tools = encode_tools(request.tools, ctx, native=bool(own.get("_native")))
        if tools or own.get("_empty_tools"):  # (loaded tools alone stay in their items)
            body["tools"] = tools
    if request.tool_choice is not None:
        choice = encode_tool_choice(request, ctx)
        if own.get("_native") or request.tools or choice in ("auto", "none"):
            body["tool_choice"] = choice
        # else another format's choice forcing or naming tools in a request with none: the
        # API answers 400 ("Tool choice 'required' must be specified with 'tools'
        # parameter"), and it says nothing then (not sent, no loss). ``auto`` and ``none``
        # are accepted (answers echo them with no tools), and so is ``parallel_tool_calls``.
    _encode_settings(request, ctx, own, body)
    nested = ("reasoning", "text", "text_format")
    if own:
        finish(body, {FORMAT: {k: v for k, v in own.items() if k not in nested}})
    if twins:
        _encode_twins(twins, body)
    if fast_requested(request.extras, FORMAT):  # an Anthropic client's ``speed: fast``
        body.setdefault("service_tier", "fast")
    if tier is not None:  # an Anthropic client's ``service_tier``
        body.setdefault("service_tier", tier)
    if cache_options is not None:  # an Anthropic client's top-level ``cache_control``
        body.setdefault("prompt_cache_options", cache_options)
    _encode_include(request, own, body)
    return body


def _encode_twins(twins: Mapping[str, Any], body: dict[str, Any]) -> None:
    """A Chat client's settings that Responses has too (``verbosity`` in ``text``)."""
    for key, value in twins.items():
        if key == "verbosity":
            text = body.get("text")
            body["text"] = {**(text if isinstance(text, Mapping) else {}), "verbosity": value}
        else:
            body.setdefault(key, value)


def _input_value(
    request: Request, items: list[dict[str, Any]], own: Mapping[str, Any], from_system: bool
) -> Any:
    """``input`` as items, or as the plain string it was received as while that still fits."""
    if own.get("_no_input") and not items:
        return None
    if own.get("_input_string") and not from_system and len(request.messages) == 1:
        message = request.messages[0]
        only = message.content[0] if len(message.content) == 1 else None
        plain = isinstance(only, TextPart) and not part_hints(only) and not only.citations
        if message.role == "user" and plain:
            assert isinstance(only, TextPart)
            return only.text
    return items


def _encode_settings(
    request: Request, ctx: Context, own: Mapping[str, Any], body: dict[str, Any]
) -> None:
    """The scalar settings, and the losses for what Responses has no field for."""
    for key, value in (
        ("parallel_tool_calls", request.parallel_tool_calls),
        ("max_output_tokens", request.max_tokens),
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("top_logprobs", request.top_logprobs),
    ):
        if value is not None:
            body[key] = value
    if request.metadata is not None:
        body["metadata"] = dict(request.metadata)
    if request.user is not None:
        key = own.get("_user_field") or user_field(request.extras, FORMAT)
        body[str(key)] = request.user
    if request.stream:
        body["stream"] = True
    elif own.get("_stream_false"):
        body["stream"] = False
    if request.top_k is not None:
        ctx.lose("top_k", "responses has no top_k")
    if request.stop:
        ctx.lose("stop", "responses has no stop sequences")
    reasoning = encode_reasoning_config(request, ctx, own)
    if reasoning is not None or "reasoning" in own:
        body["reasoning"] = reasoning
    text = encode_text(request, own)
    if text is not None or "text" in own:
        body["text"] = text


def _encode_include(request: Request, own: Mapping[str, Any], body: dict[str, Any]) -> None:
    """``include`` (and ``store``) for what the request asks back: logprobs, encrypted
    reasoning for a request from another format that reasons."""
    include = list(body.get("include") or [])
    wanted = []
    if request.logprobs:
        wanted.append(_LOGPROBS_INCLUDE)
    reasoning = request.reasoning
    if not own.get("_native") and reasoning is not None and "reasoning" in body:
        # So that the encrypted reasoning comes back and can be replayed statelessly.
        wanted.append(_REASONING_INCLUDE)
        body.setdefault("store", False)
    for entry in wanted:
        if entry not in include:
            include.append(entry)
    if include:
        body["include"] = include
