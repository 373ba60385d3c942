"""Canonical requests → one backboard message turn (``POST /threads/messages``).

Theory of operation
===================

backboard is *stateful*: a thread keeps the conversation, so a message request carries only
one new turn (``content``) plus per-turn settings. Which turn is new is the transport's
decision (it maps conversations to threads); this module encodes whatever canonical request
it is given:

* one user turn → ``content`` is its text, its images and documents become ``files``;
* a longer transcript (a new thread that must learn the prior history) → ``content`` is the
  history flattened under ``[Conversation History]`` followed by ``[Current Message]``.

Per-turn settings map as follows; everything else is reported with ``ctx.lose``:

===========================  =================================================================
canonical                    backboard message request
===========================  =================================================================
``system`` (+ later system)  ``system_prompt`` (per turn, not persisted: sent on every turn)
function ``tools``           ``tools`` in OpenAI function format (per turn)
free-form (custom) tools     a function taking one string ``input``; calls come back as
                             free-form calls (a grammar is described, not enforced)
server tool ``web_search``   ``web_search: "Auto"``
``reasoning``                ``thinking``: ``{"budget_tokens"}``, ``{"effort"}`` or ``{}``
``model`` ``provider/name``  ``llm_provider`` + ``model_name`` (provider guessed from the
                             name's prefix when there is no ``provider/``)
``output_format`` JSON       ``json_output: true`` (a schema is described in the prompt)
``metadata``, ``user``       ``metadata``
===========================  =================================================================

Tool results go back through :func:`encode_tool_outputs` (``submit-tool-outputs``), as text.
Deliberately lossy: earlier reasoning, server-tool blocks and file links cannot be replayed
into a thread. backboard is upstream only: :func:`decode_request` refuses.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from apibridge._json import dumps_str
from apibridge.codecs._context import Context
from apibridge.codecs._custom_tools import describe, input_schema
from apibridge.codecs._server_text import sent_as_text
from apibridge.codecs.backboard._wire import FORMAT, upstream_only
from apibridge.errors import UnsupportedFeature
from apibridge.model import (
    DocumentPart,
    ImagePart,
    Message,
    ReasoningConfig,
    RedactedThinkingPart,
    RefusalPart,
    Request,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "CURRENT_HEADER",
    "EFFORTS",
    "EXTENSIONS",
    "HISTORY_HEADER",
    "PROVIDER_PREFIXES",
    "ROLE_LABELS",
    "decode_request",
    "encode_request",
    "encode_tool_outputs",
    "split_model",
]

HISTORY_HEADER = "[Conversation History]"
CURRENT_HEADER = "[Current Message]"

#: Speaker labels of the flattened history.
ROLE_LABELS: Mapping[str, str] = {
    "user": "User",
    "assistant": "Assistant",
    "system": "System",
    "developer": "Developer",
}

#: Model-name prefixes → backboard ``llm_provider``, for model ids without ``provider/``.
PROVIDER_PREFIXES: tuple[tuple[str, str], ...] = (
    ("claude", "anthropic"),
    ("gpt-", "openai"),
    ("chatgpt", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("gemini", "google"),
    ("grok", "xai"),
    ("command", "cohere"),
)

#: canonical effort → backboard ``thinking.effort`` (backboard knows low/medium/high).
EFFORTS: Mapping[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}

#: Media type → file extension for ``files`` attachments.
EXTENSIONS: Mapping[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/csv": "csv",
    "text/html": "html",
    "application/json": "json",
}

_CODEC_FIELDS: frozenset[str] = frozenset(
    {"content", "files", "system_prompt", "tools", "thinking", "llm_provider", "model_name"}
)


def split_model(model: str) -> tuple[str | None, str]:
    """``provider/name`` → ``(provider, name)``; a bare name gets a provider from its prefix.

    Only the first ``/`` splits, so ``openrouter/anthropic/claude-3.5`` is provider
    ``openrouter`` with model ``anthropic/claude-3.5``. Unknown bare names give ``None``:
    backboard then uses its own default provider.
    """
    provider, slash, name = model.partition("/")
    if slash and provider and name:
        return provider, name
    lowered = model.lower()
    for prefix, guess in PROVIDER_PREFIXES:
        if lowered.startswith(prefix):
            return guess, model
    return None, model


class _Files:
    """Attachments collected while rendering, named in order of appearance."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, media_type: str, data: str, filename: str | None, stem: str) -> str:
        name = filename or f"{stem}-{len(self.items) + 1}.{EXTENSIONS.get(media_type, 'bin')}"
        self.items.append({"filename": name, "content_type": media_type, "data": data})
        return name


