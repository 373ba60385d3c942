"""Free-form (Responses ``custom``) tools for targets that have function tools only.

A free-form tool takes raw text, optionally constrained by a grammar (Codex CLI's
``apply_patch``). Anthropic, backboard and most Chat Completions servers (vLLM, Ollama,
llama.cpp) know JSON-schema function tools only, so their encoders send such a tool as a
function taking one required string property ``input`` (:data:`INPUT_SCHEMA`). A grammar
cannot be enforced there: it is written into the function's description
(:func:`describe`), so that the model still knows the expected format, and reported as a loss.
Calls in the history travel as ``{"input": text}`` (:func:`wrap_input`); calls in the answer
to a tool the client declared free-form are unwrapped again (:func:`unwrap_call`), giving
``ToolCallPart(kind="custom")`` with the raw text.

Everything here is format-neutral; each codec decides which tools it sends this way.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

import attrs

from apibridge import _json
from apibridge.codecs._context import Context
from apibridge.errors import InvalidPayload
from apibridge.model import Tool, ToolCallPart

__all__ = [
    "INPUT",
    "INPUT_SCHEMA",
    "custom_tool_names",
    "describe",
    "input_schema",
    "unwrap_call",
    "unwrap_input",
    "wrap_input",
]

#: The one string property a free-form tool's input travels in.
INPUT: Final = "input"

#: The parameters of the function tool that stands in for a free-form tool.
INPUT_SCHEMA: Final[Mapping[str, Any]] = {
    "type": "object",
    "properties": {INPUT: {"type": "string"}},
    "required": [INPUT],
}


def input_schema() -> dict[str, Any]:
    """A fresh copy of :data:`INPUT_SCHEMA` (the caller may change it)."""
    return copy.deepcopy(dict(INPUT_SCHEMA))


def custom_tool_names(
    ctx: Context, *, keep: Callable[[Tool], bool] | None = None
) -> frozenset[str]:
    """Names of the free-form tools of the client's request (``ctx.request``), under the
    client's name and, where the exchange shortened it, the upstream's; with ``keep``, only of
    those it accepts."""
    if ctx.request is None:
        return frozenset()
    names = {t.name for t in ctx.request.tools if t.kind == "custom" and (keep is None or keep(t))}
    return frozenset(names | {ctx.upstream_names[n] for n in names if n in ctx.upstream_names})


def wrap_input(text: str) -> dict[str, str]:
    """A free-form input as function arguments: ``{"input": text}``."""
    return {INPUT: text}


def unwrap_input(arguments: str) -> str | None:
    """The text of ``{"input": text}`` arguments, or ``None`` when they are not that shape."""
    try:
        value = _json.loads(arguments)
    except InvalidPayload:
        return None
    text = value.get(INPUT) if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def unwrap_call(part: ToolCallPart, names: Collection[str]) -> ToolCallPart:
    """``part`` as a free-form call when it calls one of ``names`` (the client's free-form
    tools): the ``{"input": text}`` wrapper removed, or, when the upstream sent something
    else, its arguments kept whole as the input."""
    if part.name not in names:
        return part
    text = unwrap_input(part.arguments)
    return attrs.evolve(part, kind="custom", arguments=part.arguments if text is None else text)


def _grammar(fmt: Mapping[str, Any]) -> tuple[str, str] | None:
    """A grammar format's syntax and definition (flat, as Responses spells it, or nested
    under ``grammar`` as Chat does), or ``None``."""
    if fmt.get("type") != "grammar":
        return None
    inner = fmt.get("grammar")
    spec = inner if isinstance(inner, Mapping) else fmt
    definition = spec.get("definition")
    if not isinstance(definition, str) or not definition.strip():
        return None
    syntax = spec.get("syntax")
    return (syntax if isinstance(syntax, str) and syntax else "grammar"), definition


def describe(tool: Tool, ctx: Context, where: str, target: str) -> str | None:
    """The description of the function tool that stands in for the free-form ``tool``: its
    own description, then its grammar's syntax and definition when it has one. A grammar
    (or any format other than plain text) is reported as a loss at ``{where}.format``."""
    fmt = tool.format
    if fmt is None or dict(fmt) == {"type": "text"}:
        return tool.description
    grammar = _grammar(fmt)
    reason = f"{target} cannot constrain a tool's input by a grammar"
    if grammar is None:
        ctx.lose(f"{where}.format", reason, "dropped")
        return tool.description
    syntax, definition = grammar
    ctx.lose(f"{where}.format", reason, "described in the tool description")
    note = (
        f"Pass the tool's whole input as the string `{INPUT}`. "
        f"It must follow this {syntax} grammar:\n{definition}"
    )
    return f"{tool.description.rstrip()}\n\n{note}" if tool.description else note
