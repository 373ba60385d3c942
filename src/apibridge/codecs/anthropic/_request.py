"""Anthropic Messages requests (``POST /v1/messages``) ⇄ canonical :class:`~apibridge.Request`.

Theory of operation
-------------------
``model``, ``messages``, ``system``, ``max_tokens``, ``temperature``, ``top_p``, ``top_k``,
``stop_sequences``, ``stream``, ``tools``, ``tool_choice``, ``thinking``, ``metadata.user_id``
(↔ ``Request.user``) and ``output_config`` (``effort`` ↔ ``ReasoningConfig.effort``,
``format`` ↔ ``OutputFormat``) map onto the canonical request; everything else
(``context_management``, ``service_tier``, ``mcp_servers``, ``container`` …) stays in
``extras["anthropic"]``. A ``system`` message between the turns stays in place. Tools, tool
choice, reasoning and metadata are translated by ``_options``, content blocks by
``_block_decoder`` and ``_block_encoder``.

Decoded requests carry the hint ``_native_turns``: the turns are the client's own and go
back exactly as they came. A request from another format is normalised for Anthropic
instead: system turns are appended to ``system`` (a loss, action ``moved``), consecutive
turns of one role merge, ``tool_result`` blocks lead their user turn, thinking blocks lead
their assistant turn, and sampling settings Anthropic refuses while thinking are dropped
(reported). Either way thinking without a native signature is omitted (loss): an Anthropic
upstream verifies every signature. ``n > 1`` is refused, and so is a ``max_tokens`` below 1
(the gateway also refuses an Anthropic client's request without one; a library caller's
decodes); a missing ``max_tokens`` (required by Anthropic) becomes the model's own maximum
output (``codecs._claude_models``) when encoding, with a loss.
A request from another format is also fitted to the model: sampling settings it refuses are
dropped, and reasoning becomes the thinking and effort it takes (``_options``), each reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from apibridge.codecs._cache_markers import cache_options_for_anthropic
from apibridge.codecs._claude_models import UNKNOWN_MODEL, ClaudeModel, claude_model
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    opt_bool,
    opt_int,
    opt_number,
)
from apibridge.codecs._context_edits import carry_context_management
from apibridge.codecs._openai_twins import fast_requested, request_tier, without_fast
from apibridge.codecs._profile_rules import apply_anthropic_profile
from apibridge.codecs.anthropic._block_decoder import decode_block, decode_blocks, string_text
from apibridge.codecs.anthropic._block_encoder import encode_blocks, is_plain_text
from apibridge.codecs.anthropic._options import (
    decode_metadata,
    decode_reasoning,
    decode_tool,
    decode_tool_choice,
    encode_metadata,
    encode_reasoning,
    encode_tool,
    encode_tool_choice,
)
from apibridge.codecs.anthropic._wire import (
    CONTENT_STRING,
    FORMAT,
    ROLES_FROM_WIRE,
    Own,
    finish,
    lose_foreign,
    own_of,
)
from apibridge.errors import InvalidPayload, Loss, UnsupportedFeature
from apibridge.model import Message, Request, TextPart, Tool

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FAST_MODE_BETA",
    "NATIVE_TURNS",
    "SYSTEM_STRING",
    "decode_request",
    "encode_request",
]

#: hint: the request came from an Anthropic client; its turns go back exactly as they came.
NATIVE_TURNS: Final = "_native_turns"
#: hint: ``system`` was a plain string.
SYSTEM_STRING: Final = "_system_string"
#: ``max_tokens`` for a model name the Claude table does not know and that is not ``claude-*``
#: (``codecs._claude_models.UNKNOWN_MODEL``); a known model gets its own maximum output.
DEFAULT_MAX_TOKENS: Final = UNKNOWN_MODEL.max_output

_REQUEST_KEYS: Final = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "output_config",
    }
)


#: Request fields whose ``null``, ``[]`` or ``false`` is remembered (hint ``_defaults``).
_EMPTYABLE: Final = _REQUEST_KEYS - {"model", "messages"}
#: The fields of a message that the model maps.
_MESSAGE_KEYS: Final = frozenset({"role", "content"})


def decode_request(body: Mapping[str, Any], ctx: Context) -> Request:
    """A Messages API request body as a canonical :class:`~apibridge.Request`."""
    body = expect_obj(body, "request")
    own = Own(body, _REQUEST_KEYS)
    own.set(NATIVE_TURNS)
    # is_empty inline: one pass over the fields, no call per field.
    empties = [
        k
        for k, v in body.items()
        if (v is None or v is False or (isinstance(v, list) and not v)) and k in _EMPTYABLE
    ]
    if empties:
        own.empties(body, empties)
    get = body.get
    messages = _decode_messages(expect_list(get("messages"), "messages"), ctx)
    raw_tools = get("tools")
    tools = _decode_tools(expect_list(raw_tools, "tools")) if raw_tools else ()
    raw_choice = get("tool_choice")
    choice, parallel = (None, None) if raw_choice is None else decode_tool_choice(raw_choice)
    if get("thinking") is None and get("output_config") is None:
        reasoning, output_format = None, None  # what decode_reasoning finds in neither
    else:
        reasoning, output_format = decode_reasoning(body, own)
    # The common value types are taken as they are; the readers check (and name) the rest.
    model = get("model")
    if type(model) is not str:
        model = expect_str(model, "model")
    system = _decode_system(get("system"), own, ctx)
    max_tokens = get("max_tokens")
    if max_tokens is not None and type(max_tokens) is not int:
        max_tokens = opt_int(max_tokens, "max_tokens")
    if max_tokens is not None and max_tokens < 1:
        raise InvalidPayload(f"max_tokens: must be at least 1, got {max_tokens}")
    temperature = get("temperature")
    if temperature is not None and type(temperature) is not float:
        temperature = opt_number(temperature, "temperature")
    top_p = get("top_p")
    if top_p is not None and type(top_p) is not float:
        top_p = opt_number(top_p, "top_p")
    top_k = get("top_k")
    if top_k is not None and type(top_k) is not int:
        top_k = opt_int(top_k, "top_k")
    stop = get("stop_sequences")
    if stop:
        stop = tuple(
            expect_str(s, f"stop_sequences[{i}]")
            for i, s in enumerate(expect_list(stop, "stop_sequences"))
        )
    metadata = get("metadata")
    user = None if metadata is None else decode_metadata(metadata, own)
    stream = get("stream")
    if stream is not None and type(stream) is not bool:
        stream = opt_bool(stream, "stream")
    return Request(
        model=model,
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        stop=stop or (),
        reasoning=reasoning,
        output_format=output_format,
        user=user,
        stream=stream or False,
        extras=own.extras(),
    )


def _decode_messages(values: Sequence[Any], ctx: Context) -> tuple[Message, ...]:
    # Hot path: one loop, no helper call per message, locations built only for errors.
    messages = []
    for i, message in enumerate(values):
        if type(message) is not dict:
            message = expect_obj(message, f"messages[{i}]")
        role = message.get("role")
        mapped = ROLES_FROM_WIRE.get(role) if isinstance(role, str) else None
        if mapped is None:
            raise InvalidPayload(
                f"messages[{i}].role: expected user, assistant or system, got {role!r}"
            )
        if message.keys() <= _MESSAGE_KEYS:
            data: dict[str, Any] = {}
        else:
            data = {k: v for k, v in message.items() if k not in _MESSAGE_KEYS}
        content = message.get("content")
        if isinstance(content, str):
            data[CONTENT_STRING] = True
            parts: tuple[Any, ...] = (TextPart(text=content) if content else string_text(content),)
        else:
            if type(content) is not list:
                content = expect_list(content, f"messages[{i}].content")
            parts = decode_blocks(content, ctx, "messages[{0}].content[{1}]", i)
        messages.append(Message(role=mapped, content=parts, extras={FORMAT: data} if data else {}))
    return tuple(messages)


def _loadable(tool: Tool, request: Request, i: int, ctx: Context) -> Tool:
    """``tool``, loaded from the start (``defer_loading`` reported) where only a client-run
    Responses tool search could load it: its results name tools in text, which loads
    nothing on Anthropic."""
    if not tool.defer_loading or not any(t.kind == "tool_search" for t in request.tools):
        return tool
    ctx.lose(
        f"tools[{i}].defer_loading",
        "a client-executed Responses tool search cannot load a deferred Anthropic tool",
        "the tool is sent loaded from the start",
    )
    return attrs.evolve(tool, defer_loading=None)


#: A client tool of the common shape: these fields and no others.
_PLAIN_TOOL_KEYS: Final = frozenset({"name", "description", "input_schema"})


def _decode_tools(values: Sequence[Any]) -> tuple[Tool, ...]:
    tools = []
    for i, tool in enumerate(values):
        if type(tool) is dict and tool.keys() <= _PLAIN_TOOL_KEYS:
            name, description = tool.get("name"), tool.get("description")
            schema = tool.get("input_schema")
            if type(name) is str and type(description) is str and type(schema) is dict:
                tools.append(Tool(name=name, description=description, parameters=schema))
                continue
        tools.append(decode_tool(tool, f"tools[{i}]"))
    return tuple(tools)


def _decode_system(value: Any, own: Own, ctx: Context) -> tuple[TextPart, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        own.set(SYSTEM_STRING)
        return (string_text(value),)
    parts = []
    for i, block in enumerate(expect_list(value, "system")):
        part = decode_block(block, f"system[{i}]", ctx)
        if not isinstance(part, TextPart):
            raise InvalidPayload(f"system[{i}]: expected a text block")
        parts.append(part)
    return tuple(parts)


#: the ``anthropic-beta`` flag that ``speed: fast`` needs on some models (``anthropic`` 2.17).
FAST_MODE_BETA: Final = "fast-mode-2026-02-01"


def encode_request(request: Request, ctx: Context) -> dict[str, Any]:
    """A canonical request as a Messages API body for an Anthropic upstream.

    Raises :class:`~apibridge.errors.UnsupportedFeature` for ``n > 1`` (Anthropic answers
    once); everything else that cannot be carried is reported through ``ctx``.
    """
    if request.n is not None and request.n > 1:
        raise UnsupportedFeature(
            Loss(field="n", reason="Anthropic returns one answer per request", action="refused")
        )
    request = carry_context_management(request, ctx, FORMAT)
    own = own_of(request.extras)
    native = bool(own.get(NATIVE_TURNS))
    messages, moved = _encode_messages(request, ctx, native=native)
    model = claude_model(request.model, ctx.claude_models)
    max_tokens = request.max_tokens
    if max_tokens is None:
        # Codex and most OpenAI clients name no cap: the model's own maximum, not a guess that
        # cuts long turns (and their thinking budget) short.
        max_tokens = model.max_output
        ctx.lose(
            "max_tokens",
            "Anthropic requires max_tokens",
            f"defaulted to the model's maximum output, {max_tokens}",
        )
    out: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens}
    system = _encode_system((*request.system, *moved), own, ctx)
    if system is not None:
        out["system"] = system
    out["messages"] = messages
    tools = [
        t
        for i, tool in enumerate(request.tools)
        if (t := encode_tool(_loadable(tool, request, i, ctx), f"tools[{i}]", ctx)) is not None
    ]
    if tools:
        out["tools"] = tools
    choice = encode_tool_choice(
        request, ctx, has_tools=bool(tools) or native, forced=native or model.forced_tools
    )
    if choice is not None:
        out["tool_choice"] = choice
    encode_reasoning(request, own, max_tokens, out, ctx, model, native=native)
    metadata = encode_metadata(request, own, ctx)
    if metadata is not None:
        out["metadata"] = metadata
    if request.stop:
        out["stop_sequences"] = list(request.stop)
    _encode_sampling(request, out, ctx, model, native=native)
    if request.stream:
        out["stream"] = True
    if request.logprobs or request.top_logprobs is not None:
        ctx.lose("logprobs", "Anthropic returns no log probabilities")
    if request.metadata:
        ctx.lose("metadata", "Anthropic metadata holds only user_id")
    if fast_requested(request.extras, FORMAT):  # an OpenAI client's ``service_tier: fast``
        out["speed"] = "fast"
        ctx.need_beta(FAST_MODE_BETA)  # some models take ``speed`` only behind it
    rest, tier = request_tier(without_fast(request.extras, FORMAT), FORMAT)
    if tier is not None:  # an OpenAI client's ``service_tier``
        out["service_tier"] = tier
    rest, marker = cache_options_for_anthropic(rest, ctx)
    if marker is not None:  # an OpenAI client's ``prompt_cache_options.mode: implicit``
        out["cache_control"] = marker
    body = finish(out, rest, ctx, "request")
    apply_anthropic_profile(body, ctx)  # a Messages server that is not Anthropic's
    return body


def _encode_sampling(
    request: Request, out: dict[str, Any], ctx: Context, model: ClaudeModel, *, native: bool
) -> None:
    temperature, top_p, top_k = request.temperature, request.top_p, request.top_k
    if not native and len(model.sampling) < 3:
        # The newest models answer 400 to any sampling setting; another API's client cannot
        # know that, so they are dropped (reported). An Anthropic client's own go as sent.
        accepted = model.sampling
        if temperature is not None and "temperature" not in accepted:
            ctx.lose("temperature", f"{request.model} takes no temperature")
            temperature = None
        if top_p is not None and "top_p" not in accepted:
            ctx.lose("top_p", f"{request.model} takes no top_p")
            top_p = None
        if top_k is not None and "top_k" not in accepted:
            ctx.lose("top_k", f"{request.model} takes no top_k")
            top_k = None
    thinking = out.get("thinking", {}).get("type") in ("enabled", "adaptive", "between_tools")
    if not native and thinking:
        # Anthropic rejects these sampling settings while thinking, which another API's
        # client cannot know: they are dropped (reported) rather than failing the request.
        if temperature is not None and temperature != 1:
            ctx.lose("temperature", "Anthropic allows only 1 with thinking")
            temperature = None
        if top_k is not None:
            ctx.lose("top_k", "Anthropic does not allow top_k with thinking")
            top_k = None
        if top_p is not None and top_p < 0.95:
            ctx.lose("top_p", "Anthropic allows only 0.95 to 1 with thinking")
            top_p = None
    both = temperature is not None and top_p is not None
    if not native and both and request.model.startswith("claude-"):
        # Sonnet 4.5, Haiku 4.5, Opus 4.1 and later answer 400 to both ("temperature and
        # top_p cannot both be specified"); Gemini CLI sends both on every request.
        ctx.lose("top_p", "Claude models take temperature or top_p, not both", "dropped")
        top_p = None
    if temperature is not None and temperature > 1:
        ctx.lose("temperature", "Anthropic temperatures range from 0 to 1", "clamped to 1")
        temperature = 1.0
    for key, value in (("temperature", temperature), ("top_p", top_p), ("top_k", top_k)):
        if value is not None:
            out[key] = value


def _encode_system(
    parts: Sequence[TextPart], own: Mapping[str, Any], ctx: Context
) -> str | list[dict[str, Any]] | None:
    if not parts:
        return None
    if own.get(SYSTEM_STRING) and len(parts) == 1 and is_plain_text(parts[0]):
        return parts[0].text
    return encode_blocks(parts, ctx, "system[{1}]", answer=False) or None


def _encode_messages(
    request: Request, ctx: Context, *, native: bool
) -> tuple[list[dict[str, Any]], list[TextPart]]:
    """The ``messages`` array, and the system text that had to move to ``system``."""
    moved: list[TextPart] = []
    turns: list[tuple[str, list[dict[str, Any]], Message, int]] = []
    for i, message in enumerate(request.messages):
        role = message.role
        if role == "developer":
            role = "system"
        if role == "system" and not native:
            where = f"messages[{i}]"
            ctx.lose(where, "Anthropic has no system turns", "moved")
            if message.name is not None:
                ctx.lose(f"{where}.name", "Anthropic turns have no name")
            lose_foreign(ctx, message.extras, where)
            for j, part in enumerate(message.content):
                if isinstance(part, TextPart):
                    moved.append(part)
                else:
                    ctx.lose(f"{where}.content[{j}]", "the system prompt holds only text")
            continue
        if role not in ROLES_FROM_WIRE:
            raise InvalidPayload(f"messages[{i}].role: Anthropic has no {message.role!r} turns")
        if message.name is not None:
            ctx.lose(f"messages[{i}].name", "Anthropic turns have no name")
        blocks = encode_blocks(message.content, ctx, "messages[{0}].content[{1}]", i, answer=False)
        if message.content and not blocks:
            lose_foreign(ctx, message.extras, f"messages[{i}]")
            continue  # everything in the turn was omitted (reported): no empty turn
        if not native and turns and turns[-1][0] == role:
            # consecutive turns of one role: one turn (this turn's foreign fields reported)
            lose_foreign(ctx, message.extras, f"messages[{i}]")
            turns[-1][1].extend(blocks)
            continue
        turns.append((role, blocks, message, i))
    out = []
    for role, blocks, message, i in turns:
        if not native:
            blocks = _ordered(role, blocks)
        if message.extras:
            out.append(_encode_turn(role, blocks, message, ctx, f"messages[{i}]"))
        else:  # nothing to write back or report
            out.append({"role": role, "content": blocks})
    return out, moved


#: Blocks that must lead their turn: tool results in a user turn, thinking in an assistant's.
_LEADING: Final[Mapping[str, frozenset[str]]] = {
    "user": frozenset({"tool_result"}),
    "assistant": frozenset({"thinking", "redacted_thinking"}),
}


def _ordered(role: str, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    leading = _LEADING.get(role)
    if leading is None:
        return blocks
    # Most turns are in order already: one pass finds whether a leading block follows another.
    other = False
    for block in blocks:
        if block.get("type") in leading:
            if other:
                break
        else:
            other = True
    else:
        return blocks
    first = [b for b in blocks if b.get("type") in leading]
    return [*first, *(b for b in blocks if b.get("type") not in leading)]


def _encode_turn(
    role: str, blocks: list[dict[str, Any]], message: Message, ctx: Context, where: str
) -> dict[str, Any]:
    own = own_of(message.extras)
    content: str | list[dict[str, Any]] = blocks
    if (
        own.get(CONTENT_STRING)
        and len(blocks) == 1
        and blocks[0].keys() == {"type", "text"}
        and blocks[0]["type"] == "text"
    ):
        content = blocks[0]["text"]
    return finish({"role": role, "content": content}, message.extras, ctx, where)
