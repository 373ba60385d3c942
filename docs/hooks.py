"""MkDocs hook: tables in the docs are generated from the code's own mapping tables.

A page writes ``<!-- table: NAME -->`` on a line of its own; this hook replaces it with the
Markdown table that ``TABLES[NAME]`` builds, so a mapping is never written twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

_MARK = re.compile(r"^<!-- table: ([a-z_]+) -->$", re.MULTILINE)


def _md(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(f"`{c}`" if c not in (None, "") else "—" for c in r) + " |" for r in rows
    ]
    return "\n".join(lines)


def _error_kinds() -> str:
    from apibridge.errors import ERROR_KINDS

    rows = [(k, v.status, v.anthropic, v.openai) for k, v in ERROR_KINDS.items()]
    return _md(("kind", "status", "Anthropic type", "OpenAI type"), rows)


def _gemini_statuses() -> str:
    """Google's ``status`` names ⇄ canonical error kinds, from ``codecs.gemini._wire``."""
    from apibridge.codecs.gemini._wire import KIND_TO_STATUS, STATUS_TO_KIND

    read = [(name, kind) for name, kind in STATUS_TO_KIND.items()]
    written = {kind: f"{status} {name}" for kind, (status, name) in KIND_TO_STATUS.items()}
    rows = [(name, kind, written.get(kind)) for name, kind in read]
    rows += [
        (None, kind, text) for kind, text in written.items() if kind not in STATUS_TO_KIND.values()
    ]
    return _md(("Gemini status read", "canonical kind", "written to a Gemini client as"), rows)


def _effort_budget() -> str:
    """Effort → budget and the budgets that read back as each effort, from ``_reasoning``."""
    from apibridge.codecs._reasoning import BUDGET_BANDS, EFFORT_BUDGET

    rows, low = [], 0
    uppers = dict((name, bound) for bound, name in BUDGET_BANDS)
    for effort, budget in EFFORT_BUDGET.items():
        upper = uppers.get(effort)
        band = f"{low:,} to {upper:,}" if upper is not None else f"{low:,} and more"
        rows.append((effort, f"{budget:,}", band))
        low = (upper or 0) + 1
    return _md(("effort", "budget_tokens sent", "budget_tokens read as it"), rows)


def _claude_models() -> str:
    """The Claude model table, from ``codecs._claude_models`` itself."""
    from apibridge.codecs._claude_models import CLAUDE_MODELS, UNKNOWN_CLAUDE, UNKNOWN_MODEL

    def words(values: tuple[str, ...]) -> str:
        return ", ".join(values) or "none"

    rows = [
        (
            f"`{pattern}`",
            m.max_output,
            words(m.sampling),
            words(m.thinking),
            words(m.efforts),
            m.thinking_off or "cannot",
            "yes" if m.forced_tools else "no",
        )
        for pattern, m in (
            *CLAUDE_MODELS,
            ("other claude-*", UNKNOWN_CLAUDE),
            ("any other name", UNKNOWN_MODEL),
        )
    ]
    return _md(
        ("model", "max output", "sampling", "thinking", "effort", "thinking off", "forced tools"),
        rows,
    )


def _stop_reasons() -> str:
    """Canonical stop reason → each client format's spelling, from the codecs' own tables."""
    from apibridge.codecs.anthropic._wire import STOP_REASON_TO_WIRE
    from apibridge.codecs.chat._wire import STOP_TO_FINISH
    from apibridge.codecs.gemini._wire import STOP_TO_FINISH as GEMINI_FINISH
    from apibridge.codecs.responses._wire import STOP_TO_STATUS
    from apibridge.model import STOP_REASONS

    rows = []
    for reason in sorted(STOP_REASONS):
        status, detail = STOP_TO_STATUS.get(reason, ("completed", None))
        responses = f"{status} ({detail})" if detail else status
        rows.append(
            (
                reason,
                STOP_REASON_TO_WIRE.get(reason, "end_turn"),
                STOP_TO_FINISH.get(reason),
                responses,
                GEMINI_FINISH.get(reason),
            )
        )
    header = ("canonical", "Anthropic stop_reason", "Chat finish_reason", "Responses status")
    return _md((*header, "Gemini finishReason"), rows)


