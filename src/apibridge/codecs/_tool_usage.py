"""Hosted-tool usage counts: Anthropic ``usage.server_tool_use`` ⇄ Responses ``tool_usage``.

Theory of operation
-------------------
Both APIs count the requests their hosted tools made, apart from the token usage: Anthropic in
``usage.server_tool_use`` (``web_search_requests``, ``web_fetch_requests``; ``anthropic`` 2.17),
Responses in the answer's ``tool_usage`` (``web_search.num_requests``, ``image_gen`` tokens;
``openai`` 3.60). Each decoder keeps its own object in its extras as before; the other
encoder reads it from there and writes its own: in a non-streamed answer, and in a stream's
last event (Anthropic ``message_delta`` ``usage.server_tool_use`` ⇄ Responses
``response.completed`` ``tool_usage``). Web searches cross; web fetches and image generation
have no counterpart and are reported when not zero. Chat has no field for either (reported).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs._context import Context

__all__ = ["server_tool_use_of", "tool_usage_of"]

_ANTHROPIC: Final = "anthropic"
_RESPONSES: Final = "responses"
_NONE: Final[Mapping[str, Any]] = {}


def _entry(extras: Mapping[str, Mapping[str, Any]], fmt: str) -> Mapping[str, Any]:
    found = extras.get(fmt) if extras else None
    return found if isinstance(found, Mapping) else _NONE


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _without(
    extras: Mapping[str, Mapping[str, Any]], fmt: str, key: str
) -> Mapping[str, Mapping[str, Any]]:
    own = _entry(extras, fmt)
    rest = {k: v for k, v in own.items() if k != key}
    out = {k: v for k, v in extras.items() if k != fmt}
    if rest:
        out[fmt] = rest
    return out


def server_tool_use_of(
    extras: Mapping[str, Mapping[str, Any]], ctx: Context, where: str
) -> tuple[Mapping[str, Mapping[str, Any]], dict[str, int] | None]:
    """A Responses answer's ``tool_usage`` (in ``extras``) as Anthropic's
    ``usage.server_tool_use``, and the extras without it; image generation is reported."""
    usage = _entry(extras, _RESPONSES).get("tool_usage")
    if not isinstance(usage, Mapping):
        return extras, None
    web = usage.get("web_search")
    searches = _count(web.get("num_requests")) if isinstance(web, Mapping) else 0
    image = usage.get("image_gen")
    if isinstance(image, Mapping) and _count(image.get("total_tokens")):
        ctx.lose(f"{where}.tool_usage.image_gen", "anthropic counts no image generation")
    found = {"web_search_requests": searches, "web_fetch_requests": 0}
    return _without(extras, _RESPONSES, "tool_usage"), found


def tool_usage_of(
    extras: Mapping[str, Mapping[str, Any]], ctx: Context, where: str
) -> tuple[Mapping[str, Mapping[str, Any]], dict[str, Any] | None]:
    """An Anthropic answer's ``usage.server_tool_use`` (in the usage's ``extras``) as a
    Responses ``tool_usage``, and the extras without it; web fetches are reported."""
    used = _entry(extras, _ANTHROPIC).get("server_tool_use")
    if not isinstance(used, Mapping):
        return extras, None
    if _count(used.get("web_fetch_requests")):
        ctx.lose(f"{where}.server_tool_use.web_fetch_requests", "responses counts no web fetches")
    found = {
        "web_search": {"num_requests": _count(used.get("web_search_requests"))},
        "image_gen": {
            "input_tokens": 0,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
            "output_tokens": 0,
            "total_tokens": 0,
        },
    }
    return _without(extras, _ANTHROPIC, "server_tool_use"), found
