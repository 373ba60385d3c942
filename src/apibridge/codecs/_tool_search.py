"""Tool search across formats: client-executed tool search and tools loaded on demand.

Two clients search their tools at run time, each its own way:

* **Codex** (Responses) sends a ``tool_search`` tool with ``execution: "client"``: the model
  calls it with a ``tool_search_call`` item (``arguments`` a JSON object), Codex runs the
  search and answers with a ``tool_search_output`` item whose ``tools`` are the loaded tool
  definitions (namespaces of MCP tools, functions), which the model may call from then on.
  Canonically the tool is ``Tool(kind="tool_search", name="tool_search")``, its calls
  ``ToolCallPart(kind="tool_search")`` and its outputs ``ToolResultPart(kind="tool_search")``
  whose text names the loaded tools (:func:`loaded_text`); the Responses decoder adds the
  loaded definitions to ``Request.tools`` (each once), so that an upstream without tool search
  (Anthropic, Chat, backboard) gets the search as the plain function it is and the loaded
  tools as tools it can call. ``apibridge.ToolNames`` turns the upstream's calls of that
  function back into tool-search calls.
* **Claude Code** (Anthropic) has a plain ``ToolSearch`` tool whose ``tool_result`` holds
  ``tool_reference`` blocks naming tools declared with ``defer_loading: true``. The Anthropic
  decoder keeps the blocks (an Anthropic upstream gets them back as they came) and adds a text
  naming the tools (:func:`reference_text`), which is what a format without references gets.

Everything here is format-neutral.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

__all__ = [
    "ANTHROPIC_TOOL_SEARCH",
    "NAMESPACE_SEPARATOR",
    "TOOL_SEARCH",
    "flat_tool_name",
    "is_tool_search",
    "loaded_text",
    "reference_text",
    "tool_definition_names",
]

#: The name of a client-executed tool search (Responses' ``tool_search`` tool has none).
TOOL_SEARCH: Final = "tool_search"

#: what joins a namespace and a member's name in a flattened tool name.
NAMESPACE_SEPARATOR: Final = "__"


#: Anthropic's server tool search that stands for the hosted Responses ``tool_search``.
ANTHROPIC_TOOL_SEARCH: Final[Mapping[str, str]] = {
    "type": "tool_search_tool_bm25_20251119",
    "name": "tool_search_tool_bm25",
}


def is_tool_search(server_type: str | None) -> bool:
    """Whether a server tool's canonical type is a provider-run tool search: the hosted
    Responses ``tool_search`` or Anthropic's ``tool_search_tool_regex`` / ``_bm25``."""
    return server_type is not None and server_type.startswith(TOOL_SEARCH)


def flat_tool_name(namespace: str, name: str) -> str:
    """The name a namespace member gets where the target has no namespaces:
    ``<namespace>__<name>``; a namespace that already ends in ``__`` (Codex's MCP spelling,
    ``mcp__server__``) is not given a second separator."""
    if namespace.endswith(NAMESPACE_SEPARATOR):
        return namespace + name
    return namespace + NAMESPACE_SEPARATOR + name


def tool_definition_names(tools: Iterable[Any]) -> list[str]:
    """The callable names of Responses tool definitions: a function's or custom tool's name,
    each member of a namespace under its flattened name (:func:`flat_tool_name`), a hosted
    tool's type."""
    names: list[str] = []
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        name = tool.get("name")
        members = tool.get("tools")
        if tool.get("type") == "namespace" and isinstance(name, str) and isinstance(members, list):
            for member in members:
                if isinstance(member, Mapping) and isinstance(member.get("name"), str):
                    names.append(flat_tool_name(name, member["name"]))
        elif isinstance(name, str):
            names.append(name)
        elif isinstance(tool.get("type"), str):
            names.append(tool["type"])
    return names


def loaded_text(names: Sequence[str]) -> str:
    """The text of a tool-search output for a target without tool search: the tools found."""
    if not names:
        return "The tool search found no tools."
    return "The tool search loaded these tools, which can be called now: " + ", ".join(names)


def reference_text(names: Sequence[str]) -> str:
    """The text that stands for ``tool_reference`` blocks where the target has none."""
    return "Tools loaded: " + ", ".join(names)
