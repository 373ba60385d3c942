"""The ledger: load it, list its cases, and check one case (shared by the tests, the draft
tool and the docs renderer)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from .build import Sample, build, build_stream
from .probe import _MISSING, Observation, get_path, observe
from .surface import SURFACES, Element, Surface, elements

__all__ = ["FORMATS", "LEDGER", "cases", "entry_for", "ledger_elements", "load", "problems", "run"]

LEDGER = Path(__file__).with_name("ledger.yaml")
FORMATS = ("anthropic", "chat", "responses")
KINDS = ("mapped", "lost", "refused", "nothing", "pending")


def ledger_elements(surface: Surface) -> list[Element]:
    """The elements the ledger classifies: all of them, but for Anthropic and Responses
    streams only the event and delta types (their fields are the answer's, listed there)."""
    els = elements(surface)
    if surface.role == "stream" and surface.fmt != "chat":
        els = [e for e in els if e.kind == "type" and "[]" not in e.path]
    return els


def targets(surface: Surface) -> tuple[str, ...]:
    return tuple(f for f in FORMATS if f != surface.fmt)


def load() -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    with LEDGER.open() as f:
        return yaml.safe_load(f) or {}


def entry_for(
    ledger: dict[str, Any], surface: str, path: str, target: str
) -> dict[str, Any] | None:
    by_path = ledger.get(surface, {}).get(path)
    if by_path is None:
        return None
    return by_path.get(target) or by_path.get("*")


@functools.lru_cache(maxsize=4)
def _sample(surface: Surface, path: str) -> Sample:
    return build_stream(surface, path) if surface.role == "stream" else build(surface, path)


def sample(surface: Surface, path: str) -> Sample:
    """The element's sample payloads (a fresh copy: conversions must not share them)."""
    s = _sample(surface, path)
    return Sample(copy.deepcopy(s.with_), copy.deepcopy(s.without), s.value)


def run(surface: Surface, path: str, target: str) -> tuple[Sample, Observation]:
    s = sample(surface, path)
    return s, observe(surface.role, s.with_, s.without, surface.fmt, target, s.value)


def cases() -> list[tuple[str, str, str]]:
    return [(s.name, e.path, t) for s in SURFACES for e in ledger_elements(s) for t in targets(s)]


def surface_named(name: str) -> Surface:
    return next(s for s in SURFACES if s.name == name)


def problems(entry: dict[str, Any], obs: Observation) -> list[str]:
    """What is wrong with the claim ``entry`` given the observation (empty: the claim holds)."""
    kind = next((k for k in KINDS if k in entry), None)
    if kind is None:
        return [f"no classification in {entry!r}"]
    if kind == "mapped" and "lost" in entry:  # carried in part, the rest reported
        return problems({"mapped": entry["mapped"]}, obs) + problems({"lost": entry["lost"]}, obs)
    if kind == "pending":
        return []  # converts without a crash (observe raised nothing unexpected): enough
    if kind == "refused":
        return (
            []
            if obs.error and any(n in obs.error for n in entry["refused"])
            else [f"not refused: {obs.error}"]
        )
    if obs.error:
        return [f"conversion failed: {obs.error}"]
    if kind == "nothing":
        return [f"reported lost: {obs.losses}"] if obs.losses else []
    if kind == "lost":
        missing = [n for n in entry["lost"] if n not in obs.all_losses]
        return [f"loss {n!r} not reported (reported: {obs.all_losses})" for n in missing]
    out: list[str] = []
    for place in entry["mapped"]:
        now = get_path(obs.out_with, place)
        if now is _MISSING and get_path(obs.out_without, place) is _MISSING:
            out.append(f"{place} missing in the output")
        elif now == get_path(obs.out_without, place):
            out.append(f"{place} does not depend on the element")
    if obs.found and not any(p in obs.found for p in entry["mapped"]):
        # the sample value itself reaches the output: the ledger must name where
        out.append(f"the sample value lands at {obs.found[:3]}, not at the places named")
    return out
