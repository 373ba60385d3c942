"""Chat ``messages`` ↔ canonical messages, and the assistant message shared with responses.

Theory of operation.

Decoding: leading ``system``/``developer`` messages of text become ``Request.system`` (their
layout, when not the single message the encoder writes by default, is kept as the ``_system``
hint; one with a ``name`` or an image stays a message of its own);
consecutive ``tool`` (and legacy ``function``) messages merge into one canonical ``user``
message of :class:`ToolResultPart` values; an ``assistant`` message becomes
``[ThinkingPart] + content parts + [RefusalPart] + ToolCallParts`` in that order. Content
parts are mapped in ``_parts``; part types the model does not map (``input_audio``,
vendors' ``video_url``) are carried as ``unmapped_parts`` with their positions, so other
formats report them.

Encoding: the reverse, plus what other formats need: a user message holding tool results
splits into one ``tool`` message per result, then a ``user`` message with the rest of the
turn; images and documents inside tool results move into that user message (a loss with
action ``moved``, as Chat tool messages hold only text); thinking is replayed in the
upstream's reasoning dialect (``_reasoning_dialects``: ``reasoning_content``, which DeepSeek and
Kimi require back, ``reasoning``, ``reasoning_details`` or ``<think>`` tags), where a text
dialect cannot carry a signature or encrypted value (a loss); a free-form (``custom``) call
in the history that did not come from a Chat client goes as a function call with
``{"input": text}`` arguments, as its tool does (see ``codecs.chat``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from apibridge.codecs._compaction import add_chat_summary, is_compaction
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    new_id,
    opt_str,
    part_words,
)
from apibridge.codecs._server_text import text_forms
from apibridge.codecs.chat._parts import (
    UNMAPPED,
    content_hint,
    decode_content,
    encode_user_part,
    is_trivial,
    mark_last,
    reinsert,
    spell,
    text_item,
    wrap,
)
from apibridge.codecs.chat._plain import (
    NO_HINTS,
    carries,
    has_foreign_fields,
    plain_content,
    plain_texts,
    read_message,
    spell_plain,
    write_message,
)
from apibridge.codecs.chat._reasoning_dialects import (
    ReasoningWriter,
    coalesce,
    read_reasoning,
    split_think,
)
from apibridge.codecs.chat._wire import (
    ABSENT,
    CHAT_CUSTOM,
    FORMAT,
    apply_extras,
    content_kind,
    decode_annotation,
    decode_tool_call,
    default_content_kind,
    encode_citation,
    encode_tool_call,
    hints,
)
from apibridge.errors import InvalidPayload
from apibridge.model import (
    Citation,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    RedactedThinkingPart,
    RefusalPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "DecodedMessages",
    "decode_assistant",
    "decode_messages",
    "encode_assistant",
    "encode_messages",
    "encode_system",
]

#: Chat role → canonical role (tool and function results live in a user turn, as in Claude).
ROLE_TO_CANONICAL: Final[Mapping[str, str]] = {
    "system": "system",
    "developer": "developer",
    "user": "user",
    "assistant": "assistant",
    "tool": "user",
    "function": "user",
}

_ASSISTANT_KEYS: Final = frozenset(
    {"role", "content", "refusal", "tool_calls", "function_call", "annotations"}
    | {"reasoning_content", "reasoning", "reasoning_details"}
)


# ---------------------------------------------------------------------------------- system


@attrs.frozen(kw_only=True)
class DecodedMessages:
    """The ``messages`` array, decoded."""

    system: tuple[TextPart, ...]
    """Text of the leading system/developer messages."""
    system_role: str
    """``system`` or ``developer``: how the first leading message was spelled."""
    system_layout: list[dict[str, Any]] | None
    """The leading messages' layout, when not the encoder's default (the ``_system`` hint)."""
    messages: tuple[Message, ...]
    """Everything after them."""


def _default_layout(system: Sequence[TextPart], role: str) -> list[dict[str, Any]]:
    if not system:
        return []
    if len(system) == 1 and system[0].text and not system[0].extras:  # the common case
        return [{"role": role, "count": 1, "kind": "string"}]
    items = [{"type": "text", "text": p.text, **_data(p.extras)} for p in system]
    return [{"role": role, "count": len(system), "kind": default_content_kind(items)}]


def _data(extras: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {k: v for k, v in hints(extras).items() if not k.startswith("_")}


def encode_system(
    system: Sequence[TextPart], role: str, layout: Any, ctx: Context
) -> list[dict[str, Any]]:
    """``Request.system`` as leading messages, in the ``_system`` hint's layout if it fits."""
    if layout is None and plain_texts(system):
        # No hint and nothing but text: one message, as the default layout writes it.
        return [{"role": role, "content": plain_content(system)}] if system else []
    if not (
        isinstance(layout, list)
        and all(isinstance(e, Mapping) and isinstance(e.get("count"), int) for e in layout)
        and sum(e["count"] for e in layout) == len(system)
    ):
        layout = _default_layout(system, role)
    items: list[dict[str, Any]] = []
    for k, part in enumerate(system):
        if part.citations:
            ctx.lose(f"system[{k}].citations", "chat system text carries no citations", "dropped")
        items.append(text_item(part, ctx, f"system[{k}]"))
    out: list[dict[str, Any]] = []
    position = 0
    for entry in layout:
        chunk = items[position : position + entry["count"]]
        position += entry["count"]
        message: dict[str, Any] = {"role": entry["role"]}
        content = spell(chunk, entry.get("kind"))
        if content is not ABSENT:
            message["content"] = content
        message.update(entry.get("fields", {}))
        out.append(message)
    return out


