"""Responses items ↔ canonical parts (for requests, answers and streams).

Theory of operation
-------------------
A Responses conversation is a flat list of *items* (``message``, ``function_call``,
``function_call_output``, ``reasoning``, ``web_search_call`` …); the canonical model has turns
(:class:`~apibridge.model.Message`) holding *parts*. Decoding maps each item to the parts it
holds (a message item gives one part per content entry, read by
:mod:`~apibridge.codecs.responses._content`; a ``reasoning`` item is read by
:mod:`~apibridge.codecs.responses._reasoning_items`; every other item is exactly one part);
:mod:`~apibridge.codecs.responses._request` then folds consecutive items of the same side into
one turn. Encoding walks the parts and opens a new item wherever the previous one cannot take
the part: consecutive text-like parts (text, refusal, image, file) share one message item,
every other part is an item of its own. Server items of this format are carried whole; another
format's web search becomes a ``web_search_call``, any other server block is lost (reported).

Exactness for a same-format trip rests on a few ``_``-prefixed hints in ``extras["responses"]``:

* ``_item``: on the first part decoded from an item, the item's own fields that no part field
  holds (``id``, ``type``, ``status``, ``phase`` …); it also marks where a new item begins;
* ``_content_string``: the message content was a plain string, not a list of parts;
* ``_output_string``: a tool output was a plain string;
* ``_absent``: keys that this codec writes by default but that the original did not have
  (``id``/``status`` on a call …).

Output items the canonical answer does not name get ids derived from the response id and the
item's position (:class:`ItemIds`), so a streamed and a non-streamed encoding of the same
answer agree, and the ids stay stable from ``.added`` to ``.done`` to the final ``output``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import attrs

from apibridge.codecs._cache_markers import (
    BREAKPOINT,
    breakpoints_on,
    is_marked,
    openai_breakpoint,
)
from apibridge.codecs._compaction import KIND as COMPACTION
from apibridge.codecs._compaction import compaction_part, responses_item
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_str,
    new_id,
    opt_str,
    str_or_none,
)
from apibridge.codecs._server_text import text_forms
from apibridge.codecs.responses._content import MARKABLE, decode_content, encode_content
from apibridge.codecs.responses._reasoning_items import (
    decode_reasoning,
    encode_reasoning,
    is_openai_reasoning,
)
from apibridge.codecs.responses._search_items import (
    SEARCH_ITEMS,
    decode_search,
    encode_search_call,
    encode_search_output,
)
from apibridge.codecs.responses._wire import (
    CALL_ITEMS,
    FORMAT,
    SERVER_TOOL_NAMES,
    USER_SIDE_ITEMS,
    absent_keys,
    finish,
    has_foreign,
    hints,
    item_hint,
    lose_cache,
    lose_foreign,
    pack,
    part_hints,
    split,
)
from apibridge.errors import InvalidPayload
from apibridge.model import (
    ContentPart,
    DocumentPart,
    ImagePart,
    RedactedThinkingPart,
    RefusalPart,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "ItemIds",
    "decode_item",
    "decode_message",
    "encode_item",
    "encode_parts",
    "is_blank",
    "is_message",
    "is_textlike",
    "item_side",
    "new_message",
    "with_hints",
]

# ------------------------------------------------------------------------------- items


def with_hints(part: ContentPart, **more: Any) -> ContentPart:
    """``part`` with hints added (server-tool parts, which have no extras, stay as they are)."""
    if isinstance(part, ServerToolPart):
        return part
    extras = {**part.extras, FORMAT: {**part_hints(part), **more}}
    # ``evolve`` is typed per class; the union of part classes all have ``extras``.
    updated: ContentPart = attrs.evolve(cast(Any, part), extras=extras)
    return updated


#: the fields of a message item that its parts hold (the others ride in ``_item``).
_MESSAGE_MAPPED: Final = frozenset({"role", "content"})


def decode_message(item: Mapping[str, Any], role: str, where: str) -> list[ContentPart]:
    """The parts of a message item; the first carries the item's own fields (``_item``)."""
    item_fields = split(item, _MESSAGE_MAPPED)
    content = item.get("content")
    if isinstance(content, str):
        own = {"_item": item_fields, "_content_string": True}
        return [TextPart(text=content, extras=pack(own))]
    if type(content) is not list:
        content = expect_list(content, f"{where}.content")
    # Hot path: a text entry of the common shape (the role's own type, non-empty text, no
    # other field; an answer's with its empty annotations) is built inline, the first one
    # with the item's fields; any other entry goes through decode_content.
    text_kind = "output_text" if role == "assistant" else "input_text"
    size = 3 if role == "assistant" else 2
    parts: list[ContentPart] = []
    for j, entry in enumerate(content):
        if type(entry) is dict and len(entry) == size and entry.get("type") == text_kind:
            text = entry.get("text")
            if type(text) is str and text and (size == 2 or entry.get("annotations") == []):
                if parts:
                    parts.append(TextPart(text=text))
                else:
                    parts.append(TextPart(text=text, extras={FORMAT: {"_item": item_fields}}))
                continue
        part = decode_content(entry, role, f"{where}.content[{j}]")
        parts.append(with_hints(part, _item=item_fields) if not parts else part)
    if not parts or isinstance(parts[0], ServerToolPart):
        # Nothing to carry the item's fields: an empty marker part opens the item.
        return [TextPart(text="", extras=pack({"_item": item_fields, "_empty": True})), *parts]
    return parts


