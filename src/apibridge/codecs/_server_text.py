"""Server-side tool blocks of one API in the history sent to another, as the text they hold.

Theory of operation
-------------------
A conversation that used a provider-run tool holds its calls and results: Anthropic
``server_tool_use`` with ``web_fetch_tool_result``, ``code_execution_tool_result`` (also the
``bash_`` and ``text_editor_`` ones), ``web_search_tool_result``, ``mcp_tool_use`` /
``mcp_tool_result``, ``search_result``; Responses ``web_search_call``, ``code_interpreter_call``,
``file_search_call``, ``mcp_call``, ``mcp_list_tools``, ``computer_call`` and
``computer_call_output``. Another API cannot take these items, but the model still needs what
they said to continue the conversation. :func:`flatten` gives each the text it holds (the
fetched document's text, stdout and stderr, search results with their sources, an MCP call's
arguments and output), marked with a short bracketed header naming the tool, plus the image a
``computer_call_output`` screenshot carries. The encoders send those parts in place of the block
and report the block as ``sent as text`` (its structure, ids and encrypted values are lost).

What has no text form returns ``None`` and stays a reported loss: ``container_upload`` (a file
handed to Anthropic's container), ``image_generation_call`` (an image an assistant turn cannot
hold), encrypted results (``encrypted_code_execution_result``), a fetched PDF, and block types
this table does not name. ``tool_search_tool_result`` and compaction blocks belong to their own
modules and are not read here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from apibridge._json import dumps_str
from apibridge.codecs._context import Context
from apibridge.model import ContentPart, ImagePart, ServerToolPart, TextPart

__all__ = ["flatten", "flatten_search_result", "sent_as_text", "text_forms"]

#: ``server_tool_use`` names whose blocks are not read here (tool search has its own module).
_NOT_READ: Final = ("tool_search",)


def sent_as_text(
    part: ContentPart, target: str, ctx: Context, where: str
) -> tuple[TextPart | ImagePart, ...] | None:
    """For an encoder of ``target`` writing history: another format's server-tool block as
    the parts that stand for it, reported (``sent as text``); ``None`` for any other part and
    for a block with no text form (the encoder reports that one as before)."""
    if not isinstance(part, ServerToolPart) or part.source_format == target:
        return None
    if target == "responses" and part.kind == "server_tool_use" and part.tool == "web_search":
        return None  # a web search call has an item of its own there (``web_search_call``)
    flat = flatten(part)
    if flat is not None:
        noun = "item" if part.source_format == "responses" else "block"
        ctx.lose(where, f"{target} has no {part.source_format} {part.kind} {noun}", "sent as text")
    return flat


def text_forms(
    parts: Sequence[ContentPart], target: str, ctx: Context, place: str, history: bool = True
) -> Iterable[tuple[int, ContentPart]]:
    """``parts`` numbered; in ``history`` (not an answer) another API's server-tool blocks are
    replaced by the parts that stand for them (:func:`sent_as_text`; block ``i`` is named
    ``place.format(i)``), so that their text joins the turn like any text."""
    if not history or not any(type(p) is ServerToolPart for p in parts):
        return enumerate(parts)
    out: list[tuple[int, ContentPart]] = []
    for i, part in enumerate(parts):
        flat = sent_as_text(part, target, ctx, place.format(i))
        if flat is None:
            out.append((i, part))
        else:
            out.extend((i, p) for p in flat)
    return out


def flatten(part: ServerToolPart) -> tuple[TextPart | ImagePart, ...] | None:
    """The text (and, for a screenshot, the image) a server-tool block holds, or ``None``
    when it has no such form (the caller reports it lost)."""
    writer = _WRITERS.get((part.source_format, part.kind))
    if writer is None:
        return None
    return writer(part.raw)


def flatten_search_result(block: Mapping[str, Any]) -> TextPart | None:
    """An Anthropic ``search_result`` block (also found inside a ``tool_result``) as text."""
    out = _search_result(block)
    return None if out is None else out[0]


# ----------------------------------------------------------------------------- helpers


def _text(header: str, *body: str | None) -> tuple[TextPart, ...]:
    lines = [f"[{header}]", *(b for b in body if b)]
    return (TextPart(text="\n".join(lines)),)


def _json(value: Any) -> str:
    return value if isinstance(value, str) else dumps_str(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _texts(content: Any) -> str | None:
    """The text of a string or of a list of ``text`` blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        texts = [
            b["text"]
            for b in content
            if isinstance(b, Mapping) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        return "\n".join(texts) if texts else None
    return None


def _error(content: Mapping[str, Any]) -> str | None:
    """The error a result reports (``*_error`` content), or ``None``."""
    kind = str(content.get("type", ""))
    if not kind.endswith("_error"):
        return None
    message = content.get("error_message")
    code = content.get("error_code", "error")
    return f"error: {code}" + (f": {message}" if isinstance(message, str) else "")


# ----------------------------------------------------------------------------- anthropic


def _server_tool_use(raw: Mapping[str, Any]) -> tuple[TextPart, ...] | None:
    if str(raw.get("name", "")).startswith(_NOT_READ):
        return None
    return _text(f"{raw.get('name', 'server tool')} call", _json(raw.get("input", {})))


def _web_fetch(raw: Mapping[str, Any]) -> tuple[TextPart, ...] | None:
    content = raw.get("content")
    if not isinstance(content, Mapping):
        return None
    error = _error(content)
    if error is not None:
        return _text("web_fetch result", error)
    url = _str(content.get("url")) or ""
    document = content.get("content")
    if not isinstance(document, Mapping):
        return None
    source = document.get("source")
    if not isinstance(source, Mapping):
        return None
    if source.get("type") == "text":
        body = _str(source.get("data"))
    elif source.get("type") == "content":
        body = _texts(source.get("content"))
    else:
        return None  # a fetched PDF (base64): no text form
    title = _str(document.get("title"))
    header = f"web_fetch result: {url}" + (f" ({title})" if title else "")
    return _text(header, body)


def _code_execution(raw: Mapping[str, Any]) -> tuple[TextPart, ...] | None:
    content = raw.get("content")
    if not isinstance(content, Mapping):
        return None
    kind = str(raw.get("type", "code_execution_tool_result"))[: -len("_tool_result")]
    error = _error(content)
    if error is not None:
        return _text(f"{kind} result", error)
    result = str(content.get("type", ""))
    if result in ("code_execution_result", "bash_code_execution_result"):
        files = [
            o["file_id"]
            for o in content.get("content") or ()
            if isinstance(o, Mapping) and isinstance(o.get("file_id"), str)
        ]
        return _text(
            f"{kind} result: return code {content.get('return_code')}",
            f"stdout:\n{content['stdout']}" if _str(content.get("stdout")) else None,
            f"stderr:\n{content['stderr']}" if _str(content.get("stderr")) else None,
            f"files: {', '.join(files)}" if files else None,
        )
    if result == "text_editor_code_execution_view_result":
        return _text(f"{kind} result: view", _str(content.get("content")))
    if result == "text_editor_code_execution_create_result":
        updated = "updated" if content.get("is_file_update") else "created"
        return _text(f"{kind} result: file {updated}")
    if result == "text_editor_code_execution_str_replace_result":
        lines = content.get("lines")
        body = "\n".join(x for x in lines if isinstance(x, str)) if isinstance(lines, list) else ""
        return _text(f"{kind} result: replaced", body)
    return None  # encrypted stdout, or a result type this version does not know


def _web_search_results(raw: Mapping[str, Any]) -> tuple[TextPart, ...] | None:
    content = raw.get("content")
    if isinstance(content, Mapping):
        error = _error(content)
        return None if error is None else _text("web_search results", error)
    if not isinstance(content, Sequence):
        return None
    lines = [
        f"- {r.get('title', '')} <{r.get('url', '')}>"
        for r in content
        if isinstance(r, Mapping) and r.get("type") == "web_search_result"
    ]
    return _text("web_search results", "\n".join(lines))


def _mcp_tool_use(raw: Mapping[str, Any]) -> tuple[TextPart, ...]:
    name = f"{raw.get('server_name', '')}.{raw.get('name', '')}"
    return _text(f"MCP call {name}", _json(raw.get("input", {})))


def _mcp_tool_result(raw: Mapping[str, Any]) -> tuple[TextPart, ...]:
    header = "MCP error" if raw.get("is_error") else "MCP result"
    return _text(header, _texts(raw.get("content")))


def _search_result(raw: Mapping[str, Any]) -> tuple[TextPart, ...] | None:
    body = _texts(raw.get("content"))
    if body is None:
        return None
    return _text(f"search result: {raw.get('title', '')} <{raw.get('source', '')}>", body)


# ----------------------------------------------------------------------------- responses


def _web_search_call(raw: Mapping[str, Any]) -> tuple[TextPart, ...] | None:
    action = raw.get("action")
    if not isinstance(action, Mapping):
        return None
    kind = action.get("type")
    if kind == "search":
        queries = action.get("queries") or [action.get("query")]
        said = "; ".join(q for q in queries if isinstance(q, str))
        sources = [
            f"- <{s['url']}>"
            for s in action.get("sources") or ()
            if isinstance(s, Mapping) and isinstance(s.get("url"), str)
        ]
        return _text(f"web_search: {said}", "sources:\n" + "\n".join(sources) if sources else None)
    if kind == "open_page":
        return _text(f"web_search: opened <{action.get('url', '')}>")
    if kind == "find_in_page":
        return _text(f"web_search: found {action.get('pattern')!r} in <{action.get('url', '')}>")
    return None


def _code_interpreter_call(raw: Mapping[str, Any]) -> tuple[TextPart, ...]:
    outputs = []
    for o in raw.get("outputs") or ():
        if isinstance(o, Mapping) and o.get("type") == "logs" and isinstance(o.get("logs"), str):
            outputs.append(o["logs"])
        elif isinstance(o, Mapping) and o.get("type") == "image":
            outputs.append(f"(image: {o.get('url', '')})")
    return _text(
        "code_interpreter call",
        _str(raw.get("code")),
        "output:\n" + "\n".join(outputs) if outputs else None,
    )


def _file_search_call(raw: Mapping[str, Any]) -> tuple[TextPart, ...]:
    queries = "; ".join(q for q in raw.get("queries") or () if isinstance(q, str))
    results = [
        f"- {r.get('filename') or r.get('file_id') or ''}: {r.get('text', '')}"
        for r in raw.get("results") or ()
        if isinstance(r, Mapping)
    ]
    return _text(f"file_search: {queries}", "\n".join(results))


def _mcp_call(raw: Mapping[str, Any]) -> tuple[TextPart, ...]:
    name = f"{raw.get('server_label', '')}.{raw.get('name', '')}"
    error = _str(raw.get("error"))
    return _text(
        f"MCP call {name}",
        _str(raw.get("arguments")),
        f"error: {error}" if error else None,
        f"output:\n{raw['output']}" if _str(raw.get("output")) else None,
    )


def _mcp_list_tools(raw: Mapping[str, Any]) -> tuple[TextPart, ...]:
    lines = [
        f"- {t.get('name')}" + (f": {t['description']}" if _str(t.get("description")) else "")
        for t in raw.get("tools") or ()
        if isinstance(t, Mapping)
    ]
    error = _str(raw.get("error"))
    return _text(
        f"MCP tools of {raw.get('server_label', '')}",
        f"error: {error}" if error else None,
        "\n".join(lines),
    )


def _computer_call(raw: Mapping[str, Any]) -> tuple[TextPart, ...]:
    actions = raw.get("actions") or raw.get("action")
    return _text(f"computer call {raw.get('call_id', '')}", _json(actions))


def _computer_call_output(raw: Mapping[str, Any]) -> tuple[TextPart | ImagePart, ...] | None:
    output = raw.get("output")
    if not isinstance(output, Mapping):
        return None
    url, file_id = _str(output.get("image_url")), _str(output.get("file_id"))
    if url is None and file_id is None:
        return None
    header = TextPart(text=f"[computer screenshot for call {raw.get('call_id', '')}]")
    if url is not None and url.startswith("data:") and ";base64," in url:
        media, data = url[5:].split(";base64,", 1)
        return header, ImagePart(media_type=media, data=data)
    return header, ImagePart(url=url, file_id=file_id)


_Writer = Callable[[Mapping[str, Any]], tuple[TextPart | ImagePart, ...] | None]

#: (source format, block or item type) → its text form.
_WRITERS: Final[Mapping[tuple[str, str], _Writer]] = {
    ("anthropic", "server_tool_use"): _server_tool_use,
    ("anthropic", "web_fetch_tool_result"): _web_fetch,
    ("anthropic", "code_execution_tool_result"): _code_execution,
    ("anthropic", "bash_code_execution_tool_result"): _code_execution,
    ("anthropic", "text_editor_code_execution_tool_result"): _code_execution,
    ("anthropic", "web_search_tool_result"): _web_search_results,
    ("anthropic", "mcp_tool_use"): _mcp_tool_use,
    ("anthropic", "mcp_tool_result"): _mcp_tool_result,
    ("anthropic", "search_result"): _search_result,
    ("responses", "web_search_call"): _web_search_call,
    ("responses", "code_interpreter_call"): _code_interpreter_call,
    ("responses", "file_search_call"): _file_search_call,
    ("responses", "mcp_call"): _mcp_call,
    ("responses", "mcp_list_tools"): _mcp_list_tools,
    ("responses", "computer_call"): _computer_call,
    ("responses", "computer_call_output"): _computer_call_output,
}
