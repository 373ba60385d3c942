"""Which server profile each upstream gets (:mod:`apibridge.codecs._profiles`).

Theory of operation. ``options.profile`` names a family (``"vllm"``), ``"generic"`` (no
profile, no detection) or ``"auto"``. Unset, a known host name decides (``api.deepseek.com``
→ ``deepseek``, no request at all) and any other host is ``generic``: the gateway sends
nothing to an upstream that its clients did not ask for. ``"auto"`` adds, for a Chat
upstream on another host, the ``owned_by`` of its ``GET /v1/models`` entries (vLLM answers
``"vllm"``, SGLang ``"sglang"``, llama.cpp ``"llamacpp"``, Ollama ``"library"``, LM Studio
``"organization_owner"``). That list is fetched once per upstream, on its first request
(concurrent first requests wait for the one fetch), and the answer is kept; a failed or
unhelpful fetch means ``generic``, kept too, and never fails the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import anyio

from apibridge.codecs._profiles import (
    ANTHROPIC_PROFILES,
    CHAT_PROFILES,
    Profile,
    profile_for_host,
    profile_for_owner,
)
from apibridge.config import ConfigError, GatewayConfig, UpstreamConfig

__all__ = ["OPENAI_EFFORTS", "Profiles", "profile_tables"]

#: every ``reasoning_effort`` word of the OpenAI API (``ReasoningEffort`` in openai 3.63).
OPENAI_EFFORTS: Final = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def profile_tables() -> Mapping[str, Mapping[str, Profile]]:
    """The profile tables by upstream format."""
    return {"chat": CHAT_PROFILES, "anthropic": ANTHROPIC_PROFILES}


class Profiles:
    """Each upstream's profile: fixed at start-up where the config or the host name says,
    detected once from ``GET /v1/models`` otherwise (see the module docstring)."""

    def __init__(self, config: GatewayConfig) -> None:
        #: upstream name → its profile (``None``: generic), once known.
        self.known: dict[str, Profile | None] = {}
        #: upstream name → its ``options.reasoning_efforts``, checked (``None``: unset).
        self.own_efforts = _reasoning_efforts(config)
        self._locks: dict[str, anyio.Lock] = {}
        tables = profile_tables()
        for name, upstream in config.upstreams.items():
            value = upstream.options.get("profile")
            table = tables.get(upstream.format)
            where = f"upstreams.{name}.options.profile"
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{where}: expected a string")
            if table is None:
                if value is not None:  # its transport would refuse the option per request
                    raise ConfigError(
                        f"{where}: {upstream.format} upstreams have no profiles (only chat "
                        "and anthropic upstreams have)"
                    )
                self.known[name] = None
            elif value is None or value == "auto":
                host = profile_for_host(urlsplit(upstream.base_url).hostname, upstream.format)
                if host is not None:
                    self.known[name] = table[host]
                elif value is None or upstream.format != "chat":
                    self.known[name] = None  # detected on the first request only for "auto"
            elif value in table:
                self.known[name] = None if value == "generic" else table[value]
            else:
                raise ConfigError(
                    f"{where}: {value!r} is not one of auto, {', '.join(table)} "
                    f"(the {upstream.format} profiles)"
                )

    def efforts(self, name: str, profile: Profile | None) -> tuple[str, ...] | None:
        """The ``reasoning_effort`` words upstream ``name`` takes: its own option, else its
        profile's (every OpenAI word for the OpenAI API, ``low``, ``medium``, ``high`` for
        vLLM …), else ``None``: those every compatible server accepts."""
        own = self.own_efforts.get(name)
        if own is not None:
            return own
        return (profile.reasoning_efforts or None) if profile is not None else None

    async def get(self, upstream: UpstreamConfig, transport: Any) -> Profile | None:
        """``upstream``'s profile, detected on the first call where it must be."""
        name = upstream.name
        if name in self.known:
            return self.known[name]
        lock = self._locks.setdefault(name, anyio.Lock())
        async with lock:
            if name not in self.known:  # the first request here fetches, the others wait
                self.known[name] = await _detect(transport)
        return self.known[name]


async def _detect(transport: Any) -> Profile | None:
    """The Chat profile the upstream's model list names (``owned_by``), ``None`` when it
    names none or cannot be had: detection never fails a request."""
    lister = getattr(transport, "list_models", None)
    if lister is None:
        return None
    try:
        models = await lister()
    except Exception:  # any failure means generic: a request is never failed by detection
        return None
    owners = [m["owned_by"] for m in models if isinstance(m.get("owned_by"), str)]
    family = profile_for_owner(owners)
    return None if family is None else CHAT_PROFILES[family]


def _reasoning_efforts(config: GatewayConfig) -> dict[str, tuple[str, ...] | None]:
    """Each upstream's ``options.reasoning_efforts``, checked (``None`` where unset)."""
    out: dict[str, tuple[str, ...] | None] = {}
    for name, upstream in config.upstreams.items():
        value = upstream.options.get("reasoning_efforts")
        if value is None:
            out[name] = None
            continue
        where = f"upstreams.{name}.options.reasoning_efforts"
        if not isinstance(value, list) or not value or not all(isinstance(w, str) for w in value):
            raise ConfigError(f"{where}: expected a list of words from {', '.join(OPENAI_EFFORTS)}")
        unknown = [w for w in value if w not in OPENAI_EFFORTS]
        if unknown:
            raise ConfigError(
                f"{where}: {', '.join(unknown)} not among {', '.join(OPENAI_EFFORTS)}"
            )
        out[name] = tuple(w for w in OPENAI_EFFORTS if w in value)  # in increasing order
    return out
