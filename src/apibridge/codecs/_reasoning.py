"""The reasoning budget ↔ effort table, shared by every codec.

Anthropic sizes reasoning with ``budget_tokens`` (at least 1,024); OpenAI with an ``effort``
word. Going to an effort, a budget maps to the band it falls in; going to a budget, an effort
maps to the band's representative value. The table round-trips: effort → budget → effort is
the identity for every effort listed.
"""

from __future__ import annotations

__all__ = ["EFFORT_BUDGET", "budget_for_effort", "effort_for_budget"]

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
    if word in allowed:
        return word
    order = list(EFFORT_BUDGET)
    rank = order.index(word)
    return min(allowed, key=lambda w: abs(order.index(w) - rank) if w in order else 99)


def budget_for_effort(effort: str, *, default: int = 8192) -> int:
    """The budget for ``effort`` (``default`` for a word this table does not know)."""
    return EFFORT_BUDGET.get(effort, default)
