"""The reasoning budget ↔ effort table, shared by every codec.

Anthropic sizes reasoning with ``budget_tokens`` (at least 1,024); OpenAI with an ``effort``
word. Going to an effort, a budget maps to the band it falls in (:data:`BUDGET_BANDS`); going
to a budget, an effort maps to the band's representative value (:data:`EFFORT_BUDGET`). The
table round-trips: effort → budget → effort is the identity for every effort listed. A target
that accepts fewer words (vLLM's Chat ``reasoning_effort`` takes ``low``, ``medium`` and
``high`` only) gets the nearest one (:func:`nearest_effort`).

Where the figures come from (reviewed for issue 11, item 5):

* **No vendor documents an exact equivalence.** OpenAI's reasoning guide describes the effort
  words (``minimal`` … ``xhigh``, ``medium`` the default) without token figures; Anthropic's
  extended-thinking page gives the 1,024 minimum, says to "start at the minimum and increase
  incrementally", and recommends batch processing above 32k; its ``output_config.effort``
  words (``low`` … ``max``) come with no budgets either.
* **The one vendor that states a correspondence** is Google: its OpenAI-compatible endpoint
  maps ``low``, ``medium``, ``high`` to 1K, 8K and 24K thinking tokens
  (https://ai.google.dev/gemini-api/docs/openai, "Thinking"). ``medium`` = 8,192 and
  ``high`` = 24,576 are those figures; ``minimal`` takes Anthropic's floor (1,024), so ``low``
  sits between at 2,048, and ``xhigh`` at 32,768, Anthropic's batch threshold.
* **Peers differ, each consistent with its own effort → budget table.** LiteLLM sends
  ``low``/``medium``/``high`` as 1,024 / 2,048 / 4,096 tokens (``litellm/constants.py``,
  ``DEFAULT_REASONING_EFFORT_*_THINKING_BUDGET``) and reads budgets back with cuts at 2,000,
  5,000 and 10,000 (``≥ 10,000`` is ``high``: its hosted-vLLM chat transformation); other
  proxies cut at 10,000 / 15,000 / 32,000. With a 4,096-token ``high``, 10k is beyond
  ``high``; with Google's 24,576 it is near ``medium`` (8,192), so apibridge keeps 10-12k at
  ``medium``. Claude Code's own scale agrees: "think" 4,000, "think hard" 10,000 (the middle
  one), "ultrathink" 31,999 (Simon Willison, "Claude Code: Best practices for agentic
  coding", https://simonwillison.net/2025/Apr/19/claude-code-best-practices/; Claude Code's
  docs: thinking "can use up to 31,999 tokens").
* **Edges**: the ``low``/``medium`` edge is 4,096, the geometric middle of 2,048 and 8,192;
  ``medium`` runs to 16,384 (twice its value, beyond the middle of 8,192 and 24,576 so that
  10-16k budgets, common in client defaults, stay ``medium``); ``high`` to 28,672, the middle
  of 24,576 and 32,768; above is ``xhigh`` (Claude Code's 31,999 "ultrathink", clamped to
  ``high`` where the target has no ``xhigh``).
"""

from __future__ import annotations

__all__ = [
    "BUDGET_BANDS",
    "EFFORT_BUDGET",
    "budget_for_effort",
    "effort_for_budget",
    "nearest_effort",
]

#: effort word → the budget it becomes, in increasing order.
EFFORT_BUDGET: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
}

#: budget → effort: each band's upper bound (inclusive); above the last, ``xhigh``.
BUDGET_BANDS: tuple[tuple[int, str], ...] = (
    (1024, "minimal"),
    (4096, "low"),
    (16384, "medium"),
    (28672, "high"),
)


def effort_for_budget(budget: int, *, allowed: tuple[str, ...] = tuple(EFFORT_BUDGET)) -> str:
    """The effort for ``budget``, clamped to the nearest word in ``allowed``."""
    word = "xhigh"
    for bound, name in BUDGET_BANDS:
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