def is_message(item: Mapping[str, Any]) -> bool:
    """Whether ``item`` is a message (``type: "message"``, or a bare ``role``)."""
    return item.get("type") == "message" or ("type" not in item and "role" in item)


def item_side(item: Mapping[str, Any]) -> str:
    """The conversation side of a non-message item: ``user`` or ``assistant``."""
    kind = item.get("type")
    return "user" if kind in USER_SIDE_ITEMS else "assistant"


#: the fields of a call item (function, custom) and of a tool output that the part holds.
_CALL_MAPPED: Final = frozenset({"type", "call_id", "name", "arguments", "id", "namespace"})
_CUSTOM_CALL_MAPPED: Final = frozenset({"type", "call_id", "name", "input", "id", "namespace"})
_RESULT_MAPPED: Final = frozenset({"type", "call_id", "output"})
#: item fields of programmatic tool calling: data that other formats cannot hold (reported
#: there), written back by this format; ``async: false`` and a ``direct`` caller say nothing.
_CALL_DATA: Final = ("async", "caller")


def _call_data(extra: dict[str, Any]) -> None:
    """Move ``async`` and a non-direct ``caller`` from the ``_item`` hint to data extras."""
    rest = extra.get("_item")
    if not isinstance(rest, dict):
        return
    for key in _CALL_DATA:
        value = rest.get(key)
        if value is None or value is False:
            continue
        if key == "caller" and isinstance(value, Mapping) and value.get("type") == "direct":
            continue
        extra[key] = rest.pop(key)


def decode_item(item: Mapping[str, Any], where: str) -> ContentPart:
    """A non-message item as its one canonical part."""
    kind = expect_str(item.get("type"), f"{where}.type")
    if kind in CALL_ITEMS:
        custom = kind == "custom_tool_call"
        field = "input" if custom else "arguments"
        extra = item_hint(item, _CUSTOM_CALL_MAPPED if custom else _CALL_MAPPED)
        _call_data(extra)
        absent = absent_keys(item, ("id", "status"))
        if absent:  # an answer's calls are written with both unless they came without
            extra["_absent"] = absent
        call_id, name = item.get("call_id"), item.get("name")
        arguments, item_id = item.get(field, ""), item.get("id")
        if not (
            type(name) is str
            and type(arguments) is str
            and (call_id is None or type(call_id) is str)
            and (item_id is None or type(item_id) is str)
        ):  # the readers name the first field that is not what it must be
            call_id = opt_str(call_id, f"{where}.call_id")
            name = expect_str(name, f"{where}.name")
            arguments = expect_str(arguments, f"{where}.{field}")
            item_id = opt_str(item_id, f"{where}.id")
        namespace = item.get("namespace")
        if namespace is not None and type(namespace) is not str:
            namespace = opt_str(namespace, f"{where}.namespace")
        return ToolCallPart(
            id=call_id or new_id("call_"),
            name=name,
            arguments=arguments,
            kind="custom" if custom else "function",
            item_id=item_id,
            namespace=namespace,
            extras=pack(extra),
        )
    if kind in ("function_call_output", "custom_tool_call_output"):
        return _decode_result(item, kind, where)
    if kind in SEARCH_ITEMS and item.get("execution") == "client":
        return decode_search(item, kind, where)
    if kind == "reasoning":
        return decode_reasoning(item, where)
    if kind == COMPACTION:  # maybe an Anthropic compaction block in its envelope
        return compaction_part(item, FORMAT)
    return ServerToolPart(
        kind=kind,
        raw=dict(item),
        source_format=FORMAT,
        tool=SERVER_TOOL_NAMES.get(kind),
        id=str_or_none(item.get("id")),
    )


