"""What every codec shares: the conversion context, the one set of JSON readers, and ids.

The readers check a decoded JSON value and name the place (``where``) in the error when it is
not what the format requires: ``expect_*`` for required values, ``opt_*`` for optional ones
(``None`` stays ``None``). Every codec reads with these and no other copies.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from apibridge.codecs._profiles import Profile
from apibridge.errors import InvalidPayload, Loss, UnsupportedFeature
from apibridge.model import ContentPart, Request, ServerToolPart

__all__ = [
    "Context",
    "expect_list",
    "expect_obj",
    "expect_str",
    "int_or_none",
    "new_id",
    "opt_bool",
    "opt_int",
    "opt_number",
    "opt_str",
    "split_extras",
    "str_or_none",
]


class Context:
    """State of one conversion: strictness, the losses so far, and the client's request.

    ``request`` is the canonical client request when the codec translates an *answer* to it;
    decoders use it to learn what only the request knows (stop sequences, tools).
    ``upstream_names`` maps a client tool name to the name the upstream knows it by, where they
    differ (set by ``apibridge.Exchange`` when it shortens names); decoders of answers match both.
    ``claude_models`` holds an upstream's overrides of the Claude model table
    (:mod:`apibridge.codecs._claude_models`), pattern → fields; the Anthropic encoder reads it.
    ``cache_breakpoints`` says whether the upstream takes prompt-cache markers (``None``: the
    target format's default; :mod:`apibridge.codecs._cache_markers`).
    ``reasoning_efforts`` are the ``reasoning_effort`` words a Chat upstream takes (``None``:
    ``low``, ``medium``, ``high``, which every compatible server accepts).
    ``reasoning_field`` is how a Chat upstream spells reasoning in the assistant history it is
    sent: ``"reasoning_content"``, ``"reasoning"``, ``"reasoning_details"`` or ``"think"``
    (``<think>…</think>`` inside ``content``); ``None`` keeps the spelling each message came
    with (``reasoning_content`` for reasoning from another format). Set by a server profile.
    ``profile`` is the upstream's server profile (:class:`apibridge.codecs._profiles.Profile`:
    what that server family accepts, applied to encoded requests by
    :mod:`apibridge.codecs._profile_rules`); ``None`` behaves like ``generic``.
    ``upstream_betas`` collects the ``anthropic-beta`` flags an encoder's output needs (a field
    it wrote for another format's client that the Anthropic API gates behind one); the HTTP
    transport adds them to the upstream request's ``anthropic-beta`` header (:meth:`need_beta`).

    A plain class rather than an attrs one: it is built once per conversion and the compiled
    codecs (mypyc) make it a native class.
    """

    __slots__ = (
        "cache_breakpoints",
        "claude_models",
        "losses",
        "profile",
        "reasoning_efforts",
        "reasoning_field",
        "request",
        "strict",
        "upstream_betas",
        "upstream_names",
    )

    def __init__(
        self,
        *,
        strict: bool = False,
        losses: list[Loss] | None = None,
        request: Request | None = None,
        upstream_names: Mapping[str, str] | None = None,
        claude_models: Sequence[tuple[str, Mapping[str, Any]]] = (),
        cache_breakpoints: bool | None = None,
        reasoning_efforts: tuple[str, ...] | None = None,
        reasoning_field: str | None = None,
        profile: Profile | None = None,
    ) -> None:
        self.strict = strict
        self.losses: list[Loss] = [] if losses is None else losses
        self.request = request
        self.upstream_names: Mapping[str, str] = {} if upstream_names is None else upstream_names
        self.claude_models = claude_models
        self.cache_breakpoints = cache_breakpoints
        self.reasoning_efforts = reasoning_efforts
        self.reasoning_field = reasoning_field
        self.profile = profile
        self.upstream_betas: list[str] = []

    def __repr__(self) -> str:
        return (
            f"Context(strict={self.strict!r}, losses={self.losses!r}, "
            f"request={self.request!r}, upstream_names={self.upstream_names!r})"
        )

    def need_beta(self, flag: str) -> None:
        """Ask for ``anthropic-beta: flag`` on the upstream request (once, in order)."""
        if flag not in self.upstream_betas:
            self.upstream_betas.append(flag)

    def lose(self, field: str, reason: str, action: str = "dropped") -> None:
        """Record that ``field`` cannot be carried (or raise, in strict mode)."""
        loss = Loss(field=field, reason=reason, action=action)
        if self.strict:
            raise UnsupportedFeature(loss)
        self.losses.append(loss)

    def lose_extras(self, extras: Mapping[str, Mapping[str, Any]], target: str, where: str) -> None:
        """Report every extra field that belongs to a format other than ``target``."""
        for fmt, fields in extras.items():
            if fmt == target:
                continue
            for key in fields:
                if key.startswith("_"):
                    continue  # a spelling hint (docs/canonical.md), not data: never a loss
                reason = f"{fmt} field has no {target} equivalent"
                if key == "context_management":
                    reason += _applied_edits(fields[key])
                self.lose(f"{where}.{key}", reason)


def _applied_edits(value: Any) -> str:
    """What an Anthropic answer's ``context_management.applied_edits`` says, for a loss."""
    edits = value.get("applied_edits") if isinstance(value, Mapping) else None
    if not isinstance(edits, list):
        return ""
    said = [
        ", ".join(f"{k} {v}" for k, v in edit.items() if k != "type")
        for edit in edits
        if isinstance(edit, Mapping)
    ]
    kinds = [str(edit.get("type")) for edit in edits if isinstance(edit, Mapping)]
    applied = "; ".join(f"{kind} ({what})" for kind, what in zip(kinds, said, strict=True))
    return f"; the upstream applied: {applied or 'nothing'}"


