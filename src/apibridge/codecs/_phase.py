"""Responses ``phase`` on assistant messages: reported where it cannot go, re-derived on return.

gpt-5.x models label each assistant message item ``commentary`` (a preamble before tool calls)
or ``final_answer``, and the OpenAI SDK asks clients to "preserve and resend phase on all
assistant messages" in follow-up requests. The Responses codec keeps it exactly (it rides in
the message item's ``_item`` hint), but neither an Anthropic text block nor a Chat assistant
message has a field that its clients send back unchanged, and a marker inside the visible text
is not acceptable. So:

* an answer to an Anthropic or Chat client reports the phase as a loss (:func:`lose_phase`),
  never silently;
* when that client's history goes to a Responses upstream, the phase of each assistant message
  that did not come from Responses is re-derived from the conversation (:func:`derive_phases`):
  a message followed by a tool call before the next user message is ``commentary``; any other
  (the last assistant message before a user message, or at the end of the input) is
  ``final_answer``. Messages that came from a Responses client keep what it sent (with or
  without a phase).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from apibridge.codecs._context import Context

__all__ = ["derive_phases", "is_from_responses", "lose_phase", "phase_of"]

#: the Responses format's name in ``extras`` and its hint holding a message item's fields.
_RESPONSES: Final = "responses"
_ITEM: Final = "_item"
#: item types that are calls (the model acted: the text before it was commentary).
_CALL_SUFFIX: Final = "_call"


def phase_of(extras: Any) -> str | None:
    """The Responses ``phase`` a part's extras hold (on the first part of a message item)."""
    if not isinstance(extras, Mapping):
        return None
    own = extras.get(_RESPONSES)
    if not isinstance(own, Mapping):
        return None
    item = own.get(_ITEM)
    if not isinstance(item, Mapping):
        return None
    phase = item.get("phase")
    return phase if isinstance(phase, str) else None


def lose_phase(ctx: Context, parts: Sequence[Any], target: str, where: str) -> None:
    """Report each Responses message ``phase`` among ``parts`` (an answer for a ``target``
    client, which has nowhere to keep it); ``where`` is formatted with the part's index."""
    for i, part in enumerate(parts):
        extras = getattr(part, "extras", None)
        if not extras:
            continue
        phase = phase_of(extras)
        if phase is not None:
            ctx.lose(
                where.format(i) + ".phase",
                f"{target} has no field for the responses message phase ({phase!r}); "
                "re-derived when the history returns to a responses upstream",
            )


def is_from_responses(parts: Sequence[Any]) -> bool:
    """Whether some part of a turn was decoded from a Responses message item."""
    for part in parts:
        extras = getattr(part, "extras", None)
        if isinstance(extras, Mapping):
            own = extras.get(_RESPONSES)
            if isinstance(own, Mapping) and _ITEM in own:
                return True
    return False


def derive_phases(items: Sequence[dict[str, Any]], targets: Sequence[int]) -> None:
    """Give the assistant message items at ``targets`` (indices into ``items``) the phase the
    conversation implies, unless they have one: ``commentary`` when a call item follows before
    the next user message, otherwise ``final_answer``. One backward pass."""
    wanted = frozenset(targets)
    phase = "final_answer"
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        kind = item.get("type", "message")
        if not isinstance(kind, str):
            continue
        if kind == "message":
            role = item.get("role")
            if role == "user":
                phase = "final_answer"
            elif role == "assistant" and index in wanted and "phase" not in item:
                item["phase"] = phase
        elif kind.endswith(_CALL_SUFFIX):
            phase = "commentary"
