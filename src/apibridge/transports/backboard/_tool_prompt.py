"""Fallback tool mode: tools described in the prompt, and calls found in the model's answer.

Theory of operation
===================

Some models behind backboard have no native tool calling. For them (configured per model),
the transport turns a request with tools into a plain one and the answer back into tool calls:

* :func:`inline_tools` appends a tools section to the system prompt (names, descriptions,
  JSON-schema parameters, and the exact call syntax: one fenced ``tool_call`` block holding
  ``{"name": ..., "arguments": {...}}`` per call), and rewrites earlier tool calls and tool
  results of the transcript as text in that same syntax, so the model sees its own
  convention in the history;
* :class:`CallScanner` reads the answer, as a whole or in streamed pieces. Text before the
  first place a call could start (a ``{`` or a code fence) passes straight through, so prose
  streams; from there on the text is held back and parsed at the end.

The parser (:func:`parse_tool_calls`) is deliberately forgiving about *form* and strict about
*content*: it finds every call, fenced or bare, one or several, with prose around them; it
accepts ``{"name", "arguments"}`` (also ``parameters``/``input``/``args``), OpenAI's
``{"type": "function", "function": {...}}``, a list of calls and ``{"tool_calls": [...]}``;
but a candidate becomes a call only when its name is one of the declared tools and its
arguments are a JSON object (or a string holding one). Everything else stays text, exactly
as the model wrote it. Nothing here performs I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs

from apibridge import _json
from apibridge._json import dumps_str
from apibridge.errors import InvalidPayload
from apibridge.model import (
    Message,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

__all__ = [
    "CALL_FENCE",
    "CallScanner",
    "ParsedAnswer",
    "ParsedCall",
    "describe_tools",
    "inline_tools",
    "parse_tool_calls",
    "render_call",
    "render_result",
]

#: The info string of the fenced block the prompt asks the model to write.
CALL_FENCE = "tool_call"

#: Keys that may hold a call's tool name / arguments, in order of preference.
NAME_KEYS: tuple[str, ...] = ("name", "tool", "tool_name")
ARGUMENT_KEYS: tuple[str, ...] = ("arguments", "parameters", "input", "args")
#: Keys that wrap a list of calls (or one call).
WRAPPER_KEYS: tuple[str, ...] = ("tool_calls", "tool_call", "calls")

_UNDECIDED_TAIL = re.compile(r"(`{1,2}|\[\s*)$")
_FENCE_RE = re.compile(r"```[ \t]*([\w-]*)[ \t]*\n(.*?)```", re.DOTALL)
_CHOICE_RULES: Mapping[str, str] = {
    "auto": "Call a tool only when it helps; otherwise answer in plain text.",
    "any": "You must call at least one of the tools in this answer.",
}


# --------------------------------------------------------------------------------- prompt


def render_call(name: str, arguments: str) -> str:
    """One call in the syntax the prompt teaches (a fenced ``tool_call`` block)."""
    try:
        parsed = _json.loads(arguments) if arguments.strip() else {}
    except InvalidPayload:
        parsed = arguments
    body = dumps_str({"name": name, "arguments": parsed})
    return f"```{CALL_FENCE}\n{body}\n```"


def render_result(result: ToolResultPart, name: str | None) -> str:
    """One tool result as the text the model receives."""
    label = name or "a tool"
    status = " (error)" if result.is_error else ""
    return f"[Tool result{status} for {label} (id {result.call_id})]\n{result.text}"


def describe_tools(tools: Sequence[Tool], choice: ToolChoice | None = None) -> str:
    """The system-prompt section that declares ``tools`` and teaches the call syntax."""
    lines = [
        "# Tools",
        "",
        "You can call the tools below. The client runs a call and sends you its result in the",
        "next message as a [Tool result ...] block.",
        "",
    ]
    for tool in tools:
        lines.append(f"## {tool.name}")
        if tool.description:
            lines.append(tool.description)
        schema = tool.parameters or {"type": "object", "properties": {}}
        lines.append("Arguments (JSON schema): " + dumps_str(schema))
        lines.append("")
    lines.extend(
        [
            "To call a tool, write a fenced block of exactly this form, one block per call",
            "(several blocks for several calls at once):",
            "",
            f"```{CALL_FENCE}",
            '{"name": "<tool name>", "arguments": {<the arguments as a JSON object>}}',
            "```",
            "",
            "After your tool calls, stop and wait for the results. Call only the tools listed.",
        ]
    )
    mode = choice.mode if choice is not None else "auto"
    if mode == "tool" and choice is not None and choice.name:
        lines.append(f"You must call the tool {choice.name} in this answer.")
    else:
        lines.append(_CHOICE_RULES.get(mode, _CHOICE_RULES["auto"]))
    return "\n".join(lines)


def inline_tools(request: Request) -> Request:
    """``request`` without native tools: tools described in the system prompt, earlier calls
    and results written as text in the prompt's own syntax."""
    functions = [t for t in request.tools if t.kind == "function"]
    choice = request.tool_choice
    names = {
        p.id: p.name for m in request.messages for p in m.content if isinstance(p, ToolCallPart)
    }
    messages = tuple(_inline_message(m, names) for m in request.messages)
    system = request.system
    if functions and not (choice is not None and choice.mode == "none"):
        system = (*system, TextPart(text=describe_tools(functions, choice)))
    others = tuple(t for t in request.tools if t.kind != "function")
    return attrs.evolve(request, system=system, messages=messages, tools=others, tool_choice=None)


