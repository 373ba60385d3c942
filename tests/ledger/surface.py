"""Enumerate the API surface from the installed official SDK types, by introspection.

Every request field, content block / part / input item / tool type (and their fields), answer
field, output item type and stream event type of the three APIs becomes one :class:`Element`
with a stable path such as ``messages[user].content[image].source[base64].media_type``:

* ``name`` — a field of a TypedDict (request) or a pydantic model (answer, stream event);
* ``[]`` — the members of a list;
* ``[tag]`` — one member of a union told apart by a ``Literal`` field (``type``, else ``role``);
  the element with this path is the *type* element, its fields follow.

Nothing here is written by hand but the roots and a few places not worth descending into (JSON
schemas, free-form metadata), so a new SDK release that adds a field or a type adds an element
the ledger does not classify yet, and the completeness test names it.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import pydantic
import typing_extensions

__all__ = ["SURFACES", "Element", "Surface", "elements", "resolve"]

_MAX_DEPTH = 7


@dataclass(frozen=True)
class Surface:
    """One enumerated API surface: a root type in one format, in one role."""

    name: str  # e.g. "anthropic.request"
    fmt: str  # the apibridge format name
    role: Literal["request", "response", "stream"]
    root: Any
    #: dotted paths not descended into (their element is kept, their insides are not)
    opaque: frozenset[str] = field(default_factory=frozenset)
    #: paths (and everything under them) left out of the surface altogether
    skip: frozenset[str] = field(default_factory=frozenset)
    #: when set, the only top-level fields enumerated (a beta surface: what is not in the GA one)
    only: frozenset[str] | None = None


@dataclass(frozen=True)
class Element:
    surface: str
    path: str
    kind: Literal["field", "type"]
    #: the annotation at this place (for the sample builder)
    annotation: Any = field(compare=False, repr=False)
    required: bool = field(compare=False, default=False)

    @property
    def id(self) -> str:
        return f"{self.surface}:{self.path}"


_WRAPPERS = (
    typing.Required,
    typing.NotRequired,
    typing_extensions.Required,
    typing_extensions.NotRequired,
    typing_extensions.ReadOnly,
)


def _strip(tp: Any) -> Any:
    """``tp`` without Annotated / Required / NotRequired / Optional wrappers."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated or origin in _WRAPPERS:
            tp = get_args(tp)[0]
        else:
            return tp


def union_members(tp: Any) -> list[Any]:
    """The non-None members of ``tp`` if it is a union, else ``[tp]`` (wrappers stripped)."""
    tp = _strip(tp)
    if get_origin(tp) in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(tp):
            if arg is type(None):
                continue
            out.extend(union_members(arg))
        return out
    return [tp]


def is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and typing_extensions.is_typeddict(tp)


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def is_struct(tp: Any) -> bool:
    return is_typeddict(tp) or is_model(tp)


@functools.cache
def struct_fields(tp: Any) -> tuple[tuple[str, Any, bool], ...]:
    """``(wire name, annotation, required)`` for each field of a TypedDict or pydantic model."""
    if is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        total = getattr(tp, "__total__", True)

        def required(ann: Any) -> bool:
            while get_origin(ann) is typing.Annotated:
                ann = get_args(ann)[0]
            origin = get_origin(ann)
            if origin in (typing.Required, typing_extensions.Required):
                return True
            if origin in (typing.NotRequired, typing_extensions.NotRequired):
                return False
            return bool(total)

        return tuple((name, ann, required(ann)) for name, ann in hints.items())
    out = []
    for name, info in tp.model_fields.items():
        out.append((info.alias or name, info.annotation, info.is_required()))
    return tuple(out)


def list_item(tp: Any) -> Any | None:
    """The item type when ``tp`` is a list-like annotation, else ``None``."""
    tp = _strip(tp)
    origin = get_origin(tp)
    if origin in (list, tuple, set, frozenset) or (
        inspect.isclass(origin)
        and issubclass(origin, Iterable)
        and not issubclass(origin, Mapping)
        and origin not in (str, bytes)
    ):
        args = get_args(tp)
        return args[0] if args else Any
    return None


