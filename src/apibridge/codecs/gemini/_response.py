"""Gemini answers (``GenerateContentResponse`` bodies) ⇄ canonical :class:`~apibridge.Response`.

Theory of operation
-------------------
*Decoding.* The first candidate's ``content.parts`` become the response's parts (``_parts``);
``finishReason`` maps through :data:`~._wire.FINISH_TO_STOP`, where ``STOP`` (or none) with
a function call in the candidate is ``tool_use``. A refusal (a finish reason in
:data:`~._wire.REFUSAL_FINISHES`, or ``promptFeedback.blockReason`` with no candidate: the
prompt itself was blocked) ends the content with a :class:`~apibridge.model.RefusalPart`
holding ``finishMessage`` / ``blockReasonMessage`` (or no words), as the Anthropic codec does
with Claude's ``refusal`` stop: OpenAI clients read it as their ``refusal``, Claude clients as
``stop_reason: "refusal"``. ``usageMetadata`` becomes :class:`~apibridge.model.Usage` with
Anthropic's meaning of input: ``promptTokenCount`` (plus ``toolUsePromptTokenCount``) minus
``cachedContentTokenCount``, which is ``cache_read_tokens``; output is candidates plus
thoughts, ``thoughtsTokenCount`` the reasoning part of it. ``responseId`` is the id,
``modelVersion`` the model (``models/`` dropped), ``createTime`` (Vertex) the creation time.

*Extras.* What no other format holds rides in ``extras["gemini"]`` as data, so another
format's encoder reports it lost and a Gemini client gets it back: the candidate's
``safetyRatings``, ``citationMetadata``, ``groundingMetadata``, ``urlContextMetadata``,
``avgLogprobs``, ``logprobsResult``, a ``finishMessage`` that is not a refusal's words, the
prompt's ``promptFeedback.safetyRatings``, any unknown field (as ``candidate.<key>`` or
``<key>``), and every candidate after the first (``other_candidates``: Gemini refuses
``candidateCount`` > 1 from apibridge's own requests, but an upstream may still send more).
Hints (``_`` keys, never reported) keep what a same-format trip must restore: the finish
reason word when the canonical stop reason would write another (``RECITATION`` → ``refusal``
→ ``SAFETY``), a missing ``finishReason`` or ``index``, the block of a blocked prompt, the raw
``usageMetadata``.

*Encoding* writes a body ``types.GenerateContentResponse`` accepts: one candidate (plus the
carried others), ``role: "model"``, the finish reason, a refusal's words as ``finishMessage``
(a wordless refusal after no content, with a prompt block hint, as ``promptFeedback``),
``usageMetadata`` with Gemini's meaning (the prompt count includes the cache; candidates
exclude thoughts), ``modelVersion`` and ``responseId``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    int_or_none,
    new_id,
    opt_int,
    opt_str,
)
from apibridge.codecs.gemini._parts import decode_parts, encode_parts, is_carrier, signature_of
from apibridge.codecs.gemini._wire import (
    BLOCK_REASONS,
    FINISH_TO_STOP,
    FORMAT,
    REFUSAL_FINISHES,
    STOP_TO_FINISH,
    field,
    model_name,
)
from apibridge.errors import ApiError, InvalidPayload
from apibridge.model import (
    ContentPart,
    RefusalPart,
    Response,
    ThinkingPart,
    ToolCallPart,
    Usage,
)

__all__ = [
    "BLOCK_HINT",
    "CANDIDATE_DATA",
    "CREATE_TIME",
    "FINISH_HINT",
    "NO_INDEX",
    "RESPONSE_ID_PREFIX",
    "answer_failure",
    "answer_view",
    "candidate_fields",
    "created_of",
    "encode_answer_parts",
    "decode_response",
    "decode_usage",
    "encode_response",
    "encode_usage",
    "finish_reason",
    "needs_hint",
    "refusal_of",
    "refusal_words",
    "stop_reason",
    "top_fields",
]

#: the prefix of a response id apibridge makes for an answer that came without one.
RESPONSE_ID_PREFIX: Final = "resp_"

#: candidate fields carried as data (other formats report them lost).
CANDIDATE_DATA: Final = (
    "safetyRatings",
    "citationMetadata",
    "groundingMetadata",
    "urlContextMetadata",
    "avgLogprobs",
    "logprobsResult",
    "tokenCount",
)

_CANDIDATE_MAPPED: Final = frozenset({"content", "finishReason", "finishMessage", "index"})
_TOP_MAPPED: Final = frozenset(
    {"candidates", "promptFeedback", "usageMetadata", "modelVersion", "responseId", "createTime"}
)
_USAGE_MAPPED: Final = frozenset(
    {
        "promptTokenCount",
        "candidatesTokenCount",
        "thoughtsTokenCount",
        "cachedContentTokenCount",
        "toolUsePromptTokenCount",
        "totalTokenCount",
    }
)

#: hints in ``extras["gemini"]`` (see the module docstring).
FINISH_HINT: Final = "_finishReason"
NO_FINISH: Final = "_finish_absent"
NO_INDEX: Final = "_index_absent"
BLOCK_HINT: Final = "_blockReason"
RAW_USAGE: Final = "_raw"
TOOL_PROMPT: Final = "_toolUsePromptTokenCount"
CREATE_TIME: Final = "_createTime"


def _key(name: str) -> str:
    """``safety_ratings`` → ``safetyRatings``: the camelCase key a field is carried under."""
    if "_" not in name:
        return name
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


# -------------------------------------------------------------------------------- usage


def decode_usage(raw: Any, where: str) -> Usage:
    """``usageMetadata`` as canonical :class:`Usage` (see the module docstring)."""
    obj = expect_obj(raw, where)
    prompt = opt_int(field(obj, "promptTokenCount"), f"{where}.promptTokenCount")
    candidates = opt_int(field(obj, "candidatesTokenCount"), f"{where}.candidatesTokenCount")
    thoughts = opt_int(field(obj, "thoughtsTokenCount"), f"{where}.thoughtsTokenCount")
    cached = opt_int(field(obj, "cachedContentTokenCount"), f"{where}.cachedContentTokenCount")
    tool_prompt = opt_int(field(obj, "toolUsePromptTokenCount"), f"{where}.toolUsePromptTokenCount")
    total_in = None
    if prompt is not None or tool_prompt is not None:
        total_in = (prompt or 0) + (tool_prompt or 0)
    output = None
    if candidates is not None or thoughts is not None:
        output = (candidates or 0) + (thoughts or 0)
    elif total_in is not None and field(obj, "totalTokenCount") is not None:
        output = 0  # a finished answer with no output says so by its total alone
    hints: dict[str, Any] = {RAW_USAGE: dict(obj)}
    if tool_prompt:
        hints[TOOL_PROMPT] = tool_prompt
    for key, value in obj.items():
        camel = _key(key)
        if camel in _USAGE_MAPPED:
            continue
        if camel.endswith("TokensDetails") and isinstance(value, list):
            for entry in value:  # a modality other than text: no other format counts it
                if not isinstance(entry, Mapping):
                    continue
                modality, count = entry.get("modality"), int_or_none(field(entry, "tokenCount"))
                if isinstance(modality, str) and modality != "TEXT" and count:
                    hints[f"{camel}.{modality}"] = count
        elif camel not in ("trafficType",):
            hints[camel] = value
    usage = Usage.from_openai(total_in, output, cached, thoughts)
    return attrs.evolve(usage, extras={FORMAT: hints})


def encode_usage(usage: Usage, ctx: Context, where: str) -> dict[str, Any]:
    """Canonical usage as ``usageMetadata`` (prompt count with the cache, output split into
    candidates and thoughts); an unchanged Gemini ``usageMetadata`` is written back whole."""
    own = usage.extras.get(FORMAT, {})
    ctx.lose_extras(usage.extras, FORMAT, where)
    raw = own.get(RAW_USAGE)
    if isinstance(raw, Mapping):
        try:
            same = attrs.evolve(decode_usage(raw, where), extras={}) == attrs.evolve(
                usage, extras={}
            )
        except InvalidPayload:
            same = False
        if same:
            return dict(raw)
    out: dict[str, Any] = {}
    total_in = usage.total_input
    tool_prompt = int_or_none(own.get(TOOL_PROMPT)) or 0
    if total_in is not None:
        out["promptTokenCount"] = max(total_in - tool_prompt, 0)
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    if usage.output_tokens is not None:
        thoughts = usage.reasoning_tokens or 0
        out["candidatesTokenCount"] = max(usage.output_tokens - thoughts, 0)
        if thoughts:
            out["thoughtsTokenCount"] = thoughts
    if tool_prompt:
        out["toolUsePromptTokenCount"] = tool_prompt
    total = usage.total
    if total is not None:
        out["totalTokenCount"] = total
    for key, value in own.items():
        if not key.startswith("_") and "." not in key:
            out.setdefault(key, value)
    return out


# ------------------------------------------------------------------------ stop reasons


def stop_reason(finish: str | None, has_calls: bool) -> str | None:
    """The canonical stop reason of a ``finishReason`` (``None``: the answer goes on)."""
    if finish is None:
        return None
    stop = FINISH_TO_STOP.get(finish)
    if stop is None:
        return finish  # a word this version does not know: passed on (encoders warn)
    if has_calls and stop == "end_turn":
        return "tool_use"
    return stop


def finish_reason(stop: str | None, own: Mapping[str, Any], ctx: Context) -> str:
    """The ``finishReason`` a Gemini client receives for a canonical stop reason."""
    word = own.get(FINISH_HINT)
    if isinstance(word, str) and stop_reason(word, stop == "tool_use") == stop:
        return word
    if stop is None:
        return "STOP"
    finish = STOP_TO_FINISH.get(stop)
    if finish is None:
        ctx.lose("finishReason", f"Gemini has no finish reason for {stop!r}", "sent as STOP")
        return "STOP"
    return finish


def answer_failure(response: Response) -> ApiError | None:
    """The error an answer that ended in the model's own failure states
    (``MALFORMED_FUNCTION_CALL``, ``UNEXPECTED_TOOL_CALL``, ``OTHER`` …: canonical stop
    ``error``), else ``None``. Only a Gemini client has a word for such an end; any other client
    gets it as an upstream error (502), in its own envelope, streamed or not."""
    if response.stop_reason != "error":
        return None
    return failure_of(response.extras.get(FORMAT) or {})


def failure_of(own: Mapping[str, Any]) -> ApiError:
    """The error of a failed end, from the Gemini hints of the answer (or of the stream's
    last ``MessageDelta``): the finish reason and its ``finishMessage``."""
    finish = own.get(FINISH_HINT)
    words = own.get("candidate.finishMessage")
    message = f"the Gemini model's answer failed: {finish if isinstance(finish, str) else 'OTHER'}"
    if isinstance(words, str) and words:
        message += f": {words}"
    return ApiError.of("bad_gateway", message, source_format=FORMAT)


def needs_hint(stop: str | None, finish: str) -> bool:
    """Whether the canonical ``stop`` would be written back as another word than ``finish``
    (``RECITATION`` → ``refusal`` → ``SAFETY``; a word this version does not know)."""
    return STOP_TO_FINISH.get(stop or "") != finish


def refusal_of(words: Any) -> RefusalPart:
    """The refusal part of a blocked answer or prompt: its message, or no words."""
    return RefusalPart(text=words if isinstance(words, str) else "", extras={})


# ----------------------------------------------------------------------------- decode


def candidate_fields(candidate: Mapping[str, Any], fields: dict[str, Any]) -> None:
    """Carry a candidate's unmapped fields into ``fields`` (``candidate.<key>``)."""
    for key, value in candidate.items():
        camel = _key(key)
        if camel in _CANDIDATE_MAPPED or value is None:
            continue
        fields[f"candidate.{camel}"] = value