def new_id(prefix: str) -> str:
    """A fresh, collision-free id such as ``msg_3f2a…`` (random, never a timestamp)."""
    return prefix + uuid.uuid4().hex


def _expected(value: Any, where: str, kind: str) -> str:
    """The message for a value of the wrong JSON type (``None``: the field is missing)."""
    if value is None:
        return f"{where}: missing (expected {kind})"
    return f"{where}: expected {kind}, got {_json_type(value)}"


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


#: JSON's names for the Python types a parsed body holds.
_JSON_TYPES: Final = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


def expect_obj(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or :class:`InvalidPayload` naming ``where``."""
    if type(value) is dict:  # the parsed-JSON case, without the slower ABC check (hot path)
        return value
    if not isinstance(value, Mapping):
        raise InvalidPayload(_expected(value, where, "an object"))
    return value


def expect_list(value: Any, where: str) -> Sequence[Any]:
    """``value`` as a JSON array, or :class:`InvalidPayload` naming ``where``."""
    if not isinstance(value, list):
        raise InvalidPayload(_expected(value, where, "an array"))
    return value


def expect_str(value: Any, where: str) -> str:
    """``value`` as a string, or :class:`InvalidPayload` naming ``where``."""
    if not isinstance(value, str):
        raise InvalidPayload(_expected(value, where, "a string"))
    return value


def opt_str(value: Any, where: str) -> str | None:
    """``value`` as a string (``None`` stays ``None``), or :class:`InvalidPayload`."""
    if value is None or isinstance(value, str):
        return value
    raise InvalidPayload(_expected(value, where, "a string"))


def opt_int(value: Any, where: str) -> int | None:
    """``value`` as an int (``None`` stays ``None``, a bool is refused), or InvalidPayload."""
    if value is None or type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPayload(f"{where}: expected an integer, got {_json_type(value)}")
    return value


def opt_number(value: Any, where: str) -> float | None:
    """``value`` as a number, kept as sent (an int stays an int), or :class:`InvalidPayload`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPayload(f"{where}: expected a number, got {_json_type(value)}")
    return value


def opt_bool(value: Any, where: str) -> bool | None:
    """``value`` as a bool (``None`` stays ``None``), or :class:`InvalidPayload`."""
    if value is None or isinstance(value, bool):
        return value
    raise InvalidPayload(f"{where}: expected a boolean, got {_json_type(value)}")


def int_or_none(value: Any) -> int | None:
    """``value`` when it is an int (not a bool), else ``None`` (for fields read leniently)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_or_none(value: Any) -> str | None:
    """``value`` when it is a string, else ``None`` (for fields read leniently)."""
    return value if isinstance(value, str) else None


def split_extras(
    body: Mapping[str, Any], known: frozenset[str] | set[str], fmt: str
) -> dict[str, dict[str, Any]]:
    """The fields of ``body`` outside ``known``, as ``{fmt: {...}}`` (empty when none)."""
    rest = {k: v for k, v in body.items() if k not in known}
    return {fmt: rest} if rest else {}


#: what a user calls each kind of content part (in loss messages).
_PART_WORDS: Final = {
    "TextPart": "text",
    "ImagePart": "an image",
    "DocumentPart": "a document",
    "ToolCallPart": "a tool call",
    "ToolResultPart": "a tool result",
    "ThinkingPart": "a thinking block",
    "RedactedThinkingPart": "a redacted thinking block",
    "RefusalPart": "a refusal",
}


def part_words(part: ContentPart) -> str:
    """``part`` as a user would name it: ``an image``, or for a block apibridge does not know
    (kept opaque) its own format and type, ``an anthropic "hologram" block``."""
    if isinstance(part, ServerToolPart):
        article = "an" if part.source_format[:1] in "aeiou" else "a"
        return f'{article} {part.source_format} "{part.kind}" block'
    return _PART_WORDS.get(type(part).__name__, type(part).__name__)
