"""A Gemini request's history, fitted both ways: streamed model turns merged on decoding,
function responses put in call order on encoding (for ``_request``).

Theory of operation
-------------------
A google-genai chat session that streamed its answer keeps one ``model`` content per chunk,
each with a piece of the text or of the thoughts. :func:`merge_model_turns` makes consecutive
model contents (with the same content fields) one assistant message, and joins consecutive
texts, and consecutive thoughts, into one part each, so that another format gets one message
with its whole text and reasoning. A run of parts ends at anything that is not plain: a part
with fields of its own, a carrier, a signed text or thought (the texts before it join it, its
signature stays on it; it ends the run), another model's reasoning that came back in a
thought's signature (the unsigned thoughts before it are its text). User contents are left
as they came (every format takes consecutive user messages; a Gemini trip gives them back).

Gemini 2.5 function calls have no ids: Gemini pairs each ``functionResponse`` with a call by
position, but Claude Code, for one, sends parallel results in the order the tools finished.
:func:`results_in_call_order` writes the function responses of a user turn in the order of the
calls of the model turn before it (results that answer none of them keep their order, after).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from apibridge.codecs.gemini._signatures import ALONE, TEXT_SIGNATURE
from apibridge.codecs.gemini._wire import FORMAT
from apibridge.model import ContentPart, Message, TextPart, ThinkingPart

__all__ = ["merge_model_turns", "results_in_call_order"]


def merge_model_turns(messages: Sequence[Message]) -> tuple[Message, ...]:
    """Consecutive assistant messages with the same extras as one, their plain texts and
    thoughts joined (see the module's docstring)."""
    out: list[Message] = []
    for message in messages:
        last = out[-1] if out else None
        if (
            last is not None
            and message.role == "assistant"
            and last.role == "assistant"
            and last.extras == message.extras
            and last.name == message.name
        ):
            out[-1] = Message(
                role="assistant",
                content=(*last.content, *message.content),
                name=last.name,
                extras=last.extras,
            )
        else:
            out.append(message)
    return tuple(
        Message(
            role=m.role,
            content=_join_runs(m.content),
            name=m.name,
            extras=m.extras,
        )
        if m.role == "assistant" and len(m.content) > 1
        else m
        for m in out
    )


def _plain(*parts: TextPart) -> bool:
    """Whether the texts are only text (no fields of their own, no citations, no markers)."""
    return all(
        type(p) is TextPart and not p.extras and not p.citations and p.cache_control is None
        for p in parts
    )


def _thought_hints(part: ContentPart) -> Mapping[str, Any] | None:
    """A Gemini thought's hints when it is only text (and maybe its signature), else ``None``."""
    if type(part) is not ThinkingPart or part.summary or set(part.extras) != {FORMAT}:
        return None
    if part.signature is not None or part.encrypted_content is not None or part.id is not None:
        return None
    hints = part.extras[FORMAT]
    if set(hints) == {"_thought"} or set(hints) == {"_signature"}:
        return hints
    return None


def _signed_text(part: ContentPart) -> bool:
    """Whether ``part`` is a text whose only field is its signature (``_parts``): the texts
    before it join it, and it ends their run."""
    if type(part) is not TextPart or part.citations or part.cache_control is not None:
        return False
    return set(part.extras) == {FORMAT} and set(part.extras[FORMAT]) <= {TEXT_SIGNATURE, ALONE}


def _foreign_thought(part: ContentPart) -> bool:
    """Whether ``part`` is another model's reasoning that came back in a thought's signature
    (the reasoning envelope): the unsigned thoughts before it are its text."""
    return type(part) is ThinkingPart and (
        part.signature is not None or part.encrypted_content is not None
    )


def _joins(last: ContentPart | None, part: ContentPart) -> bool:
    """Whether the text ``part`` joins the plain text ``last`` before it."""
    if not isinstance(part, TextPart) or not isinstance(last, TextPart) or not _plain(last):
        return False
    return _plain(part) or _signed_text(part)


def _join_runs(parts: Sequence[ContentPart]) -> tuple[ContentPart, ...]:
    out: list[ContentPart] = []
    for part in parts:
        last = out[-1] if out else None
        if _joins(last, part):  # plain texts join; the run ends at a signed text, joined
            assert isinstance(part, TextPart)
            assert isinstance(last, TextPart)
            out[-1] = attrs.evolve(part, text=last.text + part.text)
            continue
        if last is not None and isinstance(part, ThinkingPart) and isinstance(last, ThinkingPart):
            before, hints = _thought_hints(last), _thought_hints(part)
            if before is not None and "_signature" not in before:
                if hints is not None:
                    # an unsigned thought joins the next one, which keeps its signature if any
                    joined = ThinkingPart(text=last.text + part.text, extras={FORMAT: dict(hints)})
                    out[-1] = joined
                    continue
                if _foreign_thought(part):  # its text came in the chunks before its signature
                    out[-1] = attrs.evolve(part, text=last.text + part.text)
                    continue
        out.append(part)
    return tuple(out)


def results_in_call_order(
    parts: list[dict[str, Any]], results: Sequence[str], calls: Sequence[str]
) -> None:
    """Put the ``functionResponse`` parts of a user turn in the order of ``calls`` (the call ids
    of the model turn before it), in place; ``results`` are the call ids the function
    responses answer, in the order they were written. Results that answer none of ``calls``
    keep their order, after the others; the turn's other parts keep their places."""
    slots = [i for i, part in enumerate(parts) if "functionResponse" in part]
    if len(slots) != len(results) or len(slots) < 2:
        return
    rank = {call_id: k for k, call_id in reversed(list(enumerate(calls)))}
    order = sorted(
        range(len(results)), key=lambda j: (results[j] not in rank, rank.get(results[j], 0), j)
    )
    moved = [parts[slots[j]] for j in order]
    for slot, part in zip(slots, moved, strict=True):
        parts[slot] = part
