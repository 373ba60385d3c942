"""Upstream options the handler checks once, at start-up: prompt-cache markers and Claude
model overrides (:func:`check_config` checks them, with the profiles, without building a
handler: ``apibridge serve --workers N`` calls it first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from apibridge._gateway._profiles import Profiles
from apibridge.codecs._claude_models import overrides_from_options
from apibridge.config import ConfigError, GatewayConfig

__all__ = ["OPENAI_API_HOST", "cache_breakpoints", "check_config", "claude_model_overrides"]


#: the host whose Chat and Responses endpoints take explicit cache breakpoints by default.
OPENAI_API_HOST: Final = "api.openai.com"


def check_config(config: GatewayConfig) -> None:
    """Raise :class:`~apibridge.config.ConfigError` for an upstream option the handler would
    refuse, without building one (no I/O): ``apibridge serve --workers N`` checks first, so
    that a typo is one clear error, not every worker failing in turn."""
    Profiles(config)
    cache_breakpoints(config)
    claude_model_overrides(config)


def cache_breakpoints(config: GatewayConfig) -> dict[str, bool | None]:
    """Each upstream's ``options.cache_breakpoints``, checked; unset, it is on for a Chat or
    Responses upstream at the OpenAI API's own host (which documents the markers) and the
    format's default elsewhere (``None``: on for Anthropic, off for other OpenAI-format
    servers, which may reject fields they do not know)."""
    out: dict[str, bool | None] = {}
    for name, upstream in config.upstreams.items():
        value = upstream.options.get("cache_breakpoints")
        if value is None:
            host = urlsplit(upstream.base_url).hostname
            if upstream.format in ("chat", "responses") and host == OPENAI_API_HOST:
                value = True
        elif not isinstance(value, bool):
            raise ConfigError(f"upstreams.{name}.options.cache_breakpoints: expected true or false")
        out[name] = value
    return out


def claude_model_overrides(
    config: GatewayConfig,
) -> dict[str, tuple[tuple[str, Mapping[str, Any]], ...]]:
    """Each upstream's ``options.claude_models`` (pattern → capability fields), checked."""
    out = {}
    for name, upstream in config.upstreams.items():
        table = upstream.options.get("claude_models")
        if table is None:
            continue
        try:
            out[name] = overrides_from_options(table, f"upstreams.{name}.options.claude_models")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return out
