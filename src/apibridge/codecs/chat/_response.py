"""Chat Completions answers (``chat.completion`` bodies) ↔ canonical :class:`Response`.

Theory of operation. ``choices[0].message`` becomes ``[ThinkingPart] + TextPart (annotations →
citations) + [RefusalPart] + ToolCallParts`` (``_messages.decode_assistant``; ``<think>`` blocks
in the content are thinking parts where they stood while the upstream's dialect is unknown or
``think``, see ``_reasoning_dialects``);
``finish_reason`` maps through :data:`~apibridge.codecs.chat._wire.FINISH_TO_STOP` (a tool call
means ``tool_use`` unless ``length`` or ``content_filter`` cut the turn short; vLLM's
``stop_reason`` string is the stop sequence); ``usage`` keeps OpenAI's meaning through
``Usage.from_openai``. A function call to a client's free-form tool that the request encoder
sent as a function tool is unwrapped back into a free-form call. More choices ride in
``extras`` (``other_choices``) for a Chat client and are a loss elsewhere.

Same-format trips are exact: ``_``-prefixed hints in ``extras["chat"]`` keep what the encoder
would otherwise write differently (``null`` or absent fields, the ``object`` word, a vendor's
own ``finish_reason``, the choice ``index``); fields of the choice and the message ride as
``choice.*`` and ``message.*``. *Deliberately lossy*: what Chat cannot hold (signatures,
server-tool blocks, document citations, stop reasons without a Chat word) is reported through
``ctx.lose`` when encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs._context import Context, expect_list, expect_obj, new_id, opt_int, opt_str
from apibridge.codecs._custom_tools import unwrap_call
from apibridge.codecs._openai_twins import answer_twins, tier_from_anthropic
from apibridge.codecs._phase import lose_phase
from apibridge.codecs.chat._messages import decode_assistant, encode_assistant
from apibridge.codecs.chat._reasoning_dialects import reads_think
from apibridge.codecs.chat._wire import (
    ABSENT,
    FINISH_TO_STOP,
    FORMAT,
    apply_extras,
    decode_usage,
    encode_usage,
    finish_for,
    hints,
    now,
    openai_refusal,
    stop_for,
    wrapped_custom_names,
)
from apibridge.model import RefusalPart, Response, ToolCallPart

__all__ = ["decode_response", "encode_response"]

_RESPONSE_MAPPED: Final = frozenset(
    {"id", "object", "created", "model", "choices", "usage", "service_tier"}
)  # ``system_fingerprint`` rides as data (other formats report it; Chat writes it back)
_CHOICE_MAPPED: Final = frozenset({"index", "message", "finish_reason", "stop_reason"})


def decode_response(body: Mapping[str, Any], ctx: Context) -> Response:
    """A Chat Completions response body as a canonical :class:`Response`."""
    obj = expect_obj(body, "response")
    fields: dict[str, Any] = {}
    trivial: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None:
            trivial[key] = None
        elif key not in _RESPONSE_MAPPED:
            fields[key] = value
    # Missing or null: the encoder leaves these out (``_trivial`` restores the nulls).
    absent = [k for k in ("id", "object", "created", "model", "choices") if obj.get(k) is None]
    if absent:
        fields["_absent"] = absent
    kind = obj.get("object")
    if kind is not None and kind != "chat.completion":
        fields["_object"] = kind
    if obj.get("service_tier") is not None:
        fields["_service_tier"] = obj["service_tier"]
    raw_choices = obj.get("choices")
    choices = [] if raw_choices is None else expect_list(raw_choices, "choices")
    parts: tuple[Any, ...] = ()
    stop = stop_sequence = None
    if choices:
        parts, stop, stop_sequence = _decode_choice(choices[0], fields, reads_think(ctx))
        wrapped = wrapped_custom_names(ctx)
        if wrapped:
            parts = tuple(
                unwrap_call(p, wrapped)
                if isinstance(p, ToolCallPart) and p.kind == "function"
                else p
                for p in parts
            )
        if len(choices) > 1:
            fields["other_choices"] = list(choices[1:])
    elif raw_choices == []:
        fields["_no_choices"] = True
    usage = obj.get("usage")
    if trivial:
        fields["_trivial"] = trivial
    return Response(
        id=opt_str(obj.get("id"), "id") or new_id("chatcmpl-"),
        model=opt_str(obj.get("model"), "model") or "",
        content=parts,
        stop_reason=stop,
        stop_sequence=stop_sequence,
        usage=None if usage is None else decode_usage(usage, "usage"),
        created=opt_int(obj.get("created"), "created"),
        extras={FORMAT: fields} if fields else {},
    )


def _decode_choice(
    raw: Any, fields: dict[str, Any], think: bool
) -> tuple[tuple[Any, ...], str | None, str | None]:
    choice = expect_obj(raw, "choices[0]")
    trivial: dict[str, Any] = {}
    for key, value in choice.items():
        if key in _CHOICE_MAPPED:
            continue
        if value is None:
            trivial[key] = None
        elif key == "logprobs":
            fields["logprobs"] = value
        else:
            fields[f"choice.{key}"] = value
    index = choice.get("index", ABSENT)
    if index != 0:
        fields["_choice_index"] = "absent" if index is ABSENT else index
    message = expect_obj(choice.get("message"), "choices[0].message")
    parts, message_fields, _ = decode_assistant(
        message, "choices[0].message", request=False, think=think
    )
    for key, value in message_fields.items():
        fields[f"_message{key}" if key.startswith("_") else f"message.{key}"] = value
    finish = opt_str(choice.get("finish_reason"), "choices[0].finish_reason")
    stop_string = choice.get("stop_reason")
    if stop_string is None and "stop_reason" in choice:
        trivial["stop_reason"] = None
    elif stop_string is not None and not isinstance(stop_string, str):
        fields["choice.stop_reason"] = stop_string  # vLLM: the token id that stopped it
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    refused = any(isinstance(p, RefusalPart) for p in parts)
    stop = stop_for(finish, has_calls, stop_string, has_refusal=refused)
    if "finish_reason" not in choice:
        fields["_finish_absent"] = True
    elif finish_for(stop, has_calls, has_refusal=openai_refusal(parts)) != finish or (
        finish and finish not in FINISH_TO_STOP
    ):
        fields["_finish_reason"] = finish  # a vendor's own word comes back as it was
    if trivial:
        fields["_choice_trivial"] = trivial
    return parts, stop, stop_string if isinstance(stop_string, str) else None


def encode_response(response: Response, ctx: Context) -> dict[str, Any]:
    """A canonical :class:`Response` as a Chat Completions response body."""
    carried = hints(response.extras)
    ctx.lose_extras(response.extras, FORMAT, "response")
    top: dict[str, Any] = {}
    message_fields: dict[str, Any] = {}
    choice_fields: dict[str, Any] = {}
    for key, value in carried.items():
        if key.startswith("message."):
            message_fields[key[len("message.") :]] = value
        elif key.startswith("_message_"):
            message_fields[key[len("_message") :]] = value
        elif key.startswith("choice."):
            choice_fields[key[len("choice.") :]] = value
        elif key == "_choice_trivial":
            choice_fields["_trivial"] = value
        elif key not in ("other_choices", "logprobs"):
            top[key] = value
    message = encode_assistant(response.content, message_fields, ctx, "response", request=False)
    lose_phase(ctx, response.content, "chat", "response.content[{}]")
    has_calls = any(isinstance(p, ToolCallPart) for p in response.content)
    choice: dict[str, Any] = {"index": carried.get("_choice_index", 0), "message": message}
    if choice["index"] == "absent":
        del choice["index"]
    if "logprobs" in carried:
        choice["logprobs"] = carried["logprobs"]
    if "_finish_reason" in carried:
        choice["finish_reason"] = carried["_finish_reason"]
    elif not carried.get("_finish_absent"):
        choice["finish_reason"] = finish_for(
            response.stop_reason, has_calls, ctx, has_refusal=openai_refusal(response.content)
        )
    if response.stop_sequence is not None:
        choice["stop_reason"] = response.stop_sequence  # vLLM's field for the matched string
    apply_extras(choice, choice_fields)
    absent = carried.get("_absent", ())
    out: dict[str, Any] = {}
    if "id" not in absent:
        out["id"] = response.id
    if "object" not in absent:
        out["object"] = carried.get("_object", "chat.completion")
    if response.created is not None:
        out["created"] = response.created
    elif "created" not in absent:
        out["created"] = now()
    if "model" not in absent:
        out["model"] = response.model
    if "choices" not in absent:
        first = [] if carried.get("_no_choices") else [choice]
        out["choices"] = first + list(carried.get("other_choices", []))
    usage, tier = tier_from_anthropic(response.usage)
    if usage is not None:
        out["usage"] = encode_usage(usage, ctx, "response.usage")
    for key in ("system_fingerprint", "service_tier"):
        if f"_{key}" in carried:
            out[key] = carried[f"_{key}"]
    if tier is not None:
        out.setdefault("service_tier", tier)
    if "responses" in response.extras:
        for key, value in answer_twins(response.extras, FORMAT, ctx).items():
            out.setdefault(key, value)
    apply_extras(out, top)
    return out
