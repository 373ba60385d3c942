"""Apply a server profile (:mod:`apibridge.codecs._profiles`) to an encoded upstream request.

Theory of operation. The codecs encode as they always do (what every compatible server
accepts); then, when ``ctx.profile`` names a family, :func:`apply_chat_profile` or
:func:`apply_anthropic_profile` rewrites the body in place so that it only uses what that
server accepts: a field it refuses or ignores is dropped, a shape it lacks is replaced by an
equivalent one where there is one (``allowed_tools`` → the allowed tools alone with the mode;
a ``json_schema`` response format → ``json_object``), and every change that loses something
the client asked for is a ``ctx.lose``. Unknown facts (``None``) change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs._context import Context
from apibridge.codecs._profiles import Profile

__all__ = ["apply_anthropic_profile", "apply_chat_profile"]

_MAX_KEYS: Final = ("max_tokens", "max_completion_tokens")


def apply_chat_profile(out: dict[str, Any], ctx: Context, hints: Mapping[str, Any]) -> None:
    """Make the Chat request ``out`` fit ``ctx.profile``; ``hints`` are the request's Chat
    extras (what a Chat client sent itself: its ``stream_options``, its output-limit
    spelling)."""
    profile = ctx.profile
    if profile is None or profile.format != "chat":
        return
    name = profile.title
    keys = profile.max_tokens_keys
    if keys:
        if keys[0] != "max_tokens" and "max_tokens" in out and "_max_tokens_key" not in hints:
            out.setdefault(keys[0], out.pop("max_tokens"))  # the spelling the server prefers
        for key in _MAX_KEYS:
            if key in out and key not in keys:
                value = out.pop(key)
                if keys[0] in out:
                    ctx.lose(key, f"{name} takes {keys[0]} only (also sent)", "dropped")
                else:
                    out[keys[0]] = value  # the same limit, the spelling the server takes
    if profile.reasoning_efforts == () and "reasoning_effort" in out:
        out.pop("reasoning_effort")
        ctx.lose("reasoning.effort", f"{name} takes no reasoning_effort", "dropped")
    _tool_choice(out, profile, ctx)
    if profile.parallel_tool_calls is False and "parallel_tool_calls" in out:
        out.pop("parallel_tool_calls")
        ctx.lose("parallel_tool_calls", f"{name} takes no parallel_tool_calls", "dropped")
    if profile.tool_strict is False:
        for k, tool in enumerate(out.get("tools") or ()):
            function = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(function, dict) and function.pop("strict", None) is True:
                ctx.lose(
                    f"tools[{k}].strict", f"{name} does not enforce strict tool schemas", "dropped"
                )
    if profile.include_usage is False and "stream_options" in out:
        out.pop("stream_options")
        if "stream_options" in hints:
            ctx.lose("stream_options", f"{name} takes no stream_options", "dropped")
    _response_format(out, profile, ctx)
    for key in profile.rejects:
        if key in out:
            out.pop(key)
            ctx.lose(key, f"{name} refuses {key}", "dropped")
    if profile.fields is not None:
        for key in [k for k in out if k not in profile.fields]:
            out.pop(key)
            ctx.lose(key, f"{name} does not take {key}", "dropped")
    messages = out.get("messages")
    if isinstance(messages, list):
        _messages(messages, profile, ctx)


def _tool_choice(out: dict[str, Any], profile: Profile, ctx: Context) -> None:
    choice = out.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    names: list[str] = []
    mode = "required"
    if kind == "allowed_tools" and profile.allowed_tools is False:
        inner = choice.get("allowed_tools")
        if not isinstance(inner, dict):
            return
        mode = "required" if inner.get("mode") == "required" else "auto"
        for entry in inner.get("tools") or ():
            spec = entry.get(str(entry.get("type"))) if isinstance(entry, dict) else None
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                names.append(spec["name"])
        what = "an allowed_tools tool choice"
    elif kind == "function" and profile.named_tool_choice is False:
        spec = choice.get("function")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            return
        names.append(spec["name"])
        what = "a named tool choice"
    else:
        return
    tools = out.get("tools")
    if isinstance(tools, list):
        kept = [t for t in tools if _tool_name(t) in names or _tool_name(t) is None]
        if kept:
            out["tools"] = kept
    out["tool_choice"] = mode
    ctx.lose(
        "tool_choice",
        f"{profile.title} takes no {what}",
        f"sent as {mode!r} with only the tools it allowed",
    )


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, dict):
        return None
    spec = tool.get(str(tool.get("type", "function")))
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) else None


def _response_format(out: dict[str, Any], profile: Profile, ctx: Context) -> None:
    kinds = profile.response_formats
    fmt = out.get("response_format")
    if kinds is None or not isinstance(fmt, dict):
        return
    kind = fmt.get("type")
    if kind == "text" or kind in kinds:
        return
    if kind == "json_schema" and "json_object" in kinds:
        out["response_format"] = {"type": "json_object"}
        ctx.lose(
            "output_format.schema",
            f"{profile.title} takes no json_schema response format",
            "sent as json_object: JSON, the schema not enforced",
        )
    elif kind == "json_object" and "json_schema" in kinds:
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": {"type": "object"}},
        }
    else:
        out.pop("response_format")
        ctx.lose("output_format", f"{profile.title} takes no {kind} response format", "dropped")


def _messages(messages: list[Any], profile: Profile, ctx: Context) -> None:
    for k, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        where = f"messages[{k}]"
        for key in profile.message_rejects:
            if key in message:
                message.pop(key)
                ctx.lose(f"{where}.{key}", f"{profile.title} refuses messages[].{key}", "dropped")
        content = message.get("content")
        if not isinstance(content, list):
            continue
        role = message.get("role")
        if role == "tool" and profile.tool_result_parts is False:
            texts = []
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "text":
                    texts.append(str(part.get("text", "")))
                else:
                    ctx.lose(
                        f"{where}.content[{j}]",
                        f"{profile.title} takes text tool results only",
                        "dropped",
                    )
            message["content"] = "\n".join(texts)
        elif role == "user" and profile.image_input is False:
            kept = []
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "image_url":
                    ctx.lose(f"{where}.content[{j}]", f"{profile.title} takes no images", "dropped")
                else:
                    kept.append(part)
            if len(kept) != len(content):
                message["content"] = kept or ""


def apply_anthropic_profile(out: dict[str, Any], ctx: Context) -> None:
    """Make the Anthropic Messages request ``out`` fit ``ctx.profile`` (a server that speaks
    the Messages API without being Anthropic's)."""
    profile = ctx.profile
    if profile is None or profile.format != "anthropic":
        return
    name = profile.title
    for key in profile.ignores:
        if key in out:
            out.pop(key)
            ctx.lose(key, f"{name} ignores {key}", "dropped")
    choice = out.get("tool_choice")
    if (
        profile.parallel_control is False
        and isinstance(choice, dict)
        and choice.get("disable_parallel_tool_use") is not None
    ):
        choice.pop("disable_parallel_tool_use")
        ctx.lose("parallel_tool_calls", f"{name} ignores disable_parallel_tool_use", "dropped")
    blocks = profile.blocks
    messages = out.get("messages")
    if blocks is None or not isinstance(messages, list):
        return
    for k, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        kept = []
        for j, block in enumerate(content):
            kind = block.get("type") if isinstance(block, dict) else None
            if isinstance(kind, str) and kind not in blocks:
                ctx.lose(f"messages[{k}].content[{j}]", f"{name} takes no {kind} blocks", "dropped")
            else:
                kept.append(block)
        if len(kept) != len(content):
            message["content"] = kept or [{"type": "text", "text": "(omitted)"}]