def top_fields(body: Mapping[str, Any], fields: dict[str, Any]) -> None:
    """Carry a body's unmapped top-level fields into ``fields``."""
    for key, value in body.items():
        camel = _key(key)
        if camel in _TOP_MAPPED or value is None:
            continue
        fields[camel] = value
    feedback = field(body, "promptFeedback")
    if isinstance(feedback, Mapping):
        for key, value in feedback.items():
            camel = _key(key)
            if camel not in ("blockReason", "blockReasonMessage") and value is not None:
                fields[f"promptFeedback.{camel}"] = value


def created_of(body: Mapping[str, Any]) -> int | None:
    """``createTime`` (RFC 3339, Vertex) as a Unix time, or ``None``."""
    value = field(body, "createTime")
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def decode_response(body: Mapping[str, Any], ctx: Context) -> Response:
    """A ``GenerateContentResponse`` body as a canonical :class:`~apibridge.Response`."""
    body = expect_obj(body, "response")
    if "error" in body:
        raise InvalidPayload("response: an error body (decode it with decode_error)")
    fields: dict[str, Any] = {}
    top_fields(body, fields)
    if isinstance(field(body, "createTime"), str):
        fields[CREATE_TIME] = field(body, "createTime")
    raw = field(body, "candidates")
    candidates = [] if raw is None else expect_list(raw, "candidates")
    content: tuple[ContentPart, ...] = ()
    stop: str | None = None
    if candidates:
        candidate = expect_obj(candidates[0], "candidates[0]")
        candidate_fields(candidate, fields)
        if field(candidate, "index") is None:
            fields[NO_INDEX] = True
        raw_content = field(candidate, "content")
        parts_raw: Sequence[Any] = []  # a SAFETY stop often comes with no content at all
        if raw_content is not None:
            parts_raw = expect_list(
                field(expect_obj(raw_content, "candidates[0].content"), "parts") or [],
                "candidates[0].content.parts",
            )
        content = tuple(decode_parts(parts_raw, "candidates[0].content.parts"))
        finish = opt_str(field(candidate, "finishReason"), "candidates[0].finishReason")
        words = field(candidate, "finishMessage")
        has_calls = any(isinstance(p, ToolCallPart) for p in content)
        stop = stop_reason(finish, has_calls)
        if finish is None:
            fields[NO_FINISH] = True
            stop = "tool_use" if has_calls else "end_turn"
        elif needs_hint(stop, finish):
            fields[FINISH_HINT] = finish
        if finish in REFUSAL_FINISHES:
            content = (*content, refusal_of(words))
        elif words is not None:
            fields["candidate.finishMessage"] = words
        if len(candidates) > 1:
            fields["other_candidates"] = list(candidates[1:])
    else:
        feedback = field(body, "promptFeedback")
        block = field(feedback, "blockReason") if isinstance(feedback, Mapping) else None
        if isinstance(block, str):
            content = (refusal_of(field(feedback, "blockReasonMessage")),)
            stop = "refusal"
            fields[BLOCK_HINT] = block
    usage = field(body, "usageMetadata")
    ident = opt_str(field(body, "responseId"), "responseId")
    model = opt_str(field(body, "modelVersion"), "modelVersion")
    return Response(
        id=ident or new_id(RESPONSE_ID_PREFIX),
        model=model_name(model) if model else "",
        content=content,
        stop_reason=stop,
        usage=None if usage is None else decode_usage(usage, "usageMetadata"),
        created=created_of(body),
        extras={FORMAT: fields} if fields else {},
    )


