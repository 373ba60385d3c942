"""Sample payloads for ledger elements, built from the SDK annotations.

For an element at ``path`` the builder starts from a minimal valid payload of its surface
(:data:`BASES`) and adds the one thing the element names, filling every *required* field on the
way with a value of its annotated type. It builds two payloads: ``with`` (the element present,
with a recognisable sample value) and ``without`` (the field left out, or set to another value
when it is required; for a type element: the payload without that block / item / tool). The
difference between the two conversions is what the element contributes.

Sample values are sentinels (``"S-<path>"`` for strings) so a mapped value can be found in the
output; ``SAMPLES`` overrides the generated value where the API needs a particular one.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from .surface import (
    SURFACES,
    Surface,
    _strip,
    is_struct,
    list_item,
    literal_values,
    struct_fields,
    structs_in,
    union_members,
)

__all__ = ["BASES", "Sample", "build", "parse_path"]

_STEP = re.compile(r"\.?([A-Za-z_0-9]+)|\[([^\]]*)\]")


def parse_path(path: str) -> list[tuple[str, str]]:
    """``a[b].c[]`` → ``[("field", "a"), ("tag", "b"), ("field", "c"), ("list", "")]``."""
    out = []
    for m in _STEP.finditer(path):
        if m.group(1) is not None:
            out.append(("field", m.group(1)))
        elif m.group(2) == "":
            out.append(("list", ""))
        else:
            out.append(("tag", m.group(2)))
    return out


USAGE_A = {"input_tokens": 11, "output_tokens": 5}

BASES: dict[str, dict[str, Any]] = {
    "anthropic.request": {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    },
    "chat.request": {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]},
    "anthropic.beta_request": {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    },
    "responses.request": {"model": "gpt-5", "input": [{"role": "user", "content": "hi"}]},
    "anthropic.response": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": dict(USAGE_A),
    },
    "chat.response": {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-5",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
    },
    "responses.response": {
        "id": "resp_1",
        "object": "response",
        "created_at": 1700000000,
        "model": "gpt-5",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 11,
            "output_tokens": 5,
            "total_tokens": 16,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    },
}

#: values the API needs in a particular form, by element id (surface:path).
SAMPLES: dict[str, Any] = {
    "responses.response:created_at": 1700000123,
    "chat.response:choices[].finish_reason": "length",
    "chat.chunk:choices[].finish_reason": "length",  # (a stream chunk)
}

#: where a new list member goes when the element adds one, and what must come before it.
_TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {}}


class Sample:
    """The ``with`` and ``without`` payloads of one element, and its sample value."""

    __slots__ = ("value", "with_", "without")

    def __init__(self, with_: Any, without: Any, value: Any) -> None:
        self.with_ = with_
        self.without = without
        self.value = value


def _sentinel(path: str) -> str:
    return "v_" + hashlib.sha1(path.encode()).hexdigest()[:10]


def gen(ann: Any, path: str, depth: int = 0) -> Any:
    """A value of type ``ann``, with required fields filled (sentinels for strings)."""
    members = union_members(ann)
    if depth > 8:
        return None
    # prefer a literal, then a string, then a number, then a struct, then a list
    for m in members:
        vals = literal_values(m)
        if vals:
            return vals[0]
    if any(m is str for m in members):
        if path.endswith(".arguments"):
            return '{"a": "' + _sentinel(path) + '"}'  # a function call's arguments are JSON
        return _sentinel(path)
    for m in members:
        if m is bool:
            return True
        if m is int:
            return 3
        if m is float:
            return 0.5
    for m in members:
        if is_struct(m):
            return minimal(m, path, depth + 1)
    for m in members:
        item = list_item(m)
        if item is not None:
            return [gen(item, path + "[]", depth + 1)]
    for m in members:
        origin = get_origin(m) or m
        if origin in (dict, Mapping):
            args = get_args(m)
            if len(args) == 2 and args[1] is not Any and args[1] is not object:
                return {"k": gen(args[1], path + ".k", depth + 1)}
            return {"k": _sentinel(path)}
        if m is object or m is Any:
            return {"k": _sentinel(path)}
        if m is datetime.datetime:
            return "2026-01-02T03:04:05Z"
    return _sentinel(path)


def _leaf_value(ann: Any, path: str) -> Any:
    """The sample value of a field element: a literal's *last* word (the first is often the
    default, which a converter rightly leaves out), else what :func:`gen` makes."""
    words = [v for m in union_members(ann) for v in literal_values(m)]
    if len(words) > 1 and not any(m is str for m in union_members(ann)):
        return words[-1]
    return gen(ann, path)


def alt(ann: Any, value: Any, path: str) -> Any:
    """Another value of type ``ann`` than ``value`` (for a required field's ``without``)."""
    for m in union_members(ann):
        for v in literal_values(m):
            if v != value:
                return v
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 2
    if isinstance(value, float):
        return value / 2
    if isinstance(value, str):
        return value + "-alt"
    return gen(ann, path + "#alt")


#: fields filled even where the SDK marks them optional (the API needs them)
ALWAYS = frozenset({"call_id"})

#: values for fields a generated value would not do, by ``TypedDictOrModel.field``
FIELD_SAMPLES: dict[str, Any] = {
    "ChatCompletionAllowedToolsParam.tools": [{"type": "function", "function": {"name": "get"}}],
    "ToolChoiceAllowedParam.tools": [{"type": "function", "name": "get"}],
    "ToolParam.input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    "ServerToolUseBlockParam.input": {"query": "q"},  # a web search's
    "ServerToolUseBlock.input": {"query": "q"},
    "Choice.index": 0,  # the one choice (a stream chunk's too)
    "chat_completion_chunk.Choice.finish_reason": None,  # a chunk in mid-stream
}

#: the ``without`` value of those fields where they are required
FIELD_ALTS: dict[str, Any] = {
    "ChatCompletionAllowedToolsParam.tools": [{"type": "function", "function": {"name": "put"}}],
    "ToolChoiceAllowedParam.tools": [{"type": "function", "name": "put"}],
}


def _override(struct: Any, name: str) -> str:
    """The key of a field in FIELD_SAMPLES: ``module.Class.field`` if listed, else
    ``Class.field``."""
    long = f"{struct.__module__.rsplit('.', 1)[-1]}.{struct.__name__}.{name}"
    return long if long in FIELD_SAMPLES else f"{struct.__name__}.{name}"


def minimal(struct: Any, path: str, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, ann, required in struct_fields(struct):
        override = _override(struct, name)
        if override in FIELD_SAMPLES:
            out[name] = copy.deepcopy(FIELD_SAMPLES[override])
        elif required or name in ALWAYS or (name == "type" and literal_values(_first_literal(ann))):
            out[name] = gen(ann, f"{path}.{name}", depth)
    return out


def _first_literal(ann: Any) -> Any:
    for m in union_members(ann):
        if literal_values(m):
            return m
    return ann


def _field_ann(struct: Any, name: str) -> tuple[Any, bool]:
    for n, ann, required in struct_fields(struct):
        if n == name:
            return ann, required
    raise KeyError(name)


def _member(ann: Any, tag: str | None) -> tuple[Any, bool]:
    """The struct a ``[tag]`` (or ``[]``) step selects in ``ann``, and whether via a list."""
    for t, s, via in structs_in(ann):
        if t == tag or tag is None:
            return s, via
    raise KeyError(tag)


#: top-level fields set in both payloads of an element, where it only counts in a context
CONTEXT: dict[str, dict[str, Any]] = {
    "responses.response:incomplete_details": {"status": "incomplete"},
    "responses.response:incomplete_details.reason": {"status": "incomplete"},
}


def build(surface: Surface, path: str) -> Sample:
    """The sample payloads of the element at ``path`` of ``surface``."""
    s = _build(surface, path)
    for key, value in CONTEXT.get(f"{surface.name}:{path}", {}).items():
        s.with_[key] = value
        s.without[key] = value
    return s


#: a tool for the elements that only mean something beside one (a choice among no tools is not
#: sent: tests/test_tool_choice_without_tools.py)
_A_TOOL: dict[str, dict[str, Any]] = {
    "anthropic.request": {"name": "get", "input_schema": {"type": "object", "properties": {}}},
    "anthropic.beta_request": {"name": "get", "input_schema": {"type": "object", "properties": {}}},
    "chat.request": {"type": "function", "function": {"name": "get", "parameters": {}}},
    "responses.request": {"type": "function", "name": "get", "parameters": {}, "strict": False},
}
_NEEDS_A_TOOL = re.compile(r"(tool_choice|parallel_tool_calls)\b")


def _build(surface: Surface, path: str) -> Sample:
    eid = f"{surface.name}:{path}"
    steps = parse_path(path)
    base = copy.deepcopy(BASES.get(surface.name, {}))
    if surface.name in _A_TOOL and _NEEDS_A_TOOL.match(path):
        base["tools"] = [copy.deepcopy(_A_TOOL[surface.name])]
    # walk: obj is the dict being filled, struct its type
    root = _strip(surface.root)
    with_ = base
    obj = with_
    struct = root
    i = 0
    n = len(steps)
    while i < n:
        step, name = steps[i]
        assert step == "field", (path, steps[i])
        ann, required = _field_ann(struct, name)
        last = i == n - 1
        if last:
            override = _override(struct, name)
            value = SAMPLES.get(
                eid,
                copy.deepcopy(FIELD_SAMPLES[override])
                if override in FIELD_SAMPLES
                else _leaf_value(ann, path),
            )
            obj_parent = obj
            had = name in obj_parent
            old = obj_parent.get(name)
            obj_parent[name] = value
            without = copy.deepcopy(with_)
            target = _locate(without, with_, obj_parent)
            if had and old != value and not required:
                target[name] = old
            elif override in FIELD_ALTS:
                target[name] = copy.deepcopy(FIELD_ALTS[override])
            elif required or had:
                target[name] = alt(ann, value, path)
            else:
                del target[name]
            return Sample(with_, without, value)
        nxt, tag = steps[i + 1]
        member, via = _member(ann, tag if nxt == "tag" else None)
        is_type = nxt == "tag" and i + 1 == n - 1
        new = minimal(member, path)
        if nxt == "tag":
            for key in ("type", "role"):
                for fname, fann, _r in struct_fields(member):
                    if fname == key and tag in [
                        str(v) for m in union_members(fann) for v in literal_values(m)
                    ]:
                        new[key] = _literal(fann, tag)
                        break
                else:
                    continue
                break
        before = copy.deepcopy(with_)
        if via and nxt == "list" and isinstance(obj.get(name), list) and obj[name]:
            # a plain list the base payload fills already (``choices``): add to its first
            new = obj[name][0]
            container, key = obj[name], 0
        elif via:
            existing = obj.get(name)
            if isinstance(existing, list):
                existing.append(new)
                container, key = existing, len(existing) - 1
            else:
                obj[name] = [new]
                container, key = obj[name], 0
        elif isinstance(obj.get(name), dict) and nxt != "tag":
            new = obj[name]  # the base payload has it already: add to it
            container, key = obj, name
        else:
            obj[name] = new
            container, key = obj, name
        if is_type:
            value = SAMPLES.get(eid, new)
            container[key] = value
            return Sample(with_, before, value)
        obj = new
        struct = member
        i += 2 if nxt in ("tag", "list") else 1
    raise AssertionError(path)


def _literal(ann: Any, tag: str) -> Any:
    for m in union_members(ann):
        for v in literal_values(m):
            if str(v) == tag:
                return v
    return tag


def _locate(copy_root: Any, orig_root: Any, target: Any) -> Any:
    """The object in ``copy_root`` at the place ``target`` holds in ``orig_root``."""
    if orig_root is target:
        return copy_root
    if isinstance(orig_root, dict):
        for k, v in orig_root.items():
            found = _locate(copy_root[k], v, target)
            if found is not None:
                return found
    elif isinstance(orig_root, list):
        for c, v in zip(copy_root, orig_root, strict=True):
            found = _locate(c, v, target)
            if found is not None:
                return found
    return None


def surface(name: str) -> Surface:
    return next(s for s in SURFACES if s.name == name)


if __name__ == "__main__":
    import sys

    s = build(surface(sys.argv[1]), sys.argv[2])
    print(json.dumps(s.with_, indent=1))
    print(json.dumps(s.without, indent=1))


# -- streams ---------------------------------------------------------------------------------

_A_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": dict(USAGE_A),
    },
}
_A_TEXT = [
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
    {"type": "content_block_stop", "index": 0},
]
_A_END = [
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    },
    {"type": "message_stop"},
]
#: the block a delta type belongs in
_A_DELTA_BLOCK = {
    "text_delta": {"type": "text", "text": ""},
    "citations_delta": {"type": "text", "text": ""},
    "input_json_delta": {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {}},
    "thinking_delta": {"type": "thinking", "thinking": "", "signature": ""},
    "signature_delta": {"type": "thinking", "thinking": "", "signature": ""},
}

