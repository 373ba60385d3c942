"""The common shapes of Chat messages, read and written without the general path.

Theory of operation. Most messages of a conversation carry nothing but their values: a user
turn of one string, tool results of text, an assistant turn of text and function calls, a
text part with no extras, cache breakpoint or citation. The general readers and writers in
``_messages`` and ``_parts`` handle every spelling, hint and loss, at the price of a helper
call and a place name per part; on a long agent conversation that is most of the time. Each
function here recognises one such shape exactly (any other key, a ``null``, a hint or a
foreign field and it declines, with ``None`` or ``False``) and gives what the general path
would give for it, byte for byte; the callers fall back to the general path otherwise.
Nothing is reported here: a shape that would need a loss is never a plain one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeGuard, cast

from apibridge.codecs.chat._wire import ABSENT, FORMAT
from apibridge.model import ContentPart, Message, TextPart, ToolCallPart, ToolResultPart

__all__ = [
    "carries",
    "NO_HINTS",
    "has_foreign_fields",
    "read_message",
    "spell_plain",
    "write_message",
    "plain_content",
    "plain_results",
    "plain_texts",
    "read_assistant_message",
    "read_tool_message",
    "read_user_message",
    "write_tool_message",
]

# ------------------------------------------------------------------------------- reading


def read_message(message: dict[str, Any]) -> Message | ToolResultPart | None:
    """A plain ``tool``, ``user`` or ``assistant`` message (a tool message as its
    :class:`ToolResultPart`), as the general reader would read it; ``None`` otherwise."""
    role = message.get("role")
    if role == "tool":
        return read_tool_message(message)
    if role == "assistant":
        parts = read_assistant_message(message)
    elif role == "user":
        parts = read_user_message(message)
    else:
        return None
    return None if parts is None else Message(role=role, content=parts)


_TOOL_MESSAGE_KEYS: Final = frozenset({"role", "tool_call_id", "content"})
_PLAIN_ASSISTANT_KEYS: Final = frozenset({"role", "content", "tool_calls"})
_PLAIN_CALL_KEYS: Final = frozenset({"id", "type", "function"})
_PLAIN_FUNCTION_KEYS: Final = frozenset({"name", "arguments"})


def read_tool_message(message: dict[str, Any]) -> ToolResultPart | None:
    """A ``tool`` message of plain text and nothing else, as the general reader would read
    it (no hint, no extras); ``None`` for any other shape."""
    content = message.get("content")
    call_id = message.get("tool_call_id")
    if type(content) is not str or type(call_id) is not str or message.keys() != _TOOL_MESSAGE_KEYS:
        return None
    return ToolResultPart(call_id=call_id, content=(TextPart(text=content),) if content else ())


def read_user_message(message: dict[str, Any]) -> tuple[ContentPart, ...] | None:
    """The parts of a user message of one non-empty string and nothing else, else ``None``."""
    content = message.get("content")
    if type(content) is str and content and len(message) == 2:
        return (TextPart(text=content),)
    return None


def read_assistant_message(message: dict[str, Any]) -> tuple[ContentPart, ...] | None:
    """The parts of an assistant message of text and plain function calls and nothing else
    (the spelling the encoder writes by default, so no hint is kept), else ``None``."""
    if not message.keys() <= _PLAIN_ASSISTANT_KEYS:
        return None
    content = message.get("content", ABSENT)
    calls = message.get("tool_calls")
    parts: list[ContentPart] = []
    if type(content) is str and content:
        parts.append(TextPart(text=content))
    elif content is not None or not calls:
        return None  # absent, "" or a list (a hint to keep), or null without calls
    if calls is not None:
        if type(calls) is not list or not calls:
            return None
        for call in calls:
            if type(call) is not dict or call.keys() != _PLAIN_CALL_KEYS:
                return None
            function = call["function"]
            if (
                call["type"] != "function"
                or type(function) is not dict
                or function.keys() != _PLAIN_FUNCTION_KEYS
            ):
                return None
            call_id, name, arguments = call["id"], function["name"], function["arguments"]
            if type(call_id) is not str or type(name) is not str or type(arguments) is not str:
                return None
            parts.append(ToolCallPart(id=call_id, name=name, arguments=arguments))
    return tuple(parts)


# ------------------------------------------------------------------------------- writing


def spell_plain(items: list[Any], has_calls: bool) -> Any:
    """Bare ``{"type": "text", "text": …}`` items as ``spell`` writes them with no hint."""
    if not items:
        return None if has_calls else ""
    if len(items) == 1 and items[0]["text"]:
        return items[0]["text"]
    return items


def write_message(message: Message, carried: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """A plain user turn of tool results (one ``tool`` message each) or a plain text message
    with no hints (``carried``) or name, as the general writer writes it; ``None`` otherwise."""
    role, content = message.role, message.content
    if role == "user" and content and type(content[0]) is ToolResultPart:
        return [write_tool_message(p) for p in content] if plain_results(content) else None
    if role not in ("user", "system", "developer") or carried or message.name is not None:
        return None
    return [{"role": role, "content": plain_content(content)}] if plain_texts(content) else None


#: the hints of a value that carries none.
NO_HINTS: Final[Mapping[str, Any]] = {}


def has_foreign_fields(extras: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether ``extras`` hold a field of another format (which ``ctx.lose_extras`` would
    report): spelling hints (``_`` keys) are not."""
    for fmt, fields in extras.items():
        if fmt != FORMAT:
            for key in fields:
                if not key.startswith("_"):
                    return True
    return False


def carries(extras: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether ``extras`` hold something the encoder writes (this format's entry) or reports
    (another format's field); other formats' spelling hints (``_`` keys) are neither."""
    return FORMAT in extras or has_foreign_fields(extras)


def plain_texts(parts: Sequence[ContentPart]) -> TypeGuard[Sequence[TextPart]]:
    """Whether ``parts`` are all text parts with nothing but their text (the common case);
    another format's spelling hints (``_`` keys) are not something: they are never written."""
    for part in parts:
        if type(part) is not TextPart or part.cache_control is not None or part.citations:
            return False
        if part.extras and carries(part.extras):
            return False
    return True


def plain_content(parts: Sequence[TextPart]) -> Any:
    """Plain text parts as ``spell`` writes them with no hint: one non-empty text as a
    string, nothing as ``""``, anything else as a list of text parts."""
    if len(parts) == 1 and parts[0].text:
        return parts[0].text
    if not parts:
        return ""
    return [{"type": "text", "text": p.text} for p in parts]


def plain_results(parts: Sequence[ContentPart]) -> TypeGuard[Sequence[ToolResultPart]]:
    """Whether a user turn is only tool results of plain text that carry nothing else (each
    becomes a bare ``tool`` message, with no loss to report)."""
    for part in parts:
        if (
            type(part) is not ToolResultPart
            or part.is_error
            or part.cache_control is not None
            or not plain_texts(part.content)
        ):
            return False
        if part.extras and carries(part.extras):
            return False
    return True


def write_tool_message(part: ToolResultPart) -> dict[str, Any]:
    """A tool result that :func:`plain_results` accepted, as a ``tool`` message."""
    return {
        "role": "tool",
        "tool_call_id": part.call_id,
        "content": plain_content(cast("Sequence[TextPart]", part.content)),
    }