def literal_values(tp: Any) -> tuple[Any, ...]:
    tp = _strip(tp)
    if get_origin(tp) is Literal:
        return get_args(tp)
    return ()


@functools.cache
def tag_of(tp: Any) -> str | None:
    """The discriminating value of a struct: its ``type`` literal (else ``role``), if one."""
    for key in ("type", "role"):
        for name, ann, _required in struct_fields(tp):
            if name == key:
                values = [v for m in union_members(ann) for v in literal_values(m)]
                if len(values) == 1:
                    return str(values[0])
                if values:
                    return "|".join(str(v) for v in values)
    return None


def _tag_key(tp: Any) -> str | None:
    for key in ("type", "role"):
        for name, ann, _required in struct_fields(tp):
            if name == key and any(literal_values(m) for m in union_members(ann)):
                return key
    return None


_STRUCTS_CACHE: dict[int, tuple[Any, list[tuple[str | None, Any, bool]]]] = {}


def structs_in(tp: Any) -> list[tuple[str | None, Any, bool]]:
    """The structs ``tp`` can hold (cached: annotations are not all hashable, so by id)."""
    hit = _STRUCTS_CACHE.get(id(tp))
    if hit is None or hit[0] is not tp:
        hit = _STRUCTS_CACHE[id(tp)] = (tp, _structs_in(tp))
    return hit[1]


def _structs_in(tp: Any) -> list[tuple[str | None, Any, bool]]:
    """The structs ``tp`` can hold at this place: ``(tag, struct, via_list)``.

    A list of structs yields the struct with ``via_list``; a union of structs yields each
    member with its tag when there are several (a single struct needs no tag).
    """
    found: list[tuple[Any, bool]] = []
    for member in union_members(tp):
        item = list_item(member)
        if item is not None:
            for inner in union_members(item):
                if is_struct(inner):
                    found.append((inner, True))
        elif is_struct(member):
            found.append((member, False))
    seen: set[Any] = set()
    unique = []
    for s, via in found:
        if (s, via) not in seen:
            seen.add((s, via))
            unique.append((s, via))
    structs = {s for s, _ in unique}
    if len(structs) <= 1:
        return [(None, s, via) for s, via in unique]
    tagged: dict[str, tuple[Any, bool]] = {}
    for s, via in unique:  # a request union lists Param types first, then answer models
        tagged.setdefault(tag_of(s) or s.__name__, (s, via))
    return [(tag, s, via) for tag, (s, via) in tagged.items()]


def _walk(
    surface: Surface, tp: Any, prefix: str, depth: int, stack: tuple[Any, ...], seen: set[Any]
) -> Iterator[Element]:
    for tag, struct, via_list in structs_in(tp):
        if struct in stack or depth > _MAX_DEPTH:
            continue
        here = prefix + ("[]" if via_list and tag is None else "")
        if tag is not None:
            here = prefix + f"[{tag}]"
            if here in surface.skip:
                continue
            yield Element(surface.name, here, "type", struct)
        if struct in seen:
            continue  # its fields are listed where it first appears
        seen.add(struct)
        yield from _fields(surface, struct, here, depth + 1, (*stack, struct), seen)


def _fields(
    surface: Surface, struct: Any, prefix: str, depth: int, stack: tuple[Any, ...], seen: set[Any]
) -> Iterator[Element]:
    tag_key = _tag_key(struct)
    for name, ann, required in struct_fields(struct):
        if name == tag_key and prefix:
            continue  # the discriminator is the type element itself
        path = f"{prefix}.{name}" if prefix else name
        if path in surface.skip or (
            not prefix and surface.only is not None and path not in surface.only
        ):
            continue
        yield Element(surface.name, path, "field", ann, required)
        if path in surface.opaque:
            continue
        yield from _walk(surface, ann, path, depth, stack, seen)