_R_MSG = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "in_progress",
    "content": [],
}


def _r_response(status: str, output: list[Any]) -> dict[str, Any]:
    body = copy.deepcopy(BASES["responses.response"])
    body["status"] = status
    body["output"] = output
    return body


def _responses_events(extra: list[dict[str, Any]]) -> list[tuple[str | None, Any]]:
    done = copy.deepcopy(BASES["responses.response"]["output"][0])
    evs: list[dict[str, Any]] = [
        {"type": "response.created", "response": _r_response("in_progress", [])},
        {"type": "response.output_item.added", "output_index": 0, "item": _R_MSG},
        {
            "type": "response.content_part.added",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": "hi",
            "logprobs": [],
        },
        *extra,
        {
            "type": "response.output_text.done",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "text": "hi",
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "part": done["content"][0],
        },
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": _r_response("completed", [done])},
    ]
    for n, ev in enumerate(evs):
        ev["sequence_number"] = n
    return [(ev["type"], ev) for ev in evs]


_CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "gpt-5",
}


def _chat_chunks(extra: list[dict[str, Any]]) -> list[tuple[str | None, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**_CHUNK, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    finishes = any(c.get("finish_reason") for e in extra for c in e.get("choices", ()))
    evs = [chunk({"role": "assistant", "content": ""}), chunk({"content": "hi"}), *extra]
    if not finishes:  # the element's chunk ends the answer itself, or this one does
        evs.append(chunk({}, "stop"))
    return [(None, e) for e in evs] + [(None, "[DONE]")]


def build_stream(surface: Surface, path: str) -> Sample:
    """``with`` / ``without`` SSE byte streams for a stream element."""
    from .probe import frames

    steps = parse_path(path)
    if surface.fmt == "chat":
        chunk_surface = Surface("chat.chunk", "chat", "response", surface.root)
        BASES.setdefault("chat.chunk", {**_CHUNK, "choices": []})
        s = build(chunk_surface, path)
        return Sample(frames(_chat_chunks([s.with_])), frames(_chat_chunks([s.without])), s.value)
    tag = steps[0][1]
    member, _ = _member(surface.root, tag)
    event = minimal(member, path)
    event["type"] = tag
    if len(steps) > 1:  # a delta type: [content_block_delta].delta[tag]
        sub_ann, _ = _field_ann(member, steps[1][1])
        sub, _ = _member(sub_ann, steps[2][1])
        event[steps[1][1]] = {**minimal(sub, path), "type": steps[2][1]}
    if surface.fmt == "anthropic":
        if tag == "content_block_delta":
            dtype = event["delta"]["type"]
            block = _A_DELTA_BLOCK.get(dtype, {"type": "text", "text": ""})
            event["index"] = 1
            extra = [
                {"type": "content_block_start", "index": 1, "content_block": block},
                event,
                {"type": "content_block_stop", "index": 1},
            ]
            without = [
                {"type": "content_block_start", "index": 1, "content_block": block},
                {"type": "content_block_stop", "index": 1},
            ]
        elif tag in (
            "message_start",
            "message_delta",
            "message_stop",
            "content_block_start",
            "content_block_stop",
        ):
            # the base stream has each of these: the stream without it is the sample
            extra, without = [], None
        else:
            extra, without = [event], []
        end = copy.deepcopy(_A_END)
        if tag == "message_delta":  # not the values a stream without it implies
            end[0]["delta"]["stop_reason"] = "max_tokens"
            end[0]["usage"]["output_tokens"] = 9
        with_evs = [_A_START, *_A_TEXT, *extra, *end]
        if without is None:
            without_evs = [e for e in with_evs if e["type"] != tag]
        else:
            without_evs = [_A_START, *_A_TEXT, *without, *_A_END]
        enc = lambda evs: frames([(e["type"], e) for e in evs])  # noqa: E731
        return Sample(enc(with_evs), enc(without_evs), tag)
    # responses
    for prefix, item in sorted(_R_EVENT_ITEMS.items(), key=lambda kv: -len(kv[0])):
        if tag.startswith(prefix):
            return _responses_item_stream(tag, event, item)
    if tag in ("response.incomplete", "response.failed"):  # ends the stream instead
        status = tag.split(".")[1]
        end = {"type": tag, "response": _r_response(status, [])}
        if status == "incomplete":
            end["response"]["incomplete_details"] = {"reason": "max_output_tokens"}
        else:
            end["response"]["error"] = {"code": "server_error", "message": "boom"}
        evs = _responses_events([])
        with_evs = [*evs[:-1], (tag, {**end, "sequence_number": len(evs) - 1})]
        return Sample(frames(with_evs), frames(evs), tag)
    base_types = {
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    }
    with_evs = _responses_events([] if tag in base_types else [event])
    if tag in base_types:
        without_evs = [e for e in with_evs if e[0] != tag]
    else:
        without_evs = _responses_events([])
    return Sample(frames(with_evs), frames(without_evs), tag)


#: the output item a Responses stream event belongs to, by event-type prefix
_R_EVENT_ITEMS: dict[str, dict[str, Any]] = {
    "response.function_call_arguments.": {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "get",
        "arguments": '{"a": 1}',
        "status": "completed",
    },
    "response.custom_tool_call_input.": {
        "type": "custom_tool_call",
        "id": "ct_1",
        "call_id": "call_1",
        "name": "get",
        "input": "x = 1",
    },
    "response.reasoning_summary_": {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "think"}],
    },
    "response.reasoning_text.": {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "think"}],
    },
    "response.refusal.": {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "refusal", "refusal": "no"}],
    },
    "response.output_text.": {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
    },
    "response.content_part.": {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
    },
    "response.output_text.annotation.added": {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
    },
    "response.web_search_call.": {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "q"},
    },
}

