"""What each Claude model accepts: output cap, sampling settings, thinking modes, effort words.

Theory of operation
-------------------
The Anthropic encoder asks :func:`claude_model` about the request's model: how many output
tokens to ask for when the client named none (:attr:`ClaudeModel.max_output`), which of
``temperature``, ``top_p``, ``top_k`` it takes (the newest models answer 400 to any of them),
which ``thinking`` types it takes (``enabled`` with a budget, ``adaptive``), which
``output_config.effort`` words, how thinking is turned off (:attr:`ClaudeModel.thinking_off`:
``disabled``, ``between_tools`` on Sonnet 5.5, or not at all on the always-thinking models) and
whether it accepts a forced tool choice (:attr:`ClaudeModel.forced_tools`).
:data:`CLAUDE_MODELS` is a table of ``fnmatch`` patterns over model names, first match wins; a name
it does not know gets :data:`UNKNOWN_CLAUDE` when it starts with ``claude-`` (a model newer than
this table: the newest family's behaviour) and :data:`UNKNOWN_MODEL` otherwise (another server
speaking the Messages API: the conservative settings apibridge always sent).

Where the figures come from (December 2026):

* model names: the ``ModelParam`` literal of the ``anthropic`` 2.17 SDK, plus the older names
  still served;
* ``output_config.effort`` words: ``OutputConfigParam.effort`` in that SDK (``low``,
  ``medium``, ``high``, ``xhigh``, ``max``), per model the ``EffortCapability`` of the Models
  API and Anthropic's "What's new in Claude 4.6 / Opus 4.7" pages (``max`` from 4.6, ``xhigh``
  from Opus 4.7, effort itself from Opus 4.5);
* max output: the "Max output" row of Anthropic's models overview and per-model pages
  (platform.claude.com/docs/en/models/…): 128K for Opus/Sonnet 4.6 and every later model, 64K
  for the 4.5 models, Sonnet 4 and Sonnet 3.7, 32K for Opus 4 / 4.1, 8K for the 3.5 models,
  4K for the 3 models;
* sampling and thinking: Anthropic's Opus 4.7 migration guide (``temperature``, ``top_p`` and
  ``top_k`` removed, ``budget_tokens`` removed: adaptive thinking only), which later models
  follow; adaptive thinking from Opus/Sonnet 4.6;
* turning thinking off and forcing tools: the "What's new" pages and migration guides of
  Fable 5 / Mythos 5 (``thinking: disabled`` returns 400, as on Mythos Preview), Fable 5.1 /
  Mythos 5.1 and Opus 5.5 (thinking cannot be disabled; ``tool_choice`` ``any`` or a named
  tool returns 400), Fable 5.2 / Mythos 5.2 (as 5.1), Sonnet 5.5 (``disabled`` returns 400,
  ``between_tools`` is its lowest setting, at effort ``high`` or below; forced tools 400),
  Opus 5 (``disabled`` accepted at effort ``high`` or below) and Haiku 5.5 (neither listed
  among its breaking changes).

A gateway upstream can override any field per model pattern (``options.claude_models`` in the
config, :func:`overrides_from_options`): the override's fields replace the built-in entry's.
Pure data and lookups, no I/O; a plain class so that mypyc compiles it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "CLAUDE_MODELS",
    "SAMPLING",
    "UNKNOWN_CLAUDE",
    "UNKNOWN_MODEL",
    "ClaudeModel",
    "claude_model",
    "overrides_from_options",
]

#: the sampling settings a model may accept.
SAMPLING: Final = ("temperature", "top_p", "top_k")
_EFFORTS: Final = ("low", "medium", "high", "xhigh", "max")
_THINKING: Final = ("enabled", "adaptive")
_THINKING_OFF: Final = ("disabled", "between_tools", "")


class ClaudeModel:
    """The capabilities of one Claude model (or family) that requests depend on."""

    __slots__ = ("efforts", "forced_tools", "max_output", "sampling", "thinking", "thinking_off")

    def __init__(
        self,
        *,
        max_output: int,
        sampling: tuple[str, ...] = SAMPLING,
        thinking: tuple[str, ...] = ("enabled",),
        efforts: tuple[str, ...] = (),
        thinking_off: str = "disabled",
        forced_tools: bool = True,
    ) -> None:
        #: the largest ``max_tokens`` the model takes; sent when the client named none.
        self.max_output = max_output
        #: which of ``temperature``, ``top_p``, ``top_k`` the model accepts.
        self.sampling = sampling
        #: the ``thinking.type`` values that turn thinking on: ``enabled`` (a budget),
        #: ``adaptive``; empty for a model that does not think.
        self.thinking = thinking
        #: the ``output_config.effort`` words it takes; empty when it has no effort setting.
        self.efforts = efforts
        #: the ``thinking.type`` that turns thinking (most nearly) off: ``disabled``,
        #: ``between_tools`` (thinking only between tool calls, at effort ``high`` or below),
        #: or empty for a model that always thinks.
        self.thinking_off = thinking_off
        #: whether ``tool_choice`` may force a tool (``any`` or a named tool).
        self.forced_tools = forced_tools

    def __repr__(self) -> str:
        return (
            f"ClaudeModel(max_output={self.max_output!r}, sampling={self.sampling!r}, "
            f"thinking={self.thinking!r}, efforts={self.efforts!r}, "
            f"thinking_off={self.thinking_off!r}, forced_tools={self.forced_tools!r})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClaudeModel) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def with_fields(self, fields: Mapping[str, Any]) -> ClaudeModel:
        """This entry with ``fields`` (already checked) replacing its own."""
        return ClaudeModel(
            max_output=fields.get("max_output_tokens", self.max_output),
            sampling=tuple(fields.get("sampling", self.sampling)),
            thinking=tuple(fields.get("thinking", self.thinking)),
            efforts=tuple(fields.get("efforts", self.efforts)),
            thinking_off=fields.get("thinking_off", self.thinking_off),
            forced_tools=fields.get("forced_tool_choice", self.forced_tools),
        )


#: the 5.x models: no sampling settings, adaptive thinking only, every effort word.
_FIVE: Final = ClaudeModel(
    max_output=128_000, sampling=(), thinking=("adaptive",), efforts=_EFFORTS
)
#: Fable 5.1 / 5.2, Mythos 5.1 / 5.2, Opus 5.5: thinking always on, no forced tool choice.
_NEWEST: Final = ClaudeModel(
    max_output=128_000,
    sampling=(),
    thinking=("adaptive",),
    efforts=_EFFORTS,
    thinking_off="",
    forced_tools=False,
)
#: Fable 5, Mythos 5, Mythos Preview: thinking always on, tools may be forced.
_ALWAYS_THINKS: Final = ClaudeModel(
    max_output=128_000, sampling=(), thinking=("adaptive",), efforts=_EFFORTS, thinking_off=""
)

#: model-name pattern → capabilities, first match wins (more specific patterns first).
CLAUDE_MODELS: Final[tuple[tuple[str, ClaudeModel], ...]] = (
    ("claude-fable-5-1*", _NEWEST),
    ("claude-fable-5-2*", _NEWEST),
    ("claude-mythos-5-1*", _NEWEST),
    ("claude-mythos-5-2*", _NEWEST),
    ("claude-opus-5-5*", _NEWEST),
    # Sonnet 5.5: thinking turned down to between tool calls only, no forced tool choice.
    (
        "claude-sonnet-5-5*",
        ClaudeModel(
            max_output=128_000,
            sampling=(),
            thinking=("adaptive",),
            efforts=_EFFORTS,
            thinking_off="between_tools",
            forced_tools=False,
        ),
    ),
    ("claude-fable-5*", _ALWAYS_THINKS),
    ("claude-mythos-*", _ALWAYS_THINKS),
    # Opus 5, Sonnet 5, Haiku 5.5 and Opus 4.7 / 4.8: no sampling settings, adaptive thinking
    # only (which may be disabled), every effort word.
    ("claude-opus-5*", _FIVE),
    ("claude-sonnet-5*", _FIVE),
    ("claude-haiku-5*", _FIVE),
    ("claude-opus-4-8*", _FIVE),
    ("claude-opus-4-7*", _FIVE),
    # 4.6: sampling settings, budget or adaptive thinking, effort up to max (no xhigh).
    (
        "claude-opus-4-6*",
        ClaudeModel(
            max_output=128_000,
            thinking=("adaptive", "enabled"),
            efforts=("low", "medium", "high", "max"),
        ),
    ),
    (
        "claude-sonnet-4-6*",
        ClaudeModel(
            max_output=128_000,
            thinking=("adaptive", "enabled"),
            efforts=("low", "medium", "high", "max"),
        ),
    ),
    # 4.5: budget thinking; effort on Opus 4.5 only.
    ("claude-opus-4-5*", ClaudeModel(max_output=64_000, efforts=("low", "medium", "high"))),
    ("claude-sonnet-4-5*", ClaudeModel(max_output=64_000)),
    ("claude-haiku-4-5*", ClaudeModel(max_output=64_000)),
    # 4.0 / 4.1 and 3.7: budget thinking, no effort.
    ("claude-opus-4-1*", ClaudeModel(max_output=32_000)),
    ("claude-opus-4-0*", ClaudeModel(max_output=32_000)),
    ("claude-opus-4-2025*", ClaudeModel(max_output=32_000)),
    ("claude-sonnet-4-0*", ClaudeModel(max_output=64_000)),
    ("claude-sonnet-4-2025*", ClaudeModel(max_output=64_000)),
    ("claude-3-7-sonnet*", ClaudeModel(max_output=64_000)),
    # 3.5 and 3: no thinking.
    ("claude-3-5-*", ClaudeModel(max_output=8192, thinking=())),
    ("claude-3-*", ClaudeModel(max_output=4096, thinking=())),
)

#: an unknown ``claude-*`` name: a model newer than this table, taken to behave as the newest
#: (Fable 5.2, Opus 5.5: thinking always on, no forced tool choice).
UNKNOWN_CLAUDE: Final = _NEWEST
#: an unknown name of another kind (a server that speaks the Messages API for its own models):
#: the settings apibridge always sent (``max_tokens`` 4096, sampling kept, budget thinking).
UNKNOWN_MODEL: Final = ClaudeModel(max_output=4096)

_CACHE: dict[str, ClaudeModel] = {}
_CACHE_MAX: Final = 1024


def claude_model(name: str, overrides: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> ClaudeModel:
    """The capabilities of model ``name``: the built-in entry, with the first override whose
    pattern matches replacing the fields it names."""
    model = _CACHE.get(name)
    if model is None:
        model = _builtin(name)
        if len(_CACHE) < _CACHE_MAX:
            _CACHE[name] = model
    for pattern, fields in overrides:
        if fnmatch.fnmatchcase(name, pattern):
            return model.with_fields(fields)
    return model


def _builtin(name: str) -> ClaudeModel:
    for pattern, model in CLAUDE_MODELS:
        if fnmatch.fnmatchcase(name, pattern):
            return model
    return UNKNOWN_CLAUDE if name.startswith("claude-") else UNKNOWN_MODEL


def _words(value: Any, allowed: tuple[str, ...], where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise ValueError(f"{where}: expected a list of words from {', '.join(allowed)}")
    unknown = [w for w in value if w not in allowed]
    if unknown:
        raise ValueError(f"{where}: {', '.join(unknown)} not among {', '.join(allowed)}")
    return tuple(value)


def overrides_from_options(
    value: Any, where: str = "options.claude_models"
) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    """Check an upstream's ``claude_models`` table (pattern → fields) and return it as
    overrides for :func:`claude_model`. Raises :class:`ValueError` naming the bad field."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a table of model patterns")
    out: list[tuple[str, Mapping[str, Any]]] = []
    for pattern, fields in value.items():
        here = f"{where}.{pattern}"
        if not isinstance(fields, Mapping):
            raise ValueError(f"{here}: expected a table")
        checked: dict[str, Any] = {}
        for key, field in fields.items():
            if key == "max_output_tokens":
                if isinstance(field, bool) or not isinstance(field, int) or field < 1:
                    raise ValueError(f"{here}.max_output_tokens: expected a positive integer")
                checked[key] = field
            elif key == "sampling":
                checked[key] = _words(field, SAMPLING, f"{here}.sampling")
            elif key == "thinking":
                checked[key] = _words(field, _THINKING, f"{here}.thinking")
            elif key == "efforts":
                checked[key] = _words(field, _EFFORTS, f"{here}.efforts")
            elif key == "thinking_off":
                if field not in _THINKING_OFF:
                    raise ValueError(
                        f'{here}.thinking_off: expected "disabled", "between_tools" or "" '
                        "(the model always thinks)"
                    )
                checked[key] = field
            elif key == "forced_tool_choice":
                if not isinstance(field, bool):
                    raise ValueError(f"{here}.forced_tool_choice: expected true or false")
                checked[key] = field
            else:
                raise ValueError(
                    f"{here}.{key}: not one of max_output_tokens, sampling, thinking, efforts, "
                    "thinking_off, forced_tool_choice"
                )
        out.append((str(pattern), checked))
    return tuple(out)