# ----------------------------------------------------------------------------- encode


def answer_view(part: ContentPart, ctx: Context, where: str) -> ContentPart:
    """``part`` as a Gemini answer writes it: reasoning another model gave (no Gemini
    signature) is still shown to the client as a thought, its own opaque value (a Claude
    signature, OpenAI encrypted reasoning) in the thought's ``thoughtSignature`` as the base64
    reasoning envelope (``_parts.encode_parts(answer=True)``), so that it comes back."""
    if not isinstance(part, ThinkingPart) or is_carrier(part) or signature_of(part) is not None:
        return part
    own = part.extras.get(FORMAT, {})
    if own.get("_thought"):
        return part
    return attrs.evolve(part, extras={**part.extras, FORMAT: {**own, "_thought": True}})


def encode_answer_parts(
    parts: Sequence[ContentPart], ctx: Context, where: str
) -> list[dict[str, Any]]:
    """Canonical answer parts (refusals taken out) as the parts of a ``model`` turn."""
    shown = []
    for k, part in enumerate(parts):
        viewed = answer_view(part, ctx, f"{where}[{k}]")  # (reports a foreign signature)
        if not _wordless(part):  # another model's reasoning with no words: nothing to show
            shown.append(viewed)
    return encode_parts(shown, ctx, where, answer=True)