def _inline_message(message: Message, names: Mapping[str, str]) -> Message:
    if not any(isinstance(p, ToolCallPart | ToolResultPart) for p in message.content):
        return message
    content: list[Any] = []
    for part in message.content:
        if isinstance(part, ToolCallPart):
            content.append(TextPart(text=render_call(part.name, part.arguments)))
        elif isinstance(part, ToolResultPart):
            content.append(TextPart(text=render_result(part, names.get(part.call_id))))
            # Images and documents of a result follow it as attachments of the same turn.
            content.extend(p for p in part.content if not isinstance(p, TextPart))
        else:
            content.append(part)
    return attrs.evolve(message, content=tuple(content))


# --------------------------------------------------------------------------------- parser


@attrs.frozen(kw_only=True)
class ParsedCall:
    """A tool call found in an answer: a declared ``name`` and ``arguments`` as JSON text."""

    name: str
    arguments: str


@attrs.frozen(kw_only=True)
class ParsedAnswer:
    """An answer split into its prose (``text``) and the tool calls it made (in order)."""

    text: str
    calls: tuple[ParsedCall, ...] = ()


def _as_call(value: Any, declared: Collection[str]) -> ParsedCall | None:
    """``value`` as a valid call to a declared tool, or ``None``."""
    if not isinstance(value, Mapping):
        return None
    function = value.get("function")
    if isinstance(function, Mapping) and "name" in function:
        value = function
    name = next((value[k] for k in NAME_KEYS if isinstance(value.get(k), str)), None)
    if name is None or name not in declared:
        return None
    key = next((k for k in ARGUMENT_KEYS if k in value), None)
    if key is None:
        # A bare {"name": ...} calls a tool without arguments; anything more is not a call.
        extra = set(value) - {"name", "tool", "tool_name", "type", "id"}
        return ParsedCall(name=name, arguments="{}") if not extra else None
    arguments = value[key]
    if isinstance(arguments, str):
        try:
            decoded = _json.loads(arguments) if arguments.strip() else {}
        except InvalidPayload:
            return None
        if not isinstance(decoded, dict):
            return None
        return ParsedCall(name=name, arguments=arguments if arguments.strip() else "{}")
    if isinstance(arguments, dict):
        return ParsedCall(name=name, arguments=dumps_str(arguments))
    return None


def _as_calls(value: Any, declared: Collection[str]) -> list[ParsedCall] | None:
    """All calls ``value`` holds (one, a list, or a wrapper); ``None`` unless every item is one."""
    if isinstance(value, Mapping):
        for key in WRAPPER_KEYS:
            if key in value and len(value) == 1:
                return _as_calls(value[key], declared)
        call = _as_call(value, declared)
        return [call] if call is not None else None
    if isinstance(value, list) and value:
        calls = [_as_call(item, declared) for item in value]
        if all(c is not None for c in calls):
            return [c for c in calls if c is not None]
    return None


def _json_values(text: str) -> list[Any] | None:
    """``text`` as one or more JSON values separated by whitespace; ``None`` otherwise."""
    values: list[Any] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return values or None
        try:
            value, i = _json.raw_decode(text, i)
        except InvalidPayload:
            return None
        values.append(value)


def _fenced(body: str, declared: Collection[str]) -> list[ParsedCall] | None:
    values = _json_values(body)
    if values is None:
        return None
    calls: list[ParsedCall] = []
    for value in values:
        found = _as_calls(value, declared)
        if found is None:
            return None
        calls.extend(found)
    return calls