# -------------------------------------------------------------------------------- decoding


def decode_messages(raw: Any) -> DecodedMessages:
    """The ``messages`` array of a Chat request."""
    items = expect_list(raw, "messages")
    system: list[TextPart] = []
    layout: list[dict[str, Any]] = []
    start = 0
    while start < len(items):
        where = f"messages[{start}]"
        message = expect_obj(items[start], where)
        role = message.get("role")
        if role not in ("system", "developer"):
            break
        content = message.get("content", ABSENT)
        parts, unmapped = decode_content(content, f"{where}.content")
        fields = {k: v for k, v in message.items() if k not in ("role", "content")}
        if unmapped or not all(isinstance(p, TextPart) for p in parts):
            break
        if any(v is not None for v in fields.values()):
            break  # a named system message keeps its name as a message of its own
        entry: dict[str, Any] = {"role": role, "count": len(parts), "kind": content_kind(content)}
        if fields:
            entry["fields"] = fields
        layout.append(entry)
        system.extend(p for p in parts if isinstance(p, TextPart))
        start += 1
    system_role = layout[0]["role"] if layout else "system"
    messages: list[Message] = []
    results: list[ToolResultPart] = []
    legacy_ids: dict[str, str] = {}  # function name → id given to its legacy function_call
    for j in range(start, len(items)):
        message = items[j]
        plain = read_message(message) if type(message) is dict else None
        if type(plain) is ToolResultPart:
            results.append(plain)
            continue
        if type(plain) is Message:
            if results:
                messages.append(Message(role="user", content=tuple(results)))
                results = []
            messages.append(plain)
            continue
        where = f"messages[{j}]"
        message = expect_obj(message, where)
        role = message.get("role")
        if role in ("tool", "function"):
            results.append(_decode_tool_message(message, role, where, legacy_ids))
            continue
        if results:
            messages.append(Message(role="user", content=tuple(results)))
            results = []
        if role == "assistant":
            said, fields, name = decode_assistant(message, where, legacy_ids, request=True)
            messages.append(Message(role="assistant", content=said, name=name, extras=wrap(fields)))
        elif role in ("user", "system", "developer"):
            messages.append(_decode_plain(message, str(role), where))
        else:
            raise InvalidPayload(f"{where}.role: unknown role {role!r}")
    if results:
        messages.append(Message(role="user", content=tuple(results)))
    return DecodedMessages(
        system=tuple(system),
        system_role=system_role,
        system_layout=layout if layout != _default_layout(system, system_role) else None,
        messages=tuple(messages),
    )


def _decode_plain(message: Mapping[str, Any], role: str, where: str) -> Message:
    content = message.get("content", ABSENT)
    parts, unmapped = decode_content(content, f"{where}.content")
    fields: dict[str, Any] = {}
    trivial: dict[str, Any] = {}
    for key, value in message.items():
        if key in ("role", "content", "name"):
            continue
        if value is None:
            trivial[key] = None
        else:
            fields[key] = value
    name = message.get("name")
    if name is None and "name" in message:
        trivial["name"] = None
    _spelling(fields, unmapped, content_hint(content), trivial)
    return Message(
        role=role,
        content=tuple(parts),
        name=opt_str(name, f"{where}.name"),
        extras=wrap(fields),
    )