def _data_url(url: str) -> tuple[str, str] | None:
    """``data:<type>;base64,<data>`` → ``(type, data)``; anything else → ``None``."""
    if not url.startswith("data:"):
        return None
    head, comma, data = url[5:].partition(",")
    if not comma or not head.endswith(";base64"):
        return None
    return head[: -len(";base64")] or "application/octet-stream", data


def _attach(part: ImagePart | DocumentPart, where: str, files: _Files, ctx: Context) -> str | None:
    """Attach ``part`` as a file; its file name, or ``None`` when it cannot be attached."""
    stem = "image" if isinstance(part, ImagePart) else "document"
    if part.data is not None:
        return files.add(
            part.media_type or "application/octet-stream",
            part.data,
            getattr(part, "filename", None),
            stem,
        )
    if part.url is not None:
        inline = _data_url(part.url)
        if inline is not None:
            return files.add(inline[0], inline[1], getattr(part, "filename", None), stem)
        ctx.lose(where, "backboard takes attached files, not links", "sent as a link in the text")
        return None
    if isinstance(part, DocumentPart) and part.text is not None:
        data = base64.b64encode(part.text.encode()).decode()
        return files.add(part.media_type or "text/plain", data, part.filename, stem)
    ctx.lose(where, "a file id of another provider means nothing to backboard")
    return None


def _tool_names(messages: Sequence[Message]) -> dict[str, str]:
    """Tool-call id → tool name, so that a result can name the tool it answers."""
    return {p.id: p.name for m in messages for p in m.content if isinstance(p, ToolCallPart)}


def _render_part(
    part: Any,
    where: str,
    names: Mapping[str, str],
    files: _Files,
    ctx: Context,
    *,
    history: bool,
) -> str | None:
    """One content part as prompt text (``None`` when it contributes no text)."""
    if isinstance(part, TextPart | RefusalPart):
        return part.text
    if isinstance(part, ImagePart | DocumentPart):
        name = _attach(part, where, files, ctx)
        if name is None:
            link = part.url or getattr(part, "file_id", None)
            return f"[file: {link}]" if link else None
        # In one plain turn the attachment speaks for itself; in a replayed history the
        # marker keeps the file at its place in the conversation.
        return f"[attached file: {name}]" if history else None
    if isinstance(part, ToolCallPart):
        return f"[Tool call {part.name} (id {part.id}) with arguments {part.arguments}]"
    if isinstance(part, ToolResultPart):
        label = names.get(part.call_id, "a tool")
        status = " (error)" if part.is_error else ""
        pieces = []
        for j, inner in enumerate(part.content):
            text = _render_part(inner, f"{where}.content[{j}]", names, files, ctx, history=True)
            if text:
                pieces.append(text)
        return f"[Tool result{status} for {label} (id {part.call_id})]\n" + "\n".join(pieces)
    if isinstance(part, ThinkingPart | RedactedThinkingPart):
        ctx.lose(where, "earlier reasoning cannot be replayed into a backboard thread")
        return None
    if isinstance(part, ServerToolPart):
        flat = sent_as_text(part, FORMAT, ctx, where)  # the text a server tool's block holds
        if flat is None:
            ctx.lose(where, f"server tool block {part.kind} has no backboard equivalent")
            return None
        if any(not isinstance(p, TextPart) for p in flat):
            ctx.lose(f"{where}.image", "a screenshot in the history has no backboard form")
        return "\n".join(p.text for p in flat if isinstance(p, TextPart))
    ctx.lose(where, f"{type(part).__name__} has no backboard equivalent")
    return None


def _render_message(
    message: Message,
    where: str,
    names: Mapping[str, str],
    files: _Files,
    ctx: Context,
    *,
    history: bool,
) -> str:
    pieces = []
    for j, part in enumerate(message.content):
        text = _render_part(part, f"{where}.content[{j}]", names, files, ctx, history=history)
        if text:
            pieces.append(text)
    return "\n".join(pieces) if history else "\n\n".join(pieces)


def _split_turn(messages: Sequence[Message]) -> int:
    """Index where the trailing user turn starts (``len(messages)`` when there is none)."""
    start = len(messages)
    while start > 0 and messages[start - 1].role == "user":
        start -= 1
    return start