def _decode_result(item: Mapping[str, Any], kind: str, where: str) -> ToolResultPart:
    extra = item_hint(item, _RESULT_MAPPED)
    _call_data(extra)
    output = item.get("output")
    content: tuple[TextPart | ImagePart | DocumentPart, ...]
    if isinstance(output, str):
        content, extra["_output_string"] = (TextPart(text=output),), True
    else:
        parts = []
        for i, entry in enumerate(expect_list(output, f"{where}.output")):
            part = decode_content(entry, "user", f"{where}.output[{i}]")
            if not isinstance(part, (TextPart, ImagePart, DocumentPart)):
                raise InvalidPayload(f"{where}.output[{i}]: not a text, image or file part")
            parts.append(part)
        content = tuple(parts)
    call_id = item.get("call_id")
    return ToolResultPart(
        call_id=call_id if type(call_id) is str else expect_str(call_id, f"{where}.call_id"),
        content=content,
        kind="custom" if kind == "custom_tool_call_output" else "function",
        extras=pack(extra),
    )


def _encode_result(part: ToolResultPart, ctx: Context, where: str) -> dict[str, Any]:
    if part.kind == "tool_search":
        return encode_search_output(part, ctx, where)
    own = hints(part.extras)
    kind = "custom_tool_call_output" if part.kind == "custom" else "function_call_output"
    out: dict[str, Any] = {"type": kind, "call_id": part.call_id}
    texts_only = all(isinstance(p, TextPart) for p in part.content)
    extras, breakpoint = openai_breakpoint(part.cache_control, part.extras, FORMAT, ctx, where)
    if (
        texts_only
        and len(part.content) <= 1
        and (own.get("_output_string") or not own)
        and (breakpoint is None or not part.content)
        and not (breakpoints_on(ctx, FORMAT) and any(is_marked(p) for p in part.content))
    ):
        out["output"] = part.text
        for i, p in enumerate(part.content):
            lose_cache(p, ctx, f"{where}.content[{i}]")
            lose_foreign(ctx, p.extras, f"{where}.content[{i}]")
    else:
        entries = (
            encode_content(p, "user", ctx, f"{where}.content[{i}]")
            for i, p in enumerate(part.content)
        )
        out["output"] = [e for e in entries if e is not None]
    if breakpoint is not None:
        # the marker ends the prefix at the result's end: on its last entry (a list output)
        last = out["output"][-1] if isinstance(out["output"], list) and out["output"] else None
        if last is not None and last.get("type") in MARKABLE:
            out["output"][-1] = {**last, BREAKPOINT: breakpoint}
        else:
            ctx.lose(f"{where}.cache_control", "the tool output has no part to mark")
    if part.is_error:
        ctx.lose(
            f"{where}.is_error",
            "responses tool outputs have no error flag",
            "sent as a normal output",
        )
    lose_foreign(ctx, extras, where)
    finish(out, part.extras, item=own.get("_item"))
    return out


def _encode_call(
    part: ToolCallPart, item_id: str | None, ctx: Context, where: str, output: bool
) -> dict[str, Any]:
    own = hints(part.extras)
    if part.kind == "tool_search":
        return encode_search_call(part, item_id, ctx, where)
    custom = part.kind == "custom"
    out: dict[str, Any] = {"type": "custom_tool_call" if custom else "function_call"}
    if item_id is not None:
        out["id"] = item_id
    if output:
        out["status"] = "completed"
    out["call_id"] = part.id
    out["name"] = part.name
    if part.namespace is not None:
        out["namespace"] = part.namespace
    out["input" if custom else "arguments"] = part.arguments
    lose_cache(part, ctx, where)
    lose_foreign(ctx, part.extras, where)
    finish(out, part.extras, item=own.get("_item"))
    return out


def _foreign_server_item(
    part: ServerToolPart, item_id: str, ctx: Context, where: str
) -> dict[str, Any] | None:
    """Another format's server-tool block as a Responses item, where one maps."""
    raw = part.raw
    if part.tool == "web_search" and raw.get("type") == "server_tool_use":
        action: dict[str, Any] = {"type": "search"}
        query = raw.get("input", {}).get("query") if isinstance(raw.get("input"), Mapping) else None
        if isinstance(query, str):
            action["query"] = query
        caller = raw.get("caller")
        if isinstance(caller, Mapping) and caller.get("type") not in (None, "direct"):
            ctx.lose(f"{where}.caller", "a web_search_call has no caller")  # code execution's
        if raw.get("cache_control") is not None:
            ctx.lose(f"{where}.cache_control", "a web_search_call has no cache breakpoint")
        return {"type": "web_search_call", "id": item_id, "status": "completed", "action": action}
    ctx.lose(where, f"{part.source_format} {part.kind} block has no responses equivalent")
    return None