def _wordless(part: ContentPart) -> bool:
    """Reasoning with no words and nothing opaque to carry: nothing to show."""
    if not isinstance(part, ThinkingPart) or part.text or part.summary:
        return False
    if part.signature is not None or part.encrypted_content is not None:
        return False
    own = part.extras.get(FORMAT, {})
    return signature_of(part) is None and not own.get("_thought")


def refusal_words(parts: Sequence[ContentPart]) -> str | None:
    """The words of the refusal parts (``None``: there is none)."""
    refusals = [p.text for p in parts if isinstance(p, RefusalPart)]
    return "".join(refusals) if refusals else None


def encode_response(response: Response, ctx: Context) -> dict[str, Any]:
    """A canonical :class:`~apibridge.Response` as a ``GenerateContentResponse`` body."""
    own = response.extras.get(FORMAT, {})
    ctx.lose_extras(response.extras, FORMAT, "response")
    if response.stop_sequence is not None:
        ctx.lose("stop_sequence", "Gemini does not say which stop sequence matched")
    body: dict[str, Any] = {}
    words = refusal_words(response.content)
    block = own.get(BLOCK_HINT)
    answer = [p for p in response.content if not isinstance(p, RefusalPart)]
    if isinstance(block, str) and block in BLOCK_REASONS and not answer:
        feedback: dict[str, Any] = {"blockReason": block}
        if words:
            feedback["blockReasonMessage"] = words
        body["promptFeedback"] = feedback
    else:
        parts = encode_answer_parts(answer, ctx, "candidates[0].content.parts")
        has_calls = any(isinstance(p, ToolCallPart) for p in answer)
        stop = response.stop_reason
        if words is not None and stop not in ("refusal", "content_filter"):
            stop = "refusal"  # an OpenAI refusal: Gemini says it with a safety finish
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if not own.get(NO_FINISH):
            candidate["finishReason"] = finish_reason(
                stop if stop is not None or not has_calls else "tool_use", own, ctx
            )
        if words:
            candidate["finishMessage"] = words
        if not own.get(NO_INDEX):
            candidate["index"] = 0
        _apply(candidate, own, "candidate.")
        others = own.get("other_candidates")
        body["candidates"] = [candidate, *(others if isinstance(others, list) else [])]
    feedback_fields = {
        k[len("promptFeedback.") :]: v for k, v in own.items() if k.startswith("promptFeedback.")
    }
    if feedback_fields:
        body.setdefault("promptFeedback", {}).update(feedback_fields)
    if response.usage is not None:
        body["usageMetadata"] = encode_usage(response.usage, ctx, "response.usage")
    body["modelVersion"] = response.model
    body["responseId"] = response.id
    if isinstance(own.get(CREATE_TIME), str):
        body["createTime"] = own[CREATE_TIME]
    for key, value in own.items():
        if not key.startswith("_") and "." not in key and key != "other_candidates":
            body.setdefault(key, value)
    return body


def _apply(out: dict[str, Any], own: Mapping[str, Any], prefix: str) -> None:
    for key, value in own.items():
        if key.startswith(prefix):
            out.setdefault(key[len(prefix) :], value)
