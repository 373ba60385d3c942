"""Codex's client-executed tool search in Responses items: ``tool_search_call`` and
``tool_search_output`` as a call of the ``tool_search`` function and its result, and back.
(A module of its own beside :mod:`~apibridge.codecs.responses._items`, which dispatches here.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apibridge import _json
from apibridge.codecs._context import Context, expect_list, new_id, opt_str
from apibridge.codecs._tool_search import TOOL_SEARCH, loaded_text, tool_definition_names
from apibridge.codecs.responses._wire import (
    absent_keys,
    finish,
    hints,
    item_hint,
    lose_cache,
    lose_foreign,
    pack,
)
from apibridge.errors import InvalidPayload
from apibridge.model import ContentPart, TextPart, ToolCallPart, ToolResultPart

__all__ = [
    "SEARCH_ITEMS",
    "decode_search",
    "encode_search_call",
    "encode_search_output",
    "search_arguments",
]

#: client-executed tool search items (Codex): a call and its output.
SEARCH_ITEMS: Final = frozenset({"tool_search_call", "tool_search_output"})
#: the fields of a tool search call (and of its output) that the part holds.
_SEARCH_CALL_MAPPED: Final = frozenset({"type", "call_id", "arguments", "id", "execution"})
_SEARCH_OUTPUT_MAPPED: Final = frozenset({"type", "call_id", "execution"})


def decode_search(item: Mapping[str, Any], kind: str, where: str) -> ContentPart:
    """A client-executed ``tool_search_call`` as a call of the ``tool_search`` function, its
    ``tool_search_output`` as that call's result, naming the loaded tools (the tools
    themselves ride in ``_item``; the request decoder adds them to its tools)."""
    call_id = opt_str(item.get("call_id"), f"{where}.call_id")
    if kind == "tool_search_call":
        arguments = item.get("arguments", {})
        extra = item_hint(item, _SEARCH_CALL_MAPPED)
        absent = absent_keys(item, ("id", "status"))
        if absent:
            extra["_absent"] = absent
        return ToolCallPart(
            id=call_id or new_id("call_"),
            name=TOOL_SEARCH,
            arguments=arguments if isinstance(arguments, str) else _json.dumps_str(arguments),
            kind="tool_search",
            item_id=opt_str(item.get("id"), f"{where}.id"),
            extras=pack(extra),
        )
    tools = expect_list(item.get("tools", []), f"{where}.tools")
    text = loaded_text(tool_definition_names(tools))
    return ToolResultPart(
        call_id=call_id or "",
        content=(TextPart(text=text),),
        kind="tool_search",
        extras=pack(item_hint(item, _SEARCH_OUTPUT_MAPPED)),
    )


def encode_search_output(part: ToolResultPart, ctx: Context, where: str) -> dict[str, Any]:
    """A tool-search result as the ``tool_search_output`` it came as; one made elsewhere has
    no tool definitions to hold (its text is reported)."""
    own = hints(part.extras)
    item = own.get("_item")
    out: dict[str, Any] = {"type": "tool_search_output", "execution": "client"}
    if part.call_id:
        out["call_id"] = part.call_id
    if not isinstance(item, Mapping) or "tools" not in item:
        out["tools"] = []
        if part.content:
            ctx.lose(f"{where}.content", "a tool_search_output holds tool definitions only")
    if part.is_error:
        ctx.lose(f"{where}.is_error", "responses tool outputs have no error flag")
    lose_cache(part, ctx, where)
    lose_foreign(ctx, part.extras, where)
    finish(out, part.extras, item=item if isinstance(item, Mapping) else None)
    return out


def encode_search_call(
    part: ToolCallPart, item_id: str | None, ctx: Context, where: str
) -> dict[str, Any]:
    """A tool-search call as a client-executed ``tool_search_call`` (its arguments an object)."""
    out: dict[str, Any] = {"type": "tool_search_call"}
    if item_id is not None:
        out["id"] = item_id
    out["call_id"] = part.id
    out["execution"] = "client"
    out["arguments"] = search_arguments(part.arguments, ctx, where)
    out["status"] = "completed"
    lose_cache(part, ctx, where)
    lose_foreign(ctx, part.extras, where)
    finish(out, part.extras, item=hints(part.extras).get("_item"))
    return out


def search_arguments(arguments: str, ctx: Context, where: str) -> Any:
    """A tool-search call's arguments as the JSON object the item holds (text that is no JSON
    object is kept as ``{"query": text}``, reported)."""
    try:
        value = _json.loads(arguments) if arguments.strip() else {}
    except InvalidPayload:
        value = None
    if isinstance(value, dict):
        return value
    ctx.lose(f"{where}.arguments", "tool search arguments are a JSON object", "sent as a query")
    return {"query": arguments}