def _content(request: Request, files: _Files, ctx: Context) -> str:
    messages = [m for m in request.messages if m.role not in ("system", "developer")]
    names = _tool_names(messages)
    start = _split_turn(messages)
    current = [
        _render_message(m, f"messages[{i}]", names, files, ctx, history=False)
        for i, m in enumerate(messages[start:], start)
    ]
    current_text = "\n\n".join(t for t in current if t)
    if start == 0:
        return current_text
    lines = []
    for i, message in enumerate(messages[:start]):
        text = _render_message(message, f"messages[{i}]", names, files, ctx, history=True)
        lines.append(f"{ROLE_LABELS.get(message.role, message.role.title())}: {text}")
    if start == len(messages):
        ctx.lose(
            f"messages[{start - 1}]",
            "backboard cannot continue a partial assistant answer",
            "sent as the last line of the history",
        )
        return HISTORY_HEADER + "\n" + "\n".join(lines)
    return HISTORY_HEADER + "\n" + "\n".join(lines) + "\n\n" + CURRENT_HEADER + "\n" + current_text


def _system_prompt(request: Request, ctx: Context) -> str:
    pieces = [p.text for p in request.system]
    for i, message in enumerate(request.messages):
        if message.role in ("system", "developer"):
            text = "\n".join(p.text for p in message.content if isinstance(p, TextPart))
            pieces.append(text)
            ctx.lose(
                f"messages[{i}]",
                "backboard has no system message inside a conversation",
                "moved to system_prompt",
            )
    return "\n\n".join(p for p in pieces if p)


def _tools(request: Request, body: dict[str, Any], ctx: Context) -> None:
    choice = request.tool_choice
    if choice is not None and choice.mode == "none":
        # The model must not call a tool: sending none is exactly that.
        return
    functions = []
    for i, tool in enumerate(request.tools):
        where = f"tools[{i}]"
        if tool.kind == "server":
            if tool.server_type == "web_search":
                body["web_search"] = "Auto"
            else:
                ctx.lose(where, f"server tool {tool.server_type or tool.name} is not on backboard")
            continue
        if tool.defer_loading:
            ctx.lose(
                f"{where}.defer_loading",
                "backboard tools cannot wait for a tool search to load them",
                "the tool is sent loaded from the start",
            )
        if tool.kind == "custom":
            functions.append(_custom_tool(tool, where, ctx))
            continue
        functions.append(_function_tool(tool, where, ctx))
    if functions:
        body["tools"] = functions
    if choice is not None and choice.mode in ("any", "tool"):
        ctx.lose(
            "tool_choice", "backboard cannot force a tool call", "the model may answer in text"
        )
    if choice is not None and choice.allowed:
        ctx.lose("tool_choice.allowed", "backboard cannot restrict the tools per turn")
    if request.parallel_tool_calls is False:
        ctx.lose("parallel_tool_calls", "backboard cannot forbid parallel tool calls")


def _function_tool(tool: Tool, where: str, ctx: Context) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = dict(tool.parameters or {"type": "object", "properties": {}})
    if tool.strict is not None:
        function["strict"] = tool.strict
    ctx.lose_extras(tool.extras, FORMAT, where)
    return {"type": "function", "function": function}


def _custom_tool(tool: Tool, where: str, ctx: Context) -> dict[str, Any]:
    """A free-form tool as a function taking its input as one string (backboard has only
    function tools, ``codecs._custom_tools``); answers turn such calls back into free-form
    calls."""
    function: dict[str, Any] = {"name": tool.name, "parameters": input_schema()}
    description = describe(tool, ctx, where, "backboard")
    if description:
        function["description"] = description
    ctx.lose_extras(tool.extras, FORMAT, where)
    return {"type": "function", "function": function}


def _thinking(reasoning: ReasoningConfig, ctx: Context) -> dict[str, Any] | None:
    if reasoning.mode == "disabled":
        return None
    if reasoning.mode == "adaptive":
        return {}
    if reasoning.budget_tokens is not None:
        if reasoning.effort is not None:
            ctx.lose(
                "reasoning.effort",
                "backboard takes a budget or an effort, not both",
                "the budget was sent",
            )
        return {"budget_tokens": reasoning.budget_tokens}
    if reasoning.effort is not None:
        effort = EFFORTS.get(reasoning.effort)
        if effort is None:
            ctx.lose("reasoning.effort", f"unknown effort {reasoning.effort!r}", "sent as medium")
            effort = "medium"
        elif effort != reasoning.effort:
            ctx.lose(
                "reasoning.effort",
                f"backboard has no effort {reasoning.effort!r}",
                f"sent as {effort}",
            )
        return {"effort": effort}
    return {}


