"""Token log probabilities between Chat chunks and Responses text events.

Canonical streams carry them on text deltas (:attr:`apibridge.model.PartDelta.logprobs`) in
Chat's shape: ``{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob",
"bytes"}]}``. A Responses ``output_text.delta`` says ``token``, ``logprob`` and
``top_logprobs`` without ``bytes``; its finished ``output_text`` part requires ``bytes``. Where
a side leaves ``bytes`` out they are the token's UTF-8 bytes, which is what the field means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "TokenScores",
    "chat_logprob",
    "chunk_scores_refusal",
    "chunk_text_logprobs",
    "delta_logprob",
    "part_logprob",
]


def _bytes(entry: Mapping[str, Any]) -> Any:
    given = entry.get("bytes")
    if isinstance(given, list):
        return given
    token = entry.get("token")
    return list(token.encode("utf-8", "surrogatepass")) if isinstance(token, str) else None


def _tops(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    tops = entry.get("top_logprobs")
    return [t for t in tops if isinstance(t, Mapping)] if isinstance(tops, list) else []


def chat_logprob(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A Chat ``ChatCompletionTokenLogprob`` (``bytes`` filled in when missing)."""
    return {
        "token": entry.get("token"),
        "logprob": entry.get("logprob"),
        "bytes": _bytes(entry),
        "top_logprobs": [
            {"token": t.get("token"), "logprob": t.get("logprob"), "bytes": _bytes(t)}
            for t in _tops(entry)
        ],
    }


def delta_logprob(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry of a Responses ``output_text.delta`` (or ``.done``) ``logprobs`` list."""
    return {
        "token": entry.get("token"),
        "logprob": entry.get("logprob"),
        "top_logprobs": [
            {"token": t.get("token"), "logprob": t.get("logprob")} for t in _tops(entry)
        ],
    }


def part_logprob(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry of a finished Responses ``output_text`` part's ``logprobs`` (bytes required)."""
    return chat_logprob(entry)  # the same fields, in the same shape


class TokenScores:
    """The scored tokens of one text part a Responses stream writes: each delta's scores as
    the delta says them, and all of them for the finished part (plain class: compiled)."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[Mapping[str, Any]] = []

    def add(self, entries: tuple[Mapping[str, Any], ...]) -> list[dict[str, Any]]:
        """Record a delta's scores; the delta event's ``logprobs``."""
        self.entries.extend(entries)
        return [delta_logprob(e) for e in entries]

    def finish(self, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """Complete the finished ``output_text`` ``entry`` for the stream's events: its
        ``annotations`` (the SDK types require them there) and, unless it has its own, the
        scores; the ``output_text.done`` event's ``logprobs``."""
        if entry.get("type") == "output_text":
            entry.setdefault("annotations", [])
            if self.entries and not entry.get("logprobs"):
                entry["logprobs"] = [part_logprob(e) for e in self.entries]
        return [delta_logprob(e) for e in self.entries]


def chunk_text_logprobs(value: Any) -> tuple[Mapping[str, Any], ...]:
    """The token log probabilities of a chunk's text (``logprobs.content``), or none."""
    content = value.get("content") if isinstance(value, Mapping) else None
    if not isinstance(content, list):
        return ()
    return tuple(entry for entry in content if isinstance(entry, Mapping))


def chunk_scores_refusal(value: Any) -> bool:
    """Whether a chunk scores refusal tokens (``logprobs.refusal``), which are not carried."""
    return isinstance(value, Mapping) and bool(value.get("refusal"))
