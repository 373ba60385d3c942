"""``GET /v1/models`` and ``GET /v1/models/{id}``: the models this gateway serves.

Theory of operation
-------------------
The list is what a client may put in ``model`` and have routed:

* every exact route pattern (``claude-sonnet-4`` → some upstream), named as the client writes
  it;
* for an upstream reached through a glob route without a rename (``*``, ``gpt-*``), the
  upstream's own model list (``transport.list_models()``, fetched concurrently), keeping the
  ids that the routes really send to that upstream under the same name.

The answer has Anthropic's shape (``type: model``, ``display_name``, RFC 3339 ``created_at``,
``has_more``/``first_id``/``last_id``) when the request carries ``anthropic-version``,
Gemini's (``models`` of ``name: models/x``, ``displayName``, ``supportedGenerationMethods``;
a Gemini upstream's own entry as it listed it) on Gemini's paths or with a Google key, and
OpenAI's (``object: list`` of ``object: model`` with ``created`` and ``owned_by``) otherwise.
An upstream whose list cannot be fetched just contributes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio

from apibridge.config import GatewayConfig, UpstreamConfig
from apibridge.transports import Transport

__all__ = ["model_entry", "model_list"]

TransportFor = Callable[[UpstreamConfig], Transport]


def _iso(created: Any) -> str:
    if isinstance(created, str):
        return created
    seconds = created if isinstance(created, int | float) else 0
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return 0
    return 0


async def _collect(
    config: GatewayConfig, transport_for: TransportFor
) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Model id → (upstream name, what is known about it)."""
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for route in config.routes:
        if not route.is_glob:
            found.setdefault(route.pattern, (route.upstream, {}))
    listed = {r.upstream for r in config.routes if r.is_glob and r.rename is None}
    results: dict[str, Sequence[Mapping[str, Any]]] = {}

    async def fetch(name: str) -> None:
        transport = transport_for(config.upstreams[name])
        lister = getattr(transport, "list_models", None)
        if lister is not None:
            results[name] = await lister()

    async with anyio.create_task_group() as group:
        for name in sorted(listed):
            group.start_soon(fetch, name)
    for name in sorted(listed):
        for model in results.get(name, ()):
            model_id = model["id"]
            routed = config.route(model_id)
            if routed is not None and routed[0].name == name and routed[1] == model_id:
                found.setdefault(model_id, (name, model))
    return found


#: what the gateway serves for every model a Gemini client lists.
GEMINI_METHODS = ("generateContent", "streamGenerateContent", "countTokens")


def _gemini_entry(model_id: str, info: Mapping[str, Any]) -> dict[str, Any]:
    own = info.get("gemini")
    if isinstance(own, Mapping):  # a Gemini upstream's, under the same name
        return {**own, "name": "models/" + model_id}
    return {
        "name": "models/" + model_id,
        "displayName": str(info.get("display_name") or model_id),
        "supportedGenerationMethods": list(GEMINI_METHODS),
    }


def _entry(model_id: str, upstream: str, info: Mapping[str, Any], shape: str) -> dict[str, Any]:
    if shape == "gemini":
        return _gemini_entry(model_id, info)
    created = info.get("created", info.get("created_at", 0))
    if shape == "anthropic":
        return {
            "type": "model",
            "id": model_id,
            "display_name": str(info.get("display_name") or model_id),
            "created_at": _iso(created),
        }
    return {"id": model_id, "object": "model", "created": _epoch(created), "owned_by": upstream}


async def model_list(
    config: GatewayConfig, transport_for: TransportFor, *, shape: str
) -> dict[str, Any]:
    """The ``/v1/models`` body in ``shape`` (``anthropic``, ``gemini``, or anything else for
    OpenAI)."""
    found = await _collect(config, transport_for)
    data = [_entry(m, up, info, shape) for m, (up, info) in found.items()]
    if shape == "gemini":
        return {"models": data}
    if shape == "anthropic":
        return {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    return {"object": "list", "data": data}


async def model_entry(
    config: GatewayConfig, transport_for: TransportFor, model_id: str, *, shape: str
) -> dict[str, Any] | None:
    """One model's entry, or ``None`` when no route serves ``model_id``."""
    routed = config.route(model_id)
    if routed is None:
        return None
    found = await _collect(config, transport_for)
    upstream, info = found.get(model_id, (routed[0].name, {}))
    return _entry(model_id, upstream, info, shape)