def _output_format(request: Request, body: dict[str, Any], ctx: Context) -> str | None:
    """Set ``json_output``; a schema to describe in the system prompt, if any."""
    fmt = request.output_format
    if fmt is None or fmt.kind == "text":
        return None
    body["json_output"] = True
    if body.get("tools") or body.get("web_search"):
        ctx.lose("output_format", "backboard ignores json_output when tools are active")
    if fmt.kind == "json_schema" and fmt.schema is not None:
        ctx.lose(
            "output_format.schema",
            "backboard cannot enforce a JSON schema",
            "described in system_prompt",
        )
        return "Answer with JSON that matches this JSON schema:\n" + dumps_str(fmt.schema)
    return None


#: Canonical request fields with no backboard equivalent, and when each counts as set.
_UNMAPPED: tuple[tuple[str, str], ...] = (
    ("max_tokens", "backboard has no output-token limit per message"),
    ("temperature", "backboard has no sampling temperature"),
    ("top_p", "backboard has no nucleus sampling setting"),
    ("top_k", "backboard has no top-k setting"),
    ("n", "backboard gives one answer per message"),
    ("logprobs", "backboard gives no log probabilities"),
    ("top_logprobs", "backboard gives no log probabilities"),
)


def _has_cache_control(request: Request) -> bool:
    if any(p.cache_control for p in request.system):
        return True
    if any(t.cache_control for t in request.tools):
        return True
    return any(getattr(p, "cache_control", None) for m in request.messages for p in m.content)


def encode_request(request: Request, ctx: Context) -> dict[str, Any]:
    """The fields of one backboard message request (``POST /threads/messages``).

    ``files`` (when present) lists attachments as ``{"filename", "content_type", "data"}``
    with base64 ``data``; the transport sends them as multipart ``files`` parts.
    """
    body: dict[str, Any] = {}
    files = _Files()
    body["content"] = _content(request, files, ctx)
    body["stream"] = request.stream
    _tools(request, body, ctx)
    system = _system_prompt(request, ctx)
    schema_note = _output_format(request, body, ctx)
    if schema_note:
        system = f"{system}\n\n{schema_note}" if system else schema_note
    if system:
        body["system_prompt"] = system
    provider, name = split_model(request.model)
    if provider is not None:
        body["llm_provider"] = provider
    if name:
        body["model_name"] = name
    if request.reasoning is not None:
        thinking = _thinking(request.reasoning, ctx)
        if thinking is not None:
            body["thinking"] = thinking
    metadata = dict(request.metadata or {})
    if request.user is not None:
        metadata.setdefault("user", request.user)
    if metadata:
        body["metadata"] = metadata
    for field, reason in _UNMAPPED:
        if getattr(request, field) not in (None, False):
            ctx.lose(field, reason)
    if request.stop:
        ctx.lose("stop", "backboard has no stop sequences")
    if _has_cache_control(request):
        ctx.lose("cache_control", "backboard manages prompt caching itself", "ignored")
    ctx.lose_extras(request.extras, FORMAT, "request")
    for key, value in request.extras.get(FORMAT, {}).items():
        if key in _CODEC_FIELDS:
            ctx.lose(f"request.{key}", "set by the codec itself", "ignored")
        elif not key.startswith("_"):
            body[key] = value
    if files.items:
        body["files"] = files.items
    return body


def encode_tool_outputs(results: Sequence[ToolResultPart], ctx: Context) -> list[dict[str, str]]:
    """``tool_outputs`` for ``submit-tool-outputs``: one per result, in order.

    Outputs are text; an error result says so in the text (backboard has no error flag), and
    images or documents inside a result are reported as lost.
    """
    outputs = []
    for i, result in enumerate(results):
        for j, part in enumerate(result.content):
            if not isinstance(part, TextPart):
                ctx.lose(
                    f"tool_outputs[{i}].content[{j}]",
                    "backboard tool outputs are text only",
                )
        text = result.text
        if result.is_error:
            text = f"Error: {text}" if text else "Error"
        outputs.append({"tool_call_id": result.call_id, "output": text})
    return outputs


def decode_request(body: Mapping[str, Any], ctx: Context) -> Request:
    """Not available: backboard is an upstream format, never a client's."""
    raise UnsupportedFeature(upstream_only("decode_request"))