def _spans(text: str, declared: Collection[str]) -> list[tuple[int, int, list[ParsedCall]]]:
    """Every call in ``text`` as ``(start, end, calls)``, in order, not overlapping."""
    spans: list[tuple[int, int, list[ParsedCall]]] = []
    fences = list(_FENCE_RE.finditer(text))
    for match in fences:
        calls = _fenced(match.group(2), declared)
        if calls:
            spans.append((match.start(), match.end(), calls))
    # Bare JSON outside fences (a fence that is not a call is code, and stays untouched).
    blocked = [(m.start(), m.end()) for m in fences]
    i = 0
    while True:
        i = text.find("{", i)
        if i < 0:
            break
        inside = next((b for b in blocked if b[0] <= i < b[1]), None)
        if inside is not None:
            i = inside[1]
            continue
        start = i
        # A list of calls: widen the start to an opening "[" right before the object.
        j = start - 1
        while j >= 0 and text[j].isspace():
            j -= 1
        if j >= 0 and text[j] == "[":
            try:
                value, end = _json.raw_decode(text, j)
            except InvalidPayload:
                value, end = None, -1
            if end > 0:
                # A whole JSON list: all calls, or text as a whole (one bad item spoils it).
                calls = _as_calls(value, declared)
                if calls:
                    spans.append((j, end, calls))
                i = end
                continue
        try:
            value, end = _json.raw_decode(text, start)
        except InvalidPayload:
            i = start + 1
            continue
        calls = _as_calls(value, declared)
        if calls:
            spans.append((start, end, calls))
        # Skip the whole object either way: a call is never nested inside prose JSON.
        i = end
    spans.sort(key=lambda s: s[0])
    return spans


def _parse(text: str, declared: Collection[str]) -> tuple[str, list[ParsedCall]]:
    """``text`` without its calls (prose pieces joined by a blank line), and the calls."""
    spans = _spans(text, declared)
    if not spans:
        return text, []
    pieces: list[str] = []
    calls: list[ParsedCall] = []
    pos = 0
    for start, end, found in spans:
        pieces.append(text[pos:start])
        calls.extend(found)
        pos = end
    pieces.append(text[pos:])
    out = ""
    gap = ""  # the whitespace between the last kept piece and the next one
    for piece in pieces:
        kept = piece.strip()
        if not kept:
            gap += piece
            continue
        gap += piece[: len(piece) - len(piece.lstrip())]
        if out:
            # A call on its own line leaves a paragraph break; one inside a sentence, a space.
            out += "\n\n" if "\n" in gap else " "
        out += kept
        gap = piece[len(piece.rstrip()) :]
    return out, calls


class CallScanner:
    """Push-style parser for streamed answers: ``feed(text) -> str``, ``finish()``.

    ``feed`` returns the text that can be shown at once (it cannot start a call);
    ``finish`` parses what was held back and gives the rest of the text and every call.
    """

    def __init__(self, declared: Collection[str]) -> None:
        self._declared = frozenset(declared)
        self._holding = False
        self._held = ""
        self._tail = ""  # trailing backticks that may start a fence in the next piece

    def feed(self, text: str) -> str:
        """The part of ``text`` that is certainly prose."""
        if self._holding:
            self._held += text
            return ""
        text = self._tail + text
        self._tail = ""
        brace = text.find("{")
        if brace >= 0:
            # A list of calls starts at its "[": hold from there.
            before = text[:brace].rstrip()
            if before.endswith("["):
                brace = len(before) - 1
        cut = min((i for i in (brace, text.find("```")) if i >= 0), default=-1)
        if cut >= 0:
            self._holding = True
            self._held = text[cut:]
            return text[:cut]
        # Hold what may be the start of a fence or of a list of calls in the next piece.
        undecided = _UNDECIDED_TAIL.search(text)
        cut = undecided.start() if undecided is not None else len(text)
        self._tail = text[cut:]
        return text[:cut]

    def finish(self) -> ParsedAnswer:
        """The rest of the text (after what ``feed`` returned) and all calls found."""
        if not self._holding:
            rest, self._tail = self._tail, ""
            return ParsedAnswer(text=rest)
        text, calls = _parse(self._held, self._declared)
        self._held, self._holding = "", False
        return ParsedAnswer(text=text, calls=tuple(calls))


def parse_tool_calls(text: str, declared: Collection[str]) -> ParsedAnswer:
    """Split an answer into prose and calls to ``declared`` tools (see the module docstring)."""
    # The same scanner as for streams, so that both paths give the same answer.
    scanner = CallScanner(declared)
    head = scanner.feed(text)
    rest = scanner.finish()
    return ParsedAnswer(text=head + rest.text, calls=rest.calls)