def _wire_to_canonical() -> str:
    """Each format's stop word → canonical, as the decoders read them."""
    from apibridge.codecs.anthropic._wire import STOP_REASON_FROM_WIRE
    from apibridge.codecs.chat._wire import FINISH_TO_STOP
    from apibridge.codecs.gemini._wire import FINISH_TO_STOP as GEMINI_TO_STOP
    from apibridge.codecs.responses._wire import INCOMPLETE_TO_STOP, STATUS_TO_STOP

    rows: list[tuple[Any, ...]] = [("Anthropic", k, v) for k, v in STOP_REASON_FROM_WIRE.items()]
    rows += [("Chat", k, v) for k, v in FINISH_TO_STOP.items()]
    rows += [("Responses status", k, v) for k, v in STATUS_TO_STOP.items()]
    rows += [("Responses incomplete reason", k, v) for k, v in INCOMPLETE_TO_STOP.items()]
    rows += [("Gemini finishReason", k, v) for k, v in GEMINI_TO_STOP.items()]
    return _md(("format", "wire value", "canonical"), rows)


def _fidelity_tests() -> str:
    root = Path(__file__).parent.parent / "tests"
    found: list[tuple[int, str, str]] = []
    for path in sorted(root.rglob("test_*.py")):
        for match in _FIDELITY_TEST.finditer(path.read_text(encoding="utf-8")):
            found.append((int(match.group(1)), match.group(0)[4:], str(path.relative_to(root))))
    found.sort()
    return _md(("#", "test", "file"), found)


def _words(value: Any) -> str:
    """A profile fact as a table cell: unknown (``None``) shows as ``—`` (generic)."""
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, tuple):
        return ", ".join(value) or "none"
    return str(value)


def _profiles() -> str:
    """The Chat server profiles side by side, from ``codecs._profiles`` itself."""
    from apibridge.codecs._profiles import CHAT_PROFILES

    facts = (
        ("reasoning field", "reasoning_field"),
        ("reasoning_effort words", "reasoning_efforts"),
        ("output limit", "max_tokens_keys"),
        ("tool result parts", "tool_result_parts"),
        ("allowed_tools choice", "allowed_tools"),
        ("named tool choice", "named_tool_choice"),
        ("parallel_tool_calls", "parallel_tool_calls"),
        ("strict tools", "tool_strict"),
        ("stream_options", "include_usage"),
        ("response_format", "response_formats"),
        ("image input", "image_input"),
        ("cached tokens in", "cache_usage"),
        ("refused fields", "rejects"),
    )
    names = [n for n in CHAT_PROFILES if n != "generic"]
    rows = [
        (label, *(_words(getattr(CHAT_PROFILES[n], key)) for n in names)) for label, key in facts
    ]
    rows.append(("field whitelist", *("yes" if CHAT_PROFILES[n].fields else "" for n in names)))
    return _md(("fact", *names), rows)


def _anthropic_profiles() -> str:
    """The Anthropic-format server profiles, from ``codecs._profiles`` itself."""
    from apibridge.codecs._profiles import ANTHROPIC_PROFILES

    rows = [
        (name, p.title, _words(p.ignores or None), _words(p.blocks), _words(p.parallel_control))
        for name, p in ANTHROPIC_PROFILES.items()
        if name != "generic"
    ]
    return _md(
        ("profile", "server", "ignored (dropped)", "content blocks", "disable_parallel_tool_use"),
        rows,
    )


_FIDELITY_TEST = re.compile(r"def test_fidelity_(\d+)_\w+")

TABLES: dict[str, Callable[[], str]] = {
    "claude_models": _claude_models,
    "error_kinds": _error_kinds,
    "effort_budget": _effort_budget,
    "fidelity_tests": _fidelity_tests,
    "gemini_statuses": _gemini_statuses,
    "profiles": _profiles,
    "anthropic_profiles": _anthropic_profiles,
    "stop_reasons": _stop_reasons,
    "wire_to_canonical": _wire_to_canonical,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each table marker with its generated table."""
    return _MARK.sub(lambda m: TABLES[m.group(1)](), markdown)


#: a Sphinx cross-reference role as mkdocstrings leaves it: ``:class:<code>~a.b.Name</code>``.
_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj|const):<code>(~?)([^<]*)</code>")


def on_page_content(html: str, **_: Any) -> str:
    """The API reference's docstrings use Sphinx roles (``:class:`~apibridge.Loss```), which
    mkdocstrings shows as text: render each as the code name alone (only the last dotted part
    after ``~``, as Sphinx does)."""
    return _ROLE.sub(_role_name, html)


def _role_name(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"