def _spelling(
    fields: dict[str, Any], unmapped: Any, hint: str | None, trivial: dict[str, Any]
) -> None:
    """Record how a message was spelled, for an exact same-format trip: content parts no
    other format has, the content's form (string, list, null), and fields sent as null."""
    if unmapped:
        fields[UNMAPPED] = unmapped
    if hint is not None:
        fields["_content"] = hint
    if trivial:
        fields["_trivial"] = trivial


def _decode_tool_message(
    message: Mapping[str, Any], role: str, where: str, legacy_ids: dict[str, str]
) -> ToolResultPart:
    content = message.get("content", ABSENT)
    parts, unmapped = decode_content(content, f"{where}.content")
    results: list[TextPart | ImagePart | DocumentPart] = []
    for k, part in enumerate(parts):
        if not isinstance(part, TextPart | ImagePart | DocumentPart):
            raise InvalidPayload(f"{where}.content[{k}]: a tool result cannot hold a refusal")
        results.append(part)
    fields: dict[str, Any] = {}
    trivial: dict[str, Any] = {}
    mapped = ("role", "content", "tool_call_id") if role == "tool" else ("role", "content", "name")
    for key, value in message.items():
        if key not in mapped:
            (trivial if value is None else fields)[key] = value
    if role == "tool":
        call_id = expect_str(message.get("tool_call_id"), f"{where}.tool_call_id")
    else:
        name = expect_str(message.get("name"), f"{where}.name")
        call_id = legacy_ids.pop(name, "") or new_id("call_")
        fields["_function_name"] = name
    _spelling(fields, unmapped, content_hint(content), trivial)
    return ToolResultPart(call_id=call_id, content=tuple(results), extras=wrap(fields))


def decode_assistant(
    message: Mapping[str, Any],
    where: str,
    legacy_ids: dict[str, str] | None = None,
    *,
    request: bool,
    think: bool = False,
) -> tuple[tuple[ContentPart, ...], dict[str, Any], str | None]:
    """An assistant message (request history or a response's ``choices[0].message``).

    Returns its parts, its carried fields and hints, and its ``name`` (requests only).
    ``think``: read ``<think>`` blocks in a string ``content`` as reasoning.
    """
    fields: dict[str, Any] = {}
    trivial: dict[str, Any] = {}
    mapped = _ASSISTANT_KEYS | ({"name"} if request else set())
    for key, value in message.items():
        if key in mapped and key != "content" and is_trivial(value):
            trivial[key] = value
        elif key not in mapped:
            (trivial if value is None else fields)[key] = value
    parts: list[ContentPart] = []
    thinking = read_reasoning(message, fields, where)
    if thinking is not None:
        parts.append(thinking)
    content = message.get("content", ABSENT)
    content_parts: list[Any]
    if think and type(content) is str and "<think>" in content and not message.get("annotations"):
        content_parts, unmapped = list(split_think(content)), None
    else:
        content_parts, unmapped = decode_content(content, f"{where}.content")
    for k, part in enumerate(content_parts):
        if not isinstance(part, TextPart | RefusalPart | ThinkingPart):
            raise InvalidPayload(f"{where}.content[{k}]: assistant content is text or refusal")
    annotations = message.get("annotations")
    if not (is_trivial(annotations) or isinstance(annotations, list)):
        raise InvalidPayload(f"{where}.annotations: expected an array")
    if isinstance(annotations, list) and annotations:
        texts = [p for p in content_parts if isinstance(p, TextPart)]
        if len(texts) == 1:
            cites = tuple(
                decode_annotation(a, f"{where}.annotations[{k}]") for k, a in enumerate(annotations)
            )
            index = content_parts.index(texts[0])
            content_parts[index] = attrs.evolve(texts[0], citations=cites)
        else:
            fields["annotations"] = annotations  # nothing (or too much) to attach them to
    parts.extend(content_parts)
    refusal = message.get("refusal")
    if not (is_trivial(refusal) or isinstance(refusal, str)):
        raise InvalidPayload(f"{where}.refusal: expected a string")
    if isinstance(refusal, str) and refusal:
        parts.append(RefusalPart(text=refusal))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        parts.extend(
            decode_tool_call(c, f"{where}.tool_calls[{k}]", request=request)
            for k, c in enumerate(calls)
        )
    elif not is_trivial(calls):
        raise InvalidPayload(f"{where}.tool_calls: expected an array")
    legacy = message.get("function_call")
    if not is_trivial(legacy):
        call = decode_tool_call({"type": "function", "function": legacy}, f"{where}.function_call")
        legacy_fields = {**hints(call.extras), "_legacy": True}
        legacy_fields.pop("_type_absent", None)
        parts.append(attrs.evolve(call, extras=wrap(legacy_fields)))
        if legacy_ids is not None:
            legacy_ids[call.name] = call.id
    # ``null`` beside tool calls or a refusal, as OpenAI writes them
    bare = is_trivial(calls) and is_trivial(legacy) and not (isinstance(refusal, str) and refusal)
    hint = content_hint(content, null_when_empty=not bare)
    if not request and isinstance(content, list):
        hint = "list"  # an answer's default content is one joined string
    _spelling(fields, unmapped, hint, trivial)
    name = opt_str(message.get("name"), f"{where}.name") if request else None
    return tuple(parts), fields, name


