"""The budget ↔ effort table round-trips and is monotonic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from apibridge.codecs._reasoning import EFFORT_BUDGET, budget_for_effort, effort_for_budget


def test_effort_budget_effort_is_identity() -> None:
    for effort in EFFORT_BUDGET:
        assert effort_for_budget(budget_for_effort(effort)) == effort


@given(st.integers(min_value=0, max_value=200_000), st.integers(min_value=0, max_value=200_000))
def test_monotonic(a: int, b: int) -> None:
    order = list(EFFORT_BUDGET)
    lo, hi = sorted((a, b))
    assert order.index(effort_for_budget(lo)) <= order.index(effort_for_budget(hi))


def test_clamps_to_allowed_words() -> None:
    assert effort_for_budget(32000, allowed=("low", "medium", "high")) == "high"
    assert effort_for_budget(500, allowed=("low", "medium", "high")) == "low"
    assert budget_for_effort("unknown-word", default=5000) == 5000
