"""Anthropic Message objects (a non-streamed answer) ⇄ canonical :class:`~apibridge.Response`.

Theory of operation
-------------------
A Message object's ``content`` blocks become the response's parts (``_block_decoder``);
``stop_reason`` maps through ``STOP_REASON_FROM_WIRE`` (``_wire``), ``stop_sequence`` and
``usage`` (``input_tokens`` excludes the cache, as the canonical model does) carry over, and
other fields stay in ``extras["anthropic"]``. An error body is refused here: it is
``_errors.decode_error``'s to read.

Encoding writes every field the SDK's ``Message`` type requires: any tool call in an answer
means ``tool_use`` (unless the turn was cut short), a missing stop sequence is the request's
only one when the stop reason says a sequence matched, and reasoning always carries a
``signature``: the native one or a reasoning envelope (``codecs.envelope``). Fields a
same-format answer lacked (hint ``ABSENT``) are left out again, so that it round-trips.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apibridge.codecs._context import Context, expect_list, expect_obj, expect_str, new_id, opt_str
from apibridge.codecs._openai_twins import anthropic_usage_tier
from apibridge.codecs._phase import lose_phase
from apibridge.codecs._tool_usage import server_tool_use_of
from apibridge.codecs.anthropic._block_decoder import decode_blocks
from apibridge.codecs.anthropic._block_encoder import answer_parts, encode_blocks
from apibridge.codecs.anthropic._wire import (
    DEFAULTS,
    MESSAGE_KEYS,
    STOP_DETAILS,
    Own,
    absent_keys,
    decode_stop_reason,
    decode_usage,
    encode_stop_reason,
    encode_stop_sequence,
    encode_usage,
    finish,
    keep_stop_details,
    own_of,
    refusal_part,
)
from apibridge.errors import InvalidPayload
from apibridge.model import Response, ToolCallPart

__all__ = ["decode_response", "encode_response"]


def decode_response(body: Mapping[str, Any], ctx: Context) -> Response:
    """A Message object as a canonical :class:`~apibridge.Response`."""
    body = expect_obj(body, "response")
    if body.get("type") == "error":
        raise InvalidPayload("response: an error body (decode it with decode_error)")
    own = Own(body, MESSAGE_KEYS)
    own.absent(body, ("type", "role", "stop_reason", "stop_sequence", "usage"))
    own.empties(body, ("stop_reason",))
    content = decode_blocks(
        expect_list(body.get("content"), "content"), ctx, "content[{1}]", answer=True
    )
    ident, model = body.get("id"), body.get("model")
    usage = body.get("usage")
    stop = decode_stop_reason(body.get("stop_reason"), "stop_reason")
    if stop == "refusal":  # the refusal's words (or none) as the part OpenAI clients read
        content = (*content, refusal_part(body.get("stop_details")))
        keep_stop_details(own.data)
    return Response(
        id=ident if isinstance(ident, str) and ident else new_id("msg_"),
        model=expect_str(model, "model") if model is not None else "",
        content=content,
        stop_reason=stop,
        stop_sequence=opt_str(body.get("stop_sequence"), "stop_sequence"),
        usage=None if usage is None else decode_usage(usage, "usage"),
        extras=own.extras(),
    )


def encode_response(response: Response, ctx: Context) -> dict[str, Any]:
    """A canonical response as a Message object for a Claude client."""
    own = own_of(response.extras)
    blocks = encode_blocks(
        answer_parts(response.content, response.stop_reason), ctx, "content[{1}]", answer=True
    )
    lose_phase(ctx, response.content, "anthropic", "content[{}]")
    has_tool_call = any(isinstance(p, ToolCallPart) for p in response.content)
    defaults = own.get(DEFAULTS) or {}
    reason: str | None = None
    if response.stop_reason is not None or has_tool_call or "stop_reason" not in defaults:
        reason = encode_stop_reason(response.stop_reason, has_tool_call, ctx)
    out: dict[str, Any] = {
        "id": response.id,
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": blocks,
        "stop_reason": reason,
        "stop_sequence": encode_stop_sequence(response.stop_reason, response.stop_sequence, ctx),
        "usage": encode_usage(response.usage, ctx, "usage"),
    }
    tier = anthropic_usage_tier(response.extras, ctx, "response.usage")
    if tier is not None:
        out["usage"].setdefault("service_tier", tier)
    extras, server_tools = server_tool_use_of(response.extras, ctx, "response")
    if server_tools is not None:
        out["usage"].setdefault("server_tool_use", server_tools)
    if own.get(STOP_DETAILS) is not None:
        out["stop_details"] = own[STOP_DETAILS]
    absent = absent_keys(response.extras)
    unset = {
        "type": True,
        "role": True,
        "stop_reason": reason is None or response.stop_reason is None,
        "stop_sequence": out["stop_sequence"] is None,
        "usage": response.usage is None,
    }
    for key in absent:
        if unset.get(key):
            del out[key]
    return finish(out, extras, ctx, "response")