# -------------------------------------------------------------------------------- encoding


def encode_messages(messages: Sequence[Message], ctx: Context) -> list[dict[str, Any]]:
    """Canonical messages as Chat messages (tool results split into ``tool`` messages)."""
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        # The common shapes go without helper calls per part, or a place name (``_plain``).
        extras = message.extras
        carried = extras.get(FORMAT, NO_HINTS) if extras else NO_HINTS
        if extras and has_foreign_fields(extras):
            ctx.lose_extras(extras, FORMAT, f"messages[{i}]")
        written = write_message(message, carried)  # None for an assistant turn
        if written is not None:
            out.extend(written)
            continue
        where = f"messages[{i}]"
        if message.role == "assistant":
            body = encode_assistant(message.content, carried, ctx, where, request=True)
            if message.name is not None:
                body["name"] = message.name
            out.append(body)
        elif message.role == "user" and ToolResultPart in map(type, message.content):
            out.extend(_encode_tool_turn(message, ctx, where))
        else:
            role = message.role
            if role not in ("user", "system", "developer"):
                ctx.lose(f"{where}.role", f"chat has no {role!r} role", "sent as user")
                role = "user"
            out.append(_encode_plain(role, message.content, message.name, carried, ctx, where))
    return out


def _encode_plain(
    role: str,
    parts: Sequence[ContentPart],
    name: str | None,
    carried: Mapping[str, Any],
    ctx: Context,
    where: str,
) -> dict[str, Any]:
    items: list[Any] = []
    for k, part in text_forms(parts, FORMAT, ctx, where + ".content[{}]"):  # server blocks: text
        if (item := encode_user_part(part, ctx, f"{where}.content[{k}]")) is not None:
            items.append(item)
    reinsert(items, carried.get(UNMAPPED))
    out: dict[str, Any] = {"role": role}
    content = spell(items, carried.get("_content"))
    if content is not ABSENT:
        out["content"] = content
    if name is not None:
        out["name"] = name
    apply_extras(out, {k: v for k, v in carried.items() if k != UNMAPPED})
    return out


def _encode_tool_turn(message: Message, ctx: Context, where: str) -> list[dict[str, Any]]:
    """A user turn with tool results: one tool message each, then a user message for the rest
    (and for images or documents that a Chat tool message cannot hold)."""
    out: list[dict[str, Any]] = []
    rest: list[ContentPart] = []
    moved: list[ContentPart] = []
    for k, part in enumerate(message.content):
        if isinstance(part, ToolResultPart):
            out.append(_encode_tool_result(part, ctx, f"{where}.content[{k}]", moved))
        else:
            rest.append(part)
    if moved or rest:
        carried = {k: v for k, v in hints(message.extras).items() if not k.startswith("_")}
        out.append(_encode_plain("user", moved + rest, message.name, carried, ctx, where))
    return out


def _encode_tool_result(
    part: ToolResultPart, ctx: Context, where: str, moved: list[ContentPart]
) -> dict[str, Any]:
    carried = hints(part.extras)
    items: list[Any] = []
    for k, inner in enumerate(part.content):
        if isinstance(inner, TextPart):
            items.append(text_item(inner, ctx, f"{where}.content[{k}]"))
        else:
            moved.append(inner)
            ctx.lose(
                f"{where}.content[{k}]",
                "chat tool messages hold text only; sent in a user message after them",
                "moved",
            )
    reinsert(items, carried.get(UNMAPPED))
    if part.is_error:
        ctx.lose(f"{where}.is_error", "chat tool messages have no error flag", "dropped")
    ctx.lose_extras(mark_last(items, part, ctx, where), FORMAT, where)
    name = carried.get("_function_name")
    out: dict[str, Any]
    if isinstance(name, str):
        out = {"role": "function", "name": name}
    else:
        out = {"role": "tool", "tool_call_id": part.call_id}
    content = spell(items, carried.get("_content"))
    if content is not ABSENT:
        out["content"] = content
    apply_extras(out, {k: v for k, v in carried.items() if k != UNMAPPED})
    return out