#: event fields that must hold a particular value (JSON for arguments, the item's text)
_R_EVENT_FIELDS: dict[str, dict[str, Any]] = {
    "response.function_call_arguments.delta": {"delta": '{"a": 1}'},
    "response.function_call_arguments.done": {"arguments": '{"a": 1}', "name": "get"},
    "response.custom_tool_call_input.delta": {"delta": "x = 1"},
    "response.custom_tool_call_input.done": {"input": "x = 1"},
    "response.reasoning_summary_text.delta": {"delta": "think", "summary_index": 0},
    "response.reasoning_summary_text.done": {"text": "think", "summary_index": 0},
    "response.reasoning_summary_part.added": {
        "summary_index": 0,
        "part": {"type": "summary_text", "text": ""},
    },
    "response.reasoning_summary_part.done": {
        "summary_index": 0,
        "part": {"type": "summary_text", "text": "think"},
    },
    "response.reasoning_text.delta": {"delta": "think"},
    "response.reasoning_text.done": {"text": "think"},
    "response.refusal.delta": {"delta": "no"},
    "response.refusal.done": {"refusal": "no"},
    "response.output_text.delta": {"delta": "hi", "logprobs": []},
    "response.output_text.done": {"text": "hi", "logprobs": []},
    "response.content_part.added": {"part": {"type": "output_text", "text": "", "annotations": []}},
    "response.content_part.done": {
        "part": {"type": "output_text", "text": "hi", "annotations": []}
    },
    "response.output_text.": {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
    },
    "response.content_part.": {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
    },
    "response.output_text.annotation.added": {
        "annotation_index": 0,
        "annotation": {
            "type": "url_citation",
            "url": "https://example.com/a",
            "title": "A",
            "start_index": 0,
            "end_index": 2,
        },
    },
}