# ------------------------------------------------------------------------------ groups


class ItemIds:
    """Ids for output items the canonical answer does not name.

    Derived from the response id and the item's position, so two encodings of one answer
    (streamed and not) give the same ids; ``None`` as the response id means *input* items,
    which need no id except where the API requires one (reasoning).
    """

    def __init__(self, response_id: str | None) -> None:
        self.response_id = response_id

    def make(self, prefix: str, position: int) -> str:
        """The id of the item at ``position`` (``prefix`` such as ``msg_``)."""
        if self.response_id is None:
            return new_id(prefix)
        digest = hashlib.sha256(f"{self.response_id}/{position}".encode()).hexdigest()
        return prefix + digest[:48]

    def optional(self, prefix: str, position: int) -> str | None:
        """An id where the item may go without one (input items)."""
        return None if self.response_id is None else self.make(prefix, position)


_TEXTLIKE = (TextPart, RefusalPart, ImagePart, DocumentPart)


def is_textlike(part: ContentPart) -> bool:
    """Whether ``part`` lives inside a message item's content list."""
    if isinstance(part, ServerToolPart):
        return part.source_format == FORMAT and part.kind.startswith("content.")
    return isinstance(part, _TEXTLIKE)


def is_blank(part: ContentPart) -> bool:
    """A text part that never got text and carries nothing of ours: never emitted."""
    return (
        isinstance(part, TextPart)
        and not part.text
        and not part.citations
        and not hints(part.extras)
    )


def new_message(
    role: str, item: Mapping[str, Any] | None, ids: ItemIds, position: int
) -> dict[str, Any]:
    """An empty message item: with the hinted fields, or the defaults.

    Output messages carry an id and a status. So do assistant messages in a request that
    hold a list: the SDK types allow ``output_text`` only in that full form (a lone plain text
    becomes the short ``content`` string form instead, see :func:`_close_string`).
    """
    if item is not None:
        return {**item, "role": role, "content": []}
    msg_id = ids.optional("msg_", position)
    if msg_id is None and role == "assistant":
        msg_id = ids.make("msg_", position)
    if msg_id is None:
        return {"type": "message", "role": role, "content": []}
    return {"id": msg_id, "type": "message", "status": "completed", "role": role, "content": []}


def encode_item(
    part: ContentPart, ctx: Context, where: str, ids: ItemIds, position: int, output: bool
) -> dict[str, Any] | None:
    """A part that is an item of its own (``None``: it cannot be carried; reported)."""
    if isinstance(part, ToolCallPart):
        prefix = {"custom": "ctc_", "tool_search": "tsc_"}.get(part.kind, "fc_")
        return _encode_call(
            part, part.item_id or ids.optional(prefix, position), ctx, where, output
        )
    if isinstance(part, (ThinkingPart, RedactedThinkingPart)):
        own = hints(part.extras)
        given = part.id if isinstance(part, ThinkingPart) else own.get("_id")
        if not output and not is_openai_reasoning(part, own):
            # OpenAI rejects reasoning it did not produce (an unknown id, foreign encrypted
            # content): in a request, only its own items go back (DESIGN.md, FIDELITY 3)
            ctx.lose(where, "reasoning from another provider cannot be sent to OpenAI", "omitted")
            return None
        return encode_reasoning(part, given or ids.make("rs_", position), ctx, where)
    if isinstance(part, ServerToolPart):
        if part.source_format == FORMAT:
            return dict(part.raw)
        if part.kind == COMPACTION:
            return responses_item(part, ids.make("cmp_", position), where, ctx, output=output)
        return _foreign_server_item(part, part.id or ids.make("ws_", position), ctx, where)
    if isinstance(part, ToolResultPart) and not output:
        return _encode_result(part, ctx, where)
    ctx.lose(where, f"a {type(part).__name__} cannot appear in a responses answer")
    return None