def encode_assistant(
    parts: Sequence[ContentPart],
    carried: Mapping[str, Any],
    ctx: Context,
    where: str,
    *,
    request: bool,
) -> dict[str, Any]:
    """Assistant ``parts`` as a Chat assistant message (request history or an answer).

    Text parts join into ``content`` (a list when the hint says so); their citations become
    ``annotations`` with offsets into that content. In a request, citations that did not
    come from Chat are dropped with a loss (Chat requests carry no annotations).
    """
    out: dict[str, Any] = {"role": "assistant"}
    reasoning = ReasoningWriter(ctx, carried, request=request)
    items: list[Any] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    offset = 0
    plain = True  # every item is a bare ``{"type": "text", "text": …}``
    for k, part in text_forms(parts, FORMAT, ctx, where + ".content[{}]", request):
        # The common parts with nothing but their values: no helper call, no place name.
        if type(part) is TextPart:  # (another format's spelling hints only: still plain)
            bare = not part.extras or not carries(part.extras)
            if bare and part.cache_control is None and not part.citations:
                items.append({"type": "text", "text": part.text})
                offset += len(part.text)
                continue
        elif (
            type(part) is ToolCallPart
            and not (part.extras and carries(part.extras))
            and part.kind == "function"
            and part.item_id is None
            and part.cache_control is None
        ):
            function = {"name": part.name, "arguments": part.arguments}
            calls.append({"id": part.id, "type": "function", "function": function})
            continue
        plain = False  # an item (if any) that may carry more than its text
        at = f"{where}.content[{k}]"
        if isinstance(part, TextPart):
            items.append(text_item(part, ctx, at))
            annotations.extend(
                _annotations(part.citations, offset, len(part.text), ctx, at, request)
            )
            offset += len(part.text)
        elif isinstance(part, ThinkingPart | RedactedThinkingPart):
            offset += reasoning.add(part, items, at)
        elif isinstance(part, RefusalPart):
            if hints(part.extras).get("_in_content"):
                item: dict[str, Any] = {"type": "refusal", "refusal": part.text}
                apply_extras(item, hints(part.extras))
                items.append(item)
            else:
                refusals.append(part.text)
            ctx.lose_extras(part.extras, FORMAT, at)
        elif isinstance(part, ToolCallPart):
            # In a request, a free-form call from another format goes as a function call,
            # as its tool does (only a Chat client's own custom calls stay custom).
            wrap = request and not hints(part.extras).get(CHAT_CUSTOM)
            call = encode_tool_call(part, ctx, at, wrap=wrap)
            if hints(part.extras).get("_legacy"):
                out["function_call"] = call["function"]
            else:
                calls.append(call)
        elif is_compaction(part):  # its summary as text, or nothing: reported either way
            offset += add_chat_summary(items, part, at, ctx)
        else:
            ctx.lose(at, f"a chat assistant message cannot hold {part_words(part)}", "dropped")
    reasoning.write(out, carried)
    if reasoning.think:
        coalesce(items)  # think blocks and the text around them: one string, as they came
    has_calls = bool(calls) or "function_call" in out
    if plain and request and not carried:  # bare text items, no hint: as ``spell`` writes
        out["content"] = spell_plain(items, has_calls)
    else:
        reinsert(items, carried.get(UNMAPPED))
        if not request and "_content" not in carried and len(items) > 1:
            # An answer's content is one string: the text parts are contiguous pieces of it.
            items = [{"type": "text", "text": "".join(i.get("text", "") for i in items)}]
        content = spell(items, carried.get("_content"), null_when_empty=has_calls or bool(refusals))
        if content is not ABSENT:
            out["content"] = content
    if refusals:
        out["refusal"] = "".join(refusals)
    if calls:
        out["tool_calls"] = calls
    if annotations:
        out["annotations"] = annotations
    if carried:
        apply_extras(out, {k: v for k, v in carried.items() if k != UNMAPPED})
    return out


def _annotations(
    citations: Sequence[Citation], base: int, length: int, ctx: Context, where: str, request: bool
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, citation in enumerate(citations):
        at = f"{where}.citations[{k}]"
        if request and citation.source_format != FORMAT:
            ctx.lose(at, "chat requests carry no citations", "dropped")
            continue
        encoded = encode_citation(citation, base, length, ctx, at)
        if encoded is not None:
            out.append(encoded)
    return out
