"""Settings of the backboard transport, read once from an upstream's config.

Theory of operation
===================

The gateway describes each upstream with :class:`apibridge.config.UpstreamConfig`; the
backboard-specific settings live in its ``options`` table. :func:`settings_from_config` reads
them into one frozen :class:`BackboardSettings`, checking each value and naming the option
when it is wrong. Values may be strings (they come from environment variables of the earlier
proxy: ``THREAD_TTL=3600``), so numbers, booleans and lists accept their string spellings.

=========================  =========================================================  =========
option                     meaning                                                    default
=========================  =========================================================  =========
``assistant_name``         the assistant found or created (per key) by name           apibridge
``assistant_prompt``       that assistant's own system prompt (new assistants only)   none
``memory``                 ``off``, ``Auto`` or ``Readonly``                          ``off``
``web_search``             ``Auto`` to let the model search the web on every turn     none
``thread_ttl``             seconds a conversation → thread mapping is kept            86400
``llm_provider``           provider for model names without ``provider/``             none
``model_map``              model → ``provider/name`` routing table                    empty
``fallback_tool_models``   model globs whose tools are described in the prompt        empty
``pool_size``              threads kept ready per key (0: none)                       2
``backoff``                first retry delay in seconds (doubles each attempt)        0.25
``backoff_max``            largest retry delay                                        2
``key_failures``           consecutive failures that make a key sit out               3
``key_cooldown``           seconds a failing key sits out                             60
``end_grace``              seconds to wait for more after ``run_ended``               1
``keepalive``              seconds of silence before a keep-alive event               15
``models_ttl``             seconds the model list is cached                           300
=========================  =========================================================  =========

Retries (count) and timeouts come from the upstream's own ``retries`` and ``timeouts``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

import attrs

from apibridge.config import ConfigError

__all__ = ["MEMORY_MODES", "BackboardSettings", "settings_from_config"]

#: Accepted ``memory`` spellings → what backboard is sent.
MEMORY_MODES: Mapping[str, str] = {
    "off": "off",
    "none": "off",
    "false": "off",
    "auto": "Auto",
    "on": "Auto",
    "readonly": "Readonly",
    "read-only": "Readonly",
}

_BOOL_WORDS: Mapping[str, bool] = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}

_KNOWN_OPTIONS: frozenset[str] = frozenset(
    {
        "assistant_name",
        "assistant_prompt",
        "memory",
        "web_search",
        "thread_ttl",
        "llm_provider",
        "model_map",
        "fallback_tool_models",
        "pool_size",
        "backoff",
        "backoff_max",
        "key_failures",
        "key_cooldown",
        "end_grace",
        "keepalive",
        "models_ttl",
    }
)


@attrs.frozen(kw_only=True)
class BackboardSettings:
    """Everything the backboard transport needs to know (see the module docstring)."""

    name: str
    base_url: str
    api_keys: tuple[str, ...] = attrs.field(repr=lambda keys: f"<{len(keys)} keys>")
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=lambda h: repr(sorted(h)))
    assistant_name: str = "apibridge"
    assistant_prompt: str | None = None
    memory: str = "off"
    web_search: str | None = None
    thread_ttl: float = 24 * 3600.0
    llm_provider: str | None = None
    model_map: Mapping[str, str] = attrs.field(factory=dict)
    fallback_tool_models: tuple[str, ...] = ()
    pool_size: int = 2
    retries: int = 2
    backoff: float = 0.25
    backoff_max: float = 2.0
    key_failures: int = 3
    key_cooldown: float = 60.0
    end_grace: float = 1.0
    keepalive: float = 15.0
    models_ttl: float = 300.0
    connect_timeout: float = 10.0
    first_byte_timeout: float = 600.0
    idle_timeout: float = 300.0

    def uses_fallback_tools(self, model: str) -> bool:
        """Whether ``model``'s tools go in the prompt instead of backboard's native tools."""
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.fallback_tool_models)

    def route_model(self, model: str) -> str:
        """``model`` as ``provider/name`` where the routing table or default provider says."""
        if model in self.model_map:
            return self.model_map[model]
        for pattern, target in self.model_map.items():
            if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(model, pattern):
                return target
        if "/" not in model and self.llm_provider:
            return f"{self.llm_provider}/{model}"
        return model


def _number(options: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = options.get(key, default)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{where}.{key}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where}.{key}: expected a number of at least 0")
    return float(value)


def _count(options: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = _number(options, key, default, where)
    if value != int(value):
        raise ConfigError(f"{where}.{key}: expected a whole number")
    return int(value)


def _text(options: Mapping[str, Any], key: str, where: str) -> str | None:
    value = options.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a string")
    return value


def _patterns(options: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = options.get(key, ())
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    if isinstance(value, list | tuple) and all(isinstance(p, str) for p in value):
        return tuple(value)
    raise ConfigError(f"{where}.{key}: expected a list of model names or globs")


def _model_map(options: Mapping[str, Any], where: str) -> dict[str, str]:
    value = options.get("model_map", {})
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{where}.model_map: expected a table of model → provider/name")
    for model, target in value.items():
        if "/" not in target:
            raise ConfigError(
                f"{where}.model_map.{model}: {target!r} is not of the form provider/name"
            )
    return dict(value)


def _memory(options: Mapping[str, Any], where: str) -> str:
    value = options.get("memory", "off")
    if isinstance(value, bool):
        value = "auto" if value else "off"
    if not isinstance(value, str) or value.lower() not in MEMORY_MODES:
        raise ConfigError(f"{where}.memory: expected off, Auto or Readonly, got {value!r}")
    return MEMORY_MODES[value.lower()]


def _web_search(options: Mapping[str, Any], where: str) -> str | None:
    value = options.get("web_search")
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in _BOOL_WORDS:
        value = _BOOL_WORDS[value.lower()]
    if isinstance(value, bool):
        return "Auto" if value else None
    if isinstance(value, str) and value.lower() == "auto":
        return "Auto"
    raise ConfigError(f"{where}.web_search: expected Auto, true or false")


def settings_from_config(config: Any) -> BackboardSettings:
    """The settings of an upstream (an :class:`apibridge.config.UpstreamConfig` or anything
    with its ``name``, ``base_url``, ``api_keys``, ``headers``, ``options``, and optionally
    ``retries`` and ``timeouts``)."""
    where = f"upstreams.{config.name}.options"
    options: Mapping[str, Any] = config.options or {}
    unknown = sorted(set(options) - _KNOWN_OPTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown backboard option {unknown[0]!r}")
    keys = tuple(k for k in config.api_keys if k)
    if not keys:
        raise ConfigError(f"upstreams.{config.name}.api_keys: backboard needs at least one key")
    retries = getattr(config, "retries", None)
    timeouts = getattr(config, "timeouts", None)
    return BackboardSettings(
        name=config.name,
        base_url=config.base_url.rstrip("/"),
        api_keys=keys,
        headers=dict(config.headers or {}),
        assistant_name=_text(options, "assistant_name", where) or "apibridge",
        assistant_prompt=_text(options, "assistant_prompt", where),
        memory=_memory(options, where),
        web_search=_web_search(options, where),
        thread_ttl=_number(options, "thread_ttl", 24 * 3600.0, where),
        llm_provider=_text(options, "llm_provider", where),
        model_map=_model_map(options, where),
        fallback_tool_models=_patterns(options, "fallback_tool_models", where),
        pool_size=_count(options, "pool_size", 2, where),
        retries=retries.attempts if retries is not None else 2,
        backoff=_number(options, "backoff", 0.25, where),
        backoff_max=_number(options, "backoff_max", 2.0, where),
        key_failures=max(1, _count(options, "key_failures", 3, where)),
        key_cooldown=_number(options, "key_cooldown", 60.0, where),
        end_grace=_number(options, "end_grace", 1.0, where),
        keepalive=max(0.05, _number(options, "keepalive", 15.0, where)),
        models_ttl=_number(options, "models_ttl", 300.0, where),
        connect_timeout=timeouts.connect if timeouts is not None else 10.0,
        first_byte_timeout=timeouts.first_byte if timeouts is not None else 600.0,
        idle_timeout=timeouts.idle if timeouts is not None else 300.0,
    )
