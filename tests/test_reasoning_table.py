"""The budget ↔ effort table round-trips, is monotonic, and has the edges docs/converting.md
states (fidelity class 27)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import apibridge
from apibridge.codecs._reasoning import (
    BUDGET_BANDS,
    EFFORT_BUDGET,
    budget_for_effort,
    effort_for_budget,
)
from oracles import validate_request


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


# ------------------------------------------------- fidelity 27: the band edges (issue 11, item 5)

#: (budget, effort): each band's edges, and the budgets clients send (docs/converting.md)
EDGES = [
    (1024, "minimal"),  # Anthropic's floor
    (1025, "low"),
    (2048, "low"),
    (4000, "low"),  # Claude Code "think"
    (4096, "low"),
    (4097, "medium"),
    (8192, "medium"),
    (10000, "medium"),  # Claude Code "think hard"; LiteLLM and others say high here
    (12000, "medium"),
    (16384, "medium"),
    (16385, "high"),
    (24576, "high"),
    (28672, "high"),
    (28673, "xhigh"),
    (31999, "xhigh"),  # Claude Code "ultrathink", its thinking default
    (32768, "xhigh"),
]


@pytest.mark.parametrize(("budget", "effort"), EDGES)
def test_fidelity_27_budget_band_edges(budget: int, effort: str) -> None:
    assert effort_for_budget(budget) == effort


def test_fidelity_27_each_effort_is_sent_as_googles_figure_where_there_is_one() -> None:
    """Google's OpenAI-compatible endpoint maps low/medium/high to 1K/8K/24K thinking tokens,
    the one correspondence a vendor documents; ``medium`` and ``high`` are those, ``minimal``
    Anthropic's floor, and every representative reads back as its own word."""
    assert EFFORT_BUDGET["medium"] == 8192
    assert EFFORT_BUDGET["high"] == 24576
    assert EFFORT_BUDGET["minimal"] == 1024
    for effort, budget in EFFORT_BUDGET.items():
        assert effort_for_budget(budget) == effort
    uppers = [bound for bound, _ in BUDGET_BANDS]
    assert uppers == sorted(uppers)
    assert [name for _, name in BUDGET_BANDS] == list(EFFORT_BUDGET)[: len(BUDGET_BANDS)]


@pytest.mark.parametrize(
    ("budget", "effort"), [(4000, "low"), (10000, "medium"), (12000, "medium"), (16385, "high")]
)
@pytest.mark.parametrize("target", ["chat", "responses"])
def test_fidelity_27_a_claude_budget_reaches_openai_as_its_band(
    budget: int, effort: str, target: str
) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 40000,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": budget},
    }
    out = apibridge.convert_request(body, source="anthropic", target=target, losses=[])
    validate_request(target, out)
    said = out["reasoning_effort"] if target == "chat" else out["reasoning"]["effort"]
    assert said == effort


@pytest.mark.parametrize("effort", ["minimal", "low", "medium", "high", "xhigh"])
def test_fidelity_27_an_openai_effort_reaches_a_budget_model_as_its_figure(effort: str) -> None:
    body = {"model": "claude-3-7-sonnet-20250219", "input": "hi", "reasoning": {"effort": effort}}
    out = apibridge.convert_request(body, source="responses", target="anthropic", losses=[])
    validate_request("anthropic", out)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": EFFORT_BUDGET[effort]}
