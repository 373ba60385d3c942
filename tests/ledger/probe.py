"""Run one ledger element through apibridge's public API and describe what happened.

:func:`observe` converts the element's ``with`` and ``without`` payloads (see :mod:`.build`)
from its format to a target format and returns the output paths that differ, the losses that
only the ``with`` payload reported, and whether the sample value shows up in the output.
Ids and timestamps are made deterministic (``uuid.uuid4`` and ``time.time`` patched) so the
two conversions differ only by the element.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import apibridge
from apibridge.errors import ApibridgeError, Loss

__all__ = ["Observation", "convert", "get_path", "leaves", "observe"]


class Observation:
    __slots__ = (
        "all_losses",
        "carried",
        "changed",
        "error",
        "found",
        "losses",
        "out_with",
        "out_without",
    )

    def __init__(self) -> None:
        self.changed: list[str] = []
        self.losses: list[str] = []
        self.all_losses: list[str] = []
        self.carried = False
        self.error: str | None = None
        self.out_with: Any = None
        self.out_without: Any = None
        self.found: list[str] = []


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Ids from a counter and a fixed clock, so two conversions differ only by their input
    (``uuid.uuid4`` and ``time.time`` patched: not globals of the compiled codecs)."""
    counter = itertools.count(1)
    saved = uuid.uuid4, time.time
    uuid.uuid4 = lambda: uuid.UUID(int=next(counter))  # type: ignore[assignment]
    time.time = lambda: 1700000000.0
    try:
        yield
    finally:
        uuid.uuid4, time.time = saved


def _sse_events(data: bytes) -> list[Any]:
    out: list[Any] = []
    for frame in data.decode().split("\n\n"):
        event = None
        payload = None
        for line in frame.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                raw = line[5:].strip()
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = raw
        if event is not None or payload is not None:
            out.append({"event": event, "data": payload})
    return out


def frames(events: list[tuple[str | None, Any]]) -> bytes:
    """SSE bytes for ``(event name, data)`` pairs (``data`` a dict or the string ``[DONE]``)."""
    out = b""
    for name, data in events:
        head = f"event: {name}\n".encode() if name else b""
        body = data if isinstance(data, str) else json.dumps(data)
        out += head + b"data: " + body.encode() + b"\n\n"
    return out


def convert(role: str, payload: Any, source: str, target: str) -> tuple[Any, list[Loss]]:
    """``payload`` converted by the public API (request, answer or stream), with its losses."""
    losses: list[Loss] = []
    with _deterministic():
        if role == "request":
            out: Any = apibridge.convert_request(
                payload, source=source, target=target, losses=losses
            )
        elif role == "response":
            out = apibridge.convert_response(payload, source=source, target=target, losses=losses)
        else:
            data = b"".join(
                apibridge.convert_stream([payload], source=source, target=target, losses=losses)
            )
            out = _sse_events(data)
    return out, losses


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        if not value:
            yield prefix, {}
        for k, v in value.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        if not value:
            yield prefix, []
        for i, v in enumerate(value):
            yield from leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


_MISSING = object()


def get_path(value: Any, path: str) -> Any:
    """The value at a path as :func:`leaves` writes it (``a.b[0].c``), or ``_MISSING``."""
    for m in re.finditer(r"\.?([^.\[\]]+)|\[(\d+)\]", path):
        key, index = m.group(1), m.group(2)
        if index is not None:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        else:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
    return value


def contains(value: Any, needle: Any) -> bool:
    if isinstance(needle, str):
        return any(isinstance(v, str) and needle in v for _, v in leaves(value))
    return any(v == needle for _, v in leaves(value))


def observe(
    role: str, with_: Any, without: Any, source: str, target: str, value: Any
) -> Observation:
    obs = Observation()
    try:
        out_without, losses_without = convert(role, without, source, target)
    except ApibridgeError as exc:
        obs.error = f"without: {type(exc).__name__}: {exc}"
        return obs
    try:
        out_with, losses_with = convert(role, with_, source, target)
    except ApibridgeError as exc:
        obs.error = f"{type(exc).__name__}: {exc}"
        return obs
    obs.out_with, obs.out_without = out_with, out_without
    before = {loss.field for loss in losses_without}
    obs.losses = sorted({loss.field for loss in losses_with} - before)
    obs.all_losses = sorted({loss.field for loss in losses_with})
    old = dict(leaves(out_without))
    new = dict(leaves(out_with))
    obs.changed = [p for p, v in new.items() if old.get(p, _MISSING) != v]
    obs.changed += [p for p in old if p not in new]  # what the element takes away
    if isinstance(value, str):
        obs.found = [p for p, v in new.items() if isinstance(v, str) and value in v]
    # the sample strings only the ``with`` payload holds: does any reach the output?
    text = json.dumps(out_with)
    mine = _sentinels(with_) - _sentinels(without)
    obs.carried = any(s in text for s in mine)
    return obs


def _sentinels(payload: Any) -> set[str]:
    if isinstance(payload, bytes):
        payload = _sse_events(payload)
    return {
        m
        for _, v in leaves(payload)
        if isinstance(v, str)
        for m in re.findall(r"v_[0-9a-f]{10}", v)
    }
