"""The reasoning budget ↔ effort table, shared by every codec.

Anthropic sizes reasoning with ``budget_tokens`` (at least 1,024); OpenAI with an ``effort``
word. Going to an effort, a budget maps to the band it falls in; going to a budget, an effort
maps to the band's representative value. The table round-trips: effort → budget → effort is
the identity for every effort listed. A target that accepts fewer words (vLLM's Chat
``reasoning_effort`` takes ``low``, ``medium`` and ``high`` only) gets the nearest one
(:func:`nearest_effort`).
"""

from __future__ import annotations

__all__ = ["EFFORT_BUDGET", "budget_for_effort", "effort_for_budget", "nearest_effort"]

#: effort word → the budget it becomes, in increasing order.
EFFORT_BUDGET: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
}

# Band upper bounds (inclusive) for budget → effort.
_BANDS: tuple[tuple[int, str], ...] = (
    (1024, "minimal"),
    (4096, "low"),
    (16384, "medium"),
    (28672, "high"),
)


def effort_for_budget(budget: int, *, allowed: tuple[str, ...] = tuple(EFFORT_BUDGET)) -> str:
    """The effort for ``budget``, clamped to the nearest word in ``allowed``."""
    word = "xhigh"
    for bound, name in _BANDS:
        if budget <= bound:
            word = name
            break
    return nearest_effort(word, allowed)


#: every effort word in increasing order (Anthropic's ``max`` lies above ``xhigh``).
_ORDER: tuple[str, ...] = (*EFFORT_BUDGET, "max")


def nearest_effort(effort: str, allowed: tuple[str, ...]) -> str:
    """``effort`` when ``allowed`` has it, else the nearest word in ``allowed`` (a word this
    table does not know counts as ``medium``)."""
    if effort in allowed:
        return effort
    rank = _ORDER.index(effort if effort in _ORDER else "medium")
    return min(allowed, key=lambda w: abs(_ORDER.index(w) - rank) if w in _ORDER else 99)


def budget_for_effort(effort: str, *, default: int = 8192) -> int:
    """The budget for ``effort`` (``default`` for a word this table does not know)."""
    return EFFORT_BUDGET.get(effort, default)