def elements(surface: Surface) -> list[Element]:
    """Every element of ``surface``, in a stable order (the SDK's own field order)."""
    root = surface.root
    seen: set[Any] = set()
    if is_struct(root):
        return list(_fields(surface, root, "", 0, (root,), seen))
    return list(_walk(surface, root, "", 0, (), seen))


@functools.cache
def _by_path(surface: Surface) -> dict[str, Element]:
    return {el.path: el for el in elements(surface)}


def resolve(surface: Surface, path: str) -> Any:
    """The annotation at ``path`` (as :func:`elements` names it)."""
    return _by_path(surface)[path].annotation


def _surfaces() -> tuple[Surface, ...]:
    from anthropic.types import Message, RawMessageStreamEvent
    from anthropic.types.beta.message_create_params import (
        MessageCreateParamsBase as BetaMessageCreateParamsBase,
    )
    from anthropic.types.message_create_params import MessageCreateParamsBase
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase
    from openai.types.responses import Response, ResponseStreamEvent
    from openai.types.responses.response_create_params import ResponseCreateParamsBase

    def opaque(*paths: str) -> frozenset[str]:
        return frozenset(paths)

    return (
        Surface(
            "anthropic.request",
            "anthropic",
            "request",
            MessageCreateParamsBase,
            opaque=opaque("metadata", "tools[custom].input_schema", "output_config.format"),
        ),
        Surface(
            "anthropic.beta_request",
            "anthropic",
            "request",
            BetaMessageCreateParamsBase,
            # the beta fields Claude Code sends (tests/fixtures/anthropic/*claude_code*.json)
            only=frozenset({"context_management"}),
        ),
        Surface("anthropic.response", "anthropic", "response", Message),
        Surface(
            "anthropic.stream",
            "anthropic",
            "stream",
            RawMessageStreamEvent,
            opaque=opaque("[message_start].message", "[content_block_start].content_block"),
        ),
        Surface(
            "chat.request",
            "chat",
            "request",
            CompletionCreateParamsBase,
            opaque=opaque(
                "metadata",
                "tools[function].function.parameters",
                "functions[].parameters",
                "response_format[json_schema].json_schema.schema",
                "logit_bias",
            ),
        ),
        Surface("chat.response", "chat", "response", ChatCompletion),
        Surface("chat.stream", "chat", "stream", ChatCompletionChunk),
        Surface(
            "responses.request",
            "responses",
            "request",
            ResponseCreateParamsBase,
            opaque=opaque(
                "metadata",
                "tools[function].parameters",
                "text.format[json_schema].schema",
                "prompt.variables",
            ),
        ),
        Surface(
            "responses.response",
            "responses",
            "response",
            Response,
            # the request's settings echoed back: not part of the answer a client reads
            opaque=opaque(
                "instructions",
                "tools",
                "tool_choice",
                "text",
                "reasoning",
                "prompt",
                "metadata",
                "conversation",
                "context_management",
            ),
        ),
        Surface(
            "responses.stream",
            "responses",
            "stream",
            ResponseStreamEvent,
            opaque=opaque(
                *(
                    f"[{t}].response"
                    for t in (
                        "response.created",
                        "response.in_progress",
                        "response.completed",
                        "response.failed",
                        "response.incomplete",
                        "response.queued",
                    )
                ),
                "[response.output_item.added].item",
                "[response.output_item.done].item",
                "[response.content_part.added].part",
                "[response.content_part.done].part",
            ),
        ),
    )


SURFACES: tuple[Surface, ...] = _surfaces()


if __name__ == "__main__":
    total = 0
    for s in SURFACES:
        els = elements(s)
        total += len(els)
        print(s.name, len(els), sum(e.kind == "type" for e in els))
    print("total", total)
