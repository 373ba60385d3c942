"""The cattrs converter that reads TOML tables into :mod:`apibridge.config`'s values.

Unknown keys are refused, scalars are checked strictly (TOML ``true`` is no port, ``"80"`` no
number); :func:`say_error` words a cattrs error the way a configuration message names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cattrs

__all__ = ["first_error", "say_error", "spec_profile", "strict_converter"]


def _scalar(kind: type, words: str) -> Any:
    def structure(value: Any, _: Any) -> Any:
        # bool is an int in Python; a port of `true` is a mistake worth naming
        if isinstance(value, bool) and kind is not bool:
            raise ValueError(f"expected {words}, got a boolean")
        if kind is float and isinstance(value, int):
            return value
        if not isinstance(value, kind):
            raise ValueError(f"expected {words}, got {type(value).__name__}")
        return value

    return structure


def _string_map(value: Any, _: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError("expected a table")
    if not all(isinstance(v, str) for v in value.values()):
        raise ValueError("values must be strings")
    return dict(value)


def _any_table(value: Any, _: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("expected a table")
    return dict(value)


def strict_converter() -> cattrs.Converter:
    """A converter that refuses unknown keys and checks scalars strictly."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(int, _scalar(int, "an integer"))
    converter.register_structure_hook(float, _scalar(float, "a number"))
    converter.register_structure_hook(str, _scalar(str, "a string"))
    converter.register_structure_hook(bool, _scalar(bool, "true or false"))
    # generic aliases are matched by equality (singledispatch takes classes only)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, str], _string_map)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, Any], _any_table)
    return converter


def first_error(group: BaseException) -> BaseException:
    """The first error of a (nested) exception group."""
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return group


def say_error(exc: BaseException, _: Any) -> str:
    """A cattrs error as a configuration message says it."""
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unknown setting {sorted(exc.extra_fields)[0]!r}"
    if isinstance(exc, KeyError):
        return "missing"
    return str(exc)


def spec_profile(spec: str) -> str | None:
    """The server profile an upstream spec ``format+profile=base_url`` names (``"chat+vllm=…"``
    → ``"vllm"``, the upstream's ``options.profile``); ``None`` without a ``+``, ``""`` for a
    ``+`` with nothing after it."""
    _, plus, profile = spec.strip().partition("=")[0].partition("+")
    return profile.strip() if plus else None
