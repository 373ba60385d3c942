"""The Responses stream writer of a client-executed tool-search call (``tool_search_call``).

Its arguments are a JSON object, for which the Responses stream has no delta event: the
writer says ``{}`` at ``output_item.added`` and the whole object at ``output_item.done``, which
is where Codex reads the call. (A module of its own beside
:mod:`~apibridge.codecs.responses._item_writers`, which chooses writers by part type.)
"""

from __future__ import annotations

from typing import Any

import attrs

from apibridge.codecs.responses._item_writers import Writer, _ItemWriter, writer_for
from apibridge.model import ContentPart, PartDelta, ToolCallPart

__all__ = ["SearchCallWriter", "part_writer"]


class SearchCallWriter(_ItemWriter):
    """A client-executed tool-search call: a ``tool_search_call`` item. Its arguments are a
    JSON object, which has no delta event: ``output_item.added`` says ``{}``,
    ``output_item.done`` the whole object (where Codex reads the call)."""

    def added_item(self, position: int) -> dict[str, Any]:
        part = self.part
        assert isinstance(part, ToolCallPart)
        return {
            "id": part.item_id or self.stream.ids.make("tsc_", position),
            "type": "tool_search_call",
            "status": "in_progress",
            "call_id": part.id,
            "execution": "client",
            "arguments": {},
        }

    def begin(self) -> list[bytes]:
        assert isinstance(self.part, ToolCallPart)
        if self.part.arguments:
            self.chunks.append(self.part.arguments)
        return []

    def feed(self, delta: PartDelta) -> list[bytes]:
        if delta.value:
            self.chunks.append(delta.value)
        return []

    def accumulated(self) -> ContentPart:
        assert isinstance(self.part, ToolCallPart)
        return attrs.evolve(self.part, arguments="".join(self.chunks))

    def finish(self, final: ContentPart) -> list[bytes]:
        assert self.item is not None
        return self.stream.item_done(self.output_index, self.final_item(final, self.item["id"]))


def part_writer(part: ContentPart) -> type[Writer]:
    """The writer of ``part``: :class:`SearchCallWriter` for a tool-search call, else
    :func:`~apibridge.codecs.responses._item_writers.writer_for`'s."""
    if isinstance(part, ToolCallPart) and part.kind == "tool_search":
        return SearchCallWriter
    return writer_for(part)
