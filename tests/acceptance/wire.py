"""Read what a scenario needs out of an upstream request body, in any of the three formats.

Theory of operation
-------------------
The scenarios assert the same facts whatever the upstream format: which tools were offered,
which tool calls the assistant made in the history, what each tool result said, and which
reasoning was replayed. Each function here reads one fact from a request body of format
``anthropic``, ``chat`` or ``responses``, following that format's own layout:

===========  ====================  =====================  ==================================
fact         anthropic             chat                   responses
===========  ====================  =====================  ==================================
tool call    ``tool_use`` block    ``tool_calls`` entry   ``function_call`` /
                                                          ``custom_tool_call`` item
tool result  ``tool_result``       ``tool`` message       ``*_call_output`` item
reasoning    ``thinking`` block    ``reasoning_content``  ``reasoning`` item
===========  ====================  =====================  ==================================

The bodies were already validated with the SDK types, so the functions index without
defensive checks: a missing key is a test failure with a traceback that names it.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from . import gemini_wire


@attrs.frozen(kw_only=True)
class SeenCall:
    """A tool call found in a request's history."""

    id: str
    name: str
    arguments: str
    """Arguments JSON text (a custom tool's raw input; Anthropic ``input`` re-serialised)."""


@attrs.frozen(kw_only=True)
class SeenReasoning:
    """Reasoning replayed in a request's history."""

    text: str
    """The thinking text / reasoning content / summary text."""
    opaque: str | None
    """The signature (Anthropic) or ``encrypted_content`` (Responses); ``None`` for Chat."""


def _text_of(content: Any) -> str:
    """All the text in a string or a list of content blocks/parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    pieces = []
    for block in content:
        if isinstance(block, str):
            pieces.append(block)
        elif "text" in block:
            pieces.append(block["text"])
        elif block.get("type") == "tool_result":
            pieces.append(_text_of(block.get("content")))
    return "\n".join(pieces)


def tool_names(fmt: str, body: dict[str, Any]) -> list[str]:
    """Names of the tools the request offers (server tools without a name are skipped)."""
    if fmt == "gemini":
        return gemini_wire.tool_names(body)
    names = []
    for tool in body.get("tools") or []:
        if fmt == "chat":
            kind = tool.get("type", "function")
            name = (tool.get(kind) or {}).get("name")
        else:
            name = tool.get("name")
        if name:
            names.append(name)
    return names


def tool_declaration(fmt: str, body: dict[str, Any], name: str) -> dict[str, Any]:
    """The declaration of tool ``name`` as the request has it."""
    for tool in body.get("tools") or []:
        if fmt == "chat":
            inner = tool.get(tool.get("type", "function")) or {}
            if inner.get("name") == name:
                return dict(tool)
        elif tool.get("name") == name:
            return dict(tool)
    raise AssertionError(f"no tool {name!r} in {tool_names(fmt, body)}")


def user_text(fmt: str, body: dict[str, Any]) -> str:
    """All text of the request's user turns, joined."""
    if fmt == "gemini":
        return gemini_wire.user_text(body)
    if fmt == "responses":
        items = body["input"]
        if isinstance(items, str):
            return items
        return "\n".join(
            _text_of(i.get("content"))
            for i in items
            if i.get("type", "message") == "message" and i.get("role") == "user"
        )
    return "\n".join(_text_of(m["content"]) for m in body["messages"] if m["role"] == "user")


def calls(fmt: str, body: dict[str, Any]) -> list[SeenCall]:
    """Every tool call in the request's history, in order."""
    if fmt == "gemini":
        return [SeenCall(id=i, name=n, arguments=a) for i, n, a in gemini_wire.calls(body)]
    found = []
    if fmt == "anthropic":
        for message in body["messages"]:
            if message["role"] != "assistant" or isinstance(message["content"], str):
                continue
            for block in message["content"]:
                if block["type"] == "tool_use":
                    arguments = _compact(block["input"])
                    found.append(SeenCall(id=block["id"], name=block["name"], arguments=arguments))
    elif fmt == "chat":
        for message in body["messages"]:
            for call in message.get("tool_calls") or []:
                kind = call.get("type", "function")
                inner = call[kind]
                text = inner["arguments"] if kind == "function" else inner["input"]
                found.append(SeenCall(id=call["id"], name=inner["name"], arguments=text))
    else:
        for item in body["input"]:
            if item.get("type") == "function_call":
                found.append(
                    SeenCall(id=item["call_id"], name=item["name"], arguments=item["arguments"])
                )
            elif item.get("type") == "custom_tool_call":
                found.append(
                    SeenCall(id=item["call_id"], name=item["name"], arguments=item["input"])
                )
    return found


def results(fmt: str, body: dict[str, Any]) -> dict[str, str]:
    """The text of every tool result in the request, by call id (Gemini: the id, or the
    function's name for a result without one)."""
    if fmt == "gemini":
        return gemini_wire.results(body)
    found: dict[str, str] = {}
    if fmt == "anthropic":
        for message in body["messages"]:
            if message["role"] != "user" or isinstance(message["content"], str):
                continue
            for block in message["content"]:
                if block["type"] == "tool_result":
                    found[block["tool_use_id"]] = _text_of(block.get("content"))
    elif fmt == "chat":
        for message in body["messages"]:
            if message["role"] == "tool":
                found[message["tool_call_id"]] = _text_of(message["content"])
    else:
        for item in body["input"]:
            if item.get("type") in ("function_call_output", "custom_tool_call_output"):
                found[item["call_id"]] = _text_of(item["output"])
    return found


def reasoning(fmt: str, body: dict[str, Any]) -> list[SeenReasoning]:
    """The reasoning replayed in the request's assistant history, in order (Gemini: thought
    parts, with their signature)."""
    if fmt == "gemini":
        return [SeenReasoning(text=t, opaque=o) for t, o in gemini_wire.thoughts(body)]
    found = []
    if fmt == "anthropic":
        for message in body["messages"]:
            if message["role"] != "assistant" or isinstance(message["content"], str):
                continue
            for block in message["content"]:
                if block["type"] == "thinking":
                    found.append(
                        SeenReasoning(text=block["thinking"], opaque=block.get("signature"))
                    )
    elif fmt == "chat":
        for message in body["messages"]:
            text = message.get("reasoning_content") or message.get("reasoning")
            if message["role"] == "assistant" and text:
                found.append(SeenReasoning(text=text, opaque=None))
    else:
        for item in body["input"]:
            if item.get("type") == "reasoning":
                summary = "".join(s["text"] for s in item.get("summary") or [])
                found.append(SeenReasoning(text=summary, opaque=item.get("encrypted_content")))
    return found


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
