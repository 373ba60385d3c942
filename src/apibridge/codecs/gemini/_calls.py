"""Function calls of a Gemini request's history: made ids and the pairing of results.

Gemini 2.5 calls carry no ``id``; every other format needs one on each call and result.
:class:`Calls` gives a call without one an id made from its position (``_wire.made_id``: the
same history gives the same ids, request after request) and pairs each ``functionResponse``
with its call: by id when it has one, else with the first unanswered call of the same name
(Gemini answers each function's calls in order). :func:`call_names` gives the encoder each
call's function name, which a ``functionResponse`` must repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apibridge.codecs.gemini._wire import made_id
from apibridge.model import ToolCallPart

__all__ = ["Calls", "call_names"]


class Calls:
    """The function calls of one request's history, in order: the ids made for calls that came
    without one, and the pairing of ``functionResponse`` parts with them (by id, else by name
    and order)."""

    __slots__ = ("_open", "names")

    def __init__(self) -> None:
        #: call id → function name, for every call seen so far.
        self.names: dict[str, str] = {}
        self._open: list[tuple[str, str]] = []  # (id, name) of calls not yet answered

    def call(self, ident: str | None, name: str, position: str) -> str:
        """Record a call; its id (made from ``position`` when it came without one)."""
        call_id = ident if ident else made_id(position)
        self.names[call_id] = name
        self._open.append((call_id, name))
        return call_id

    def result(self, ident: str | None, name: str, position: str) -> str:
        """The id of the call a ``functionResponse`` answers: its own id, else the first
        unanswered call of that name, else one made from ``position`` (an answer to a call
        the history does not hold)."""
        if ident:
            for i, (open_id, _) in enumerate(self._open):
                if open_id == ident:
                    del self._open[i]
                    break
            return ident
        for i, (open_id, open_name) in enumerate(self._open):
            if open_name == name:
                del self._open[i]
                return open_id
        return made_id(position + "r")


def call_names(messages: Sequence[Any]) -> dict[str, str]:
    """call id → function name over canonical messages (what a ``functionResponse`` needs)."""
    names: dict[str, str] = {}
    for message in messages:
        for part in message.content:
            if isinstance(part, ToolCallPart):
                names[part.id] = part.name
    return names
