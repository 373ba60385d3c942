"""The API surface ledger (issue 15): every element of the official SDK types is classified
for every direction, and each classification is proven by a conversion.

* ``test_claim`` — one case per element and target format: the element's sample payload is
  converted by the public API; ``mapped`` → the output changes at the named places when the
  element is there, ``lost`` / ``refused`` → a loss names it, ``nothing`` → converts with no
  loss for it, ``pending`` → converts without a crash (an issue item still open).
* ``test_complete`` / ``test_no_stale`` — the ledger and the installed SDK agree: a new field
  or type in an SDK release fails until it is classified (``python -m tests.ledger.draft``).
* ``test_no_silent_drop`` — no entry says an element is dropped without a report.
* ``test_page_current`` — docs/api-surface.md is the page the ledger renders today.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from .ledger import KINDS, cases, entry_for, load, problems, run, sample, surface_named
from .probe import _sse_events
from .render import PAGE, render


@functools.cache
def _ledger() -> dict[str, Any]:
    return load()


CASES = cases()
#: one test per element, covering each of its directions
ELEMENTS: dict[tuple[str, str], list[str]] = {}
for _s, _p, _t in CASES:
    ELEMENTS.setdefault((_s, _p), []).append(_t)


@pytest.mark.parametrize(("surface", "path"), list(ELEMENTS), ids=[":".join(e) for e in ELEMENTS])
def test_claim(surface: str, path: str) -> None:
    failures = []
    for target in ELEMENTS[(surface, path)]:
        entry = entry_for(_ledger(), surface, path, target)
        if entry is None:
            failures.append(f"→ {target}: not in the ledger (test_complete names all)")
            continue
        _sample, obs = run(surface_named(surface), path, target)
        failures += [
            f"→ {target}: {entry}: {p}; changed {obs.changed[:8]}; losses {obs.all_losses}"
            for p in problems(entry, obs)
        ]
    assert failures == [], f"{surface}:{path}"


def test_complete() -> None:
    missing = [c for c in CASES if entry_for(_ledger(), *c) is None]
    assert missing == [], (
        f"{len(missing)} element/direction(s) of the installed SDKs are not classified; "
        "run `PYTHONPATH=src python -m tests.ledger.draft` and review: "
        + ", ".join(f"{s}:{p}→{t}" for s, p, t in missing[:20])
    )


def test_no_stale() -> None:
    wanted = {(s, p) for s, p, _ in CASES}
    stale = [(s, p) for s, paths in _ledger().items() for p in paths if (s, p) not in wanted]
    assert stale == [], f"entries for elements the SDKs no longer have: {stale[:20]}"


def test_entries_well_formed() -> None:
    targets = {(s, p): {t for s2, p2, t in CASES if (s2, p2) == (s, p)} for s, p, _ in CASES}
    bad = []
    for surface, paths in _ledger().items():
        for path, by_target in paths.items():
            for target, entry in by_target.items():
                kinds = [k for k in KINDS if k in entry]
                if kinds == ["mapped", "lost"]:
                    kinds = ["mapped"]  # carried in part, the rest reported
                if len(kinds) != 1:
                    bad.append(f"{surface}:{path}→{target}: one of {KINDS} expected")
                elif target != "*" and target not in targets.get((surface, path), set()):
                    bad.append(f"{surface}:{path}→{target}: not a target of this surface")
                elif kinds[0] == "nothing" and not str(entry["nothing"]).strip():
                    bad.append(f"{surface}:{path}→{target}: `nothing` needs a reason")
    assert bad == []


def test_no_silent_drop() -> None:
    """Every element is carried, reported or has nothing to carry: no entry is ``pending``
    (``pending: silent`` is a drop nobody owns; ``pending: item N`` was an issue item still
    open, and issue 15's are all done). A new SDK field the codecs drop fails here until it is
    carried, reported, or classified ``nothing`` with a reason."""
    pending = [
        f"{s}:{p}→{t} ({entry['pending']})"
        for s, paths in _ledger().items()
        for p, by_target in paths.items()
        for t, entry in by_target.items()
        if "pending" in entry
    ]
    assert pending == [], f"{len(pending)} pending: {pending[:30]}"


def test_page_current() -> None:
    assert Path(PAGE).read_text() == render(_ledger()), (
        "docs/api-surface.md is stale: run `PYTHONPATH=src python -m tests.ledger.render`"
    )


@functools.cache
def _adapter(surface: str) -> TypeAdapter[Any]:
    return TypeAdapter(surface_named(surface).root)


def _payloads(surface: str, path: str) -> list[Any]:
    """The element's sample payload as the SDK type sees it (a stream: each event)."""
    s = sample(surface_named(surface), path)
    if surface_named(surface).role != "stream":
        return [s.with_]
    return [e["data"] for e in _sse_events(s.with_) if isinstance(e["data"], dict)]


@pytest.mark.parametrize("surface", sorted({s for s, _ in ELEMENTS}))
def test_samples_valid(surface: str) -> None:
    """Every sample payload holding an element is one the official SDK types accept (pydantic
    validation of the TypedDict / model the element was enumerated from). The ``without``
    payloads are the same with one value changed or left out."""
    bad = []
    for s, path in ELEMENTS:
        if s != surface:
            continue
        for payload in _payloads(s, path):
            try:
                _adapter(s).validate_python(payload)
            except ValidationError as exc:
                bad.append(f"{path}: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}")
    assert bad == [], f"{len(bad)} invalid sample(s): {bad[:10]}"
