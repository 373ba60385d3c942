"""The backboard vocabulary that the request, answer, error and stream modules share.

Theory of operation
===================

This module is the bottom of the package: names and tables (:data:`FORMAT`, the tool-name
rules, the answer statuses :data:`STATUS_STOP` and :data:`RUNNING_STATUSES`) and the small
decoders every answer shape needs, whether it came whole or as stream events:

* **Usage**: backboard reports it with OpenAI's meaning (``input_tokens`` includes
  ``cached_input_tokens`` and ``cache_write_input_tokens``); :func:`usage_from` converts it
  to the canonical meaning with :meth:`Usage.from_openai` and never invents a number.
  :func:`add_usage` sums the runs of one stream.
* **Tool calls**: :func:`decode_tool_call` reads one OpenAI-style ``{id, type, function:
  {name, arguments}}`` call; arguments sent as an object are carried as JSON text, and a call
  to a client's free-form tool is turned back into a free-form call.
* **Upstream only**: :func:`upstream_only` is the loss that refuses the client-side half of
  the codec (backboard is never a client's format).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Final

from apibridge._json import dumps_str
from apibridge.codecs._context import expect_obj, new_id, opt_int, opt_str
from apibridge.codecs._custom_tools import unwrap_call
from apibridge.errors import InvalidPayload, Loss
from apibridge.model import ToolCallPart, Usage

__all__ = [
    "FORMAT",
    "RUNNING_STATUSES",
    "STATUS_STOP",
    "TOOL_NAME_MAX",
    "TOOL_NAMESPACES",
    "TOOL_NAME_RE",
    "add_usage",
    "decode_tool_call",
    "upstream_only",
    "usage_from",
]

FORMAT = "backboard"

#: backboard takes tools in OpenAI's function format, with OpenAI's name rules.
TOOL_NAME_MAX = 64
#: Whether tools can be grouped in namespaces (``ToolNames`` flattens them where not).
TOOL_NAMESPACES: Final = False
TOOL_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")

#: Answer status (lower-cased) → canonical stop reason. Others are failures.
STATUS_STOP: Mapping[str, str] = {
    "completed": "end_turn",
    "complete": "end_turn",
    "success": "end_turn",
    "requires_action": "tool_use",
}

#: Statuses that say the run is still going (a ``run_ended`` with one of these ends nothing).
RUNNING_STATUSES: frozenset[str] = frozenset({"in_progress", "queued", "running"})


def usage_from(body: Mapping[str, Any], where: str) -> Usage | None:
    """The usage numbers of an answer or event (OpenAI's meaning) as canonical, or ``None``."""
    prompt = opt_int(body.get("input_tokens"), f"{where}.input_tokens")
    output = opt_int(body.get("output_tokens"), f"{where}.output_tokens")
    cached = opt_int(body.get("cached_input_tokens"), f"{where}.cached_input_tokens")
    written = opt_int(body.get("cache_write_input_tokens"), f"{where}.cache_write_input_tokens")
    if prompt is None and output is None and cached is None and written is None:
        return None
    if prompt is None:
        return Usage(output_tokens=output, cache_read_tokens=cached, cache_write_tokens=written)
    return Usage.from_openai(prompt, output, cached, cache_write_tokens=written)


def _sum(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def add_usage(a: Usage | None, b: Usage | None) -> Usage | None:
    """The usage of two runs together (a number one run did not report is the other's)."""
    if a is None or b is None:
        return a or b
    return Usage(
        input_tokens=_sum(a.input_tokens, b.input_tokens),
        output_tokens=_sum(a.output_tokens, b.output_tokens),
        cache_read_tokens=_sum(a.cache_read_tokens, b.cache_read_tokens),
        cache_write_tokens=_sum(a.cache_write_tokens, b.cache_write_tokens),
        reasoning_tokens=_sum(a.reasoning_tokens, b.reasoning_tokens),
    )


def decode_tool_call(raw: Any, where: str, custom: Collection[str] = ()) -> ToolCallPart:
    """One backboard ``{id, type, function: {name, arguments}}`` tool call; a call to one of
    the ``custom`` (free-form) tools comes back as that tool's raw input
    (``codecs._custom_tools``)."""
    call = expect_obj(raw, where)
    function = expect_obj(call.get("function"), f"{where}.function")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidPayload(f"{where}.function.name: expected a tool name")
    arguments = function.get("arguments")
    if arguments is None:
        arguments = "{}"
    elif not isinstance(arguments, str):
        # Some servers send the arguments as an object; carry them as JSON text.
        arguments = dumps_str(arguments)
    call_id = opt_str(call.get("id"), f"{where}.id")
    part = ToolCallPart(id=call_id or new_id("call_"), name=name, arguments=arguments)
    return unwrap_call(part, custom)


def upstream_only(what: str) -> Loss:
    """The loss that refuses ``what``: backboard is an upstream format, never a client's."""
    return Loss(
        field=f"backboard.{what}",
        reason="backboard is an upstream-only format; clients speak anthropic, chat or responses",
        action="refused",
    )