def _responses_item_stream(tag: str, event: dict[str, Any], item: dict[str, Any]) -> Sample:
    """A stream of one output item with (``with``) and without the event ``tag``."""
    from .probe import frames

    event = {**event, **_R_EVENT_FIELDS.get(tag, {})}
    for key in ("item_id", "output_index", "content_index"):
        if key in event:
            event[key] = item["id"] if key == "item_id" else 0
    added = {**item, "status": "in_progress"}
    if item["type"] == "message":
        added["content"] = []
    elif "arguments" in item:
        added["arguments"] = ""

    def stream(extra: list[dict[str, Any]]) -> bytes:
        evs = [
            {"type": "response.created", "response": _r_response("in_progress", [])},
            {"type": "response.output_item.added", "output_index": 0, "item": added},
            *extra,
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": _r_response("completed", [item])},
        ]
        for n, ev in enumerate(evs):
            ev["sequence_number"] = n
        return frames([(ev["type"], ev) for ev in evs])

    mutated = copy.deepcopy(event)
    changed = False
    for key in ("delta", "text", "arguments", "input", "refusal"):
        if isinstance(mutated.get(key), str):
            mutated[key] += "-alt" if key != "arguments" else ""
            if key == "arguments":
                mutated[key] = '{"a": 2}'
            changed = True
    part = mutated.get("part")
    if isinstance(part, dict) and isinstance(part.get("text"), str):
        part["text"] += "-alt"
        changed = True
    # the event with other content when it has some (a decoder may rebuild a missing event
    # from the item), else the stream without it
    return Sample(stream([event]), stream([mutated] if changed else []), tag)