def encode_parts(
    parts: Sequence[ContentPart],
    role: str,
    ctx: Context,
    where: str,
    ids: ItemIds,
    *,
    output: bool = False,
    start: int = 0,
) -> list[dict[str, Any]]:
    """Items for the parts of one turn: text-like runs share a message item."""
    items: list[dict[str, Any]] = []
    msg: dict[str, Any] | None = None
    as_string: bool | None = False
    text_kind = "output_text" if role == "assistant" else "input_text"
    # Another format's assistant text in a request: its item's id is made only if the item
    # keeps its full form (see _close_string), not for every item that becomes a string.
    pending = not output and role == "assistant" and ids.response_id is None
    # another API's server-tool blocks in the history: the text they hold (_server_text)
    for i, part in text_forms(parts, FORMAT, ctx, where + "[{}]", history=not output):
        if type(part) is TextPart and not part.extras:
            # The common part, with nothing but its values: no helper call, no place name
            # (as encode_content writes it, with its one possible loss kept on the way).
            text = part.text
            if not text and not part.citations:
                continue  # blank: never emitted
            if part.cache_control is None and not part.citations:
                plain: dict[str, Any] = {"type": text_kind, "text": text}
                if text_kind == "output_text":
                    plain["annotations"] = []
                if msg is None:
                    msg = _open_message(role, None, ids, start + len(items), pending)
                    as_string = False if output or role != "assistant" else None
                    items.append(msg)
                msg["content"].append(plain)
                continue
        elif (
            type(part) is ToolCallPart
            and not part.extras
            and part.kind == "function"
            and part.item_id is None
            and part.namespace is None
            and part.cache_control is None
        ):
            # A plain call, as encode_item writes it (nothing to report, no hint to apply).
            _close_string(msg, as_string)
            msg = None
            call: dict[str, Any] = {"type": "function_call"}
            if ids.response_id is not None:
                call["id"] = ids.make("fc_", start + len(items))
            if output:
                call["status"] = "completed"
            call["call_id"] = part.id
            call["name"] = part.name
            call["arguments"] = part.arguments
            items.append(call)
            continue
        elif (
            type(part) is ToolResultPart
            and not output
            and part.kind != "tool_search"
            and not part.is_error
            and part.cache_control is None
            and _plain_output(part.content)
            and (not part.extras or (FORMAT not in part.extras and not has_foreign(part.extras)))
        ):
            # A plain text result, as encode_item writes it (nothing to report or apply).
            _close_string(msg, as_string)
            msg = None
            kind = "custom_tool_call_output" if part.kind == "custom" else "function_call_output"
            items.append({"type": kind, "call_id": part.call_id, "output": part.text})
            continue
        at = f"{where}[{i}]"
        if not is_textlike(part):
            _close_string(msg, as_string)
            msg = None
            item = encode_item(part, ctx, at, ids, start + len(items), output)
            if item is not None:
                items.append(item)
            continue
        if is_blank(part):
            continue
        own = part_hints(part)
        entry = None if own.get("_empty") else encode_content(part, role, ctx, at)
        if entry is None and not own.get("_empty"):
            continue
        if msg is None or "_item" in own:
            _close_string(msg, as_string)
            msg = _open_message(role, own.get("_item"), ids, start + len(items), pending)
            as_string = bool(own.get("_content_string"))
            if "_item" not in own and not output and role == "assistant":
                as_string = None  # another format's assistant text: the short form if it fits
            items.append(msg)
        if entry is not None:
            msg["content"].append(entry)
    _close_string(msg, as_string)
    return items


#: stands for the id of a message item that is made only if the item keeps its full form.
_PENDING_ID: Final = object()


def _open_message(
    role: str, item: Mapping[str, Any] | None, ids: ItemIds, position: int, pending: bool
) -> dict[str, Any]:
    """:func:`new_message`, with the id left pending for another format's assistant text."""
    if item is None and pending:
        return {
            "id": _PENDING_ID,
            "type": "message",
            "status": "completed",
            "role": role,
            "content": [],
        }
    return new_message(role, item, ids, position)


def _plain_output(content: Sequence[ContentPart]) -> bool:
    """Whether a tool result's content goes as a plain ``output`` string with nothing to
    report: no part, or one text part without a cache marker or another format's field."""
    if not content:
        return True
    if len(content) != 1:
        return False
    only = content[0]
    return (
        type(only) is TextPart
        and only.cache_control is None
        and not (only.extras and has_foreign(only.extras))
    )


def _close_string(msg: dict[str, Any] | None, as_string: bool | None) -> None:
    """Turn a one-entry content list into the plain string form: always when it was received
    so (``True``), or when the entry is plain text without annotations (``None``)."""
    if msg is None or as_string is False:
        return
    content = msg["content"]
    if len(content) == 1:
        entry = content[0]
        plain = set(entry) <= {"type", "text", "annotations"} and not entry.get("annotations")
        if as_string and plain and "text" in entry:
            msg["content"] = entry["text"]
        elif as_string is None and plain and entry["type"] == "output_text":
            msg.pop("id", None)
            msg.pop("status", None)
            msg["content"] = entry["text"]
            return
    if msg.get("id") is _PENDING_ID:
        msg["id"] = new_id("msg_")  # the full form: the id new_message would have made
