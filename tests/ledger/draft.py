"""Propose ledger entries for the elements the ledger does not classify yet.

    PYTHONPATH=src python -m tests.ledger.draft          # add the missing entries
    PYTHONPATH=src python -m tests.ledger.draft --prune  # and drop entries of gone elements
    PYTHONPATH=src python -m tests.ledger.draft --redo   # propose all again (but `keep: true`)

Each new element is converted to every target and classified by what happened: ``mapped``
(the output changed there), ``lost`` (a loss names it, or the block holding it), or — when
neither — ``pending`` on the issue item that covers it, else ``pending: silent`` with the
observation, to be fixed in the codec or classified by hand as ``nothing`` with a reason.
Existing entries are never rewritten (but with ``--redo``): review the proposals, then commit
``ledger.yaml``. What cannot be observed — that an element has nothing to carry, or which issue
item will carry it — is written once here (:data:`NOTHING`, :data:`ITEMS`) so that a redo
reproduces it; an entry edited by hand in the YAML survives a redo with ``keep: true``.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml

from .build import BASES
from .ledger import LEDGER, cases, entry_for, load, run, surface_named
from .probe import convert
from .surface import Surface, is_struct, resolve, struct_fields, structs_in

#: issue 15 items being done elsewhere, by the words their elements carry
ITEMS: list[tuple[str, str]] = [
    (r"tool_search|tool_reference|defer_loading", "item 5"),
    (r"usage\.server_tool_use|tool_usage|:speed|chat\.stream:service_tier", "item 8"),
    (r"cache_control|prompt_cache_breakpoint", "item 9"),
    (r"context_management|compaction", "item 10"),
    (
        r"search_context_size|system_fingerprint|audio_tokens|prediction_tokens|"
        r"accepted_prediction|rejected_prediction|chat\.(response|stream):usage\.\w+_details\.",
        "item 12",
    ),
    (
        r"web_fetch|code_execution|mcp|(?<!web_)search_result|container_upload|server_tool_use|"
        r"web_search_tool_result",
        "item 13",
    ),
]


_ECHO = (
    "parallel_tool_calls|temperature|tool_choice|tools|top_p|background|conversation|"
    "max_output_tokens|max_tool_calls|previous_response_id|prompt|prompt_cache_key|"
    "prompt_cache_retention|reasoning|safety_identifier|text|top_logprobs|truncation|user|"
    "instructions|metadata"
)

#: (element id pattern, target or "*", reason) for elements with nothing to carry
NOTHING: list[tuple[str, str, str]] = [
    (
        r"anthropic\.request:tools\[web_search_\d+\]\.name",
        "*",
        "always `web_search`: the tool's type says it",
    ),
    (
        r"anthropic\.response:(role|type)|(chat|responses)\.response:object",
        "*",
        "a constant of the format",
    ),
    (
        r"anthropic\.response:usage|chat\.response:choices|"
        r"(chat\.response|chat\.stream|responses\.response):usage\.\w+_tokens_details",
        "*",
        "a container: its fields have their own entries",
    ),
    (
        r"(chat\.response|chat\.stream|responses\.response):usage\.total_tokens",
        "*",
        "the sum of the input and output counts, which are carried",
    ),
    (
        r"chat\.response:created|responses\.response:created_at",
        "anthropic",
        "Anthropic answers carry no timestamp",
    ),
    (r"anthropic\.stream:\[content_block_stop\]", "*", "closes a block: the target closes its own"),
    (
        r"chat\.request:messages\[assistant\]",
        "responses",
        "the sample assistant turn holds no content: no item to write",
    ),
    (
        r"chat\.request:response_format(\[text\])?|responses\.request:text\.format(\[text\])?|"
        r"chat\.request:tools\[custom\]\.custom\.format(\[text\])?",
        "anthropic",
        "plain, unconstrained text is the default",
    ),
    (
        r"responses\.request:(reasoning|text)",
        "chat",
        "an empty object: each of its fields has its own entry",
    ),
    (
        r"chat\.stream:(id|created|model|object)",
        "*",
        "repeated on every chunk: the first chunk's value is the one carried",
    ),
    (r"chat\.stream:obfuscation", "*", "random padding against side channels"),
    (
        r"responses\.request:input\[reasoning\]\.(id|status)",
        "chat",
        "Chat has no reasoning items: their text travels, their ids have no place",
    ),
    (
        r"responses\.(request:input|response:output)\[(function_call|reasoning|function_call_output)\]"
        r"\.status",
        "*",
        "the status of a finished item of history",
    ),
    (
        r"chat\.request:tool_choice\[allowed_tools\]\.allowed_tools|"
        r"chat\.request:messages\[user\]\.content\[file\]\.file|"
        r"anthropic\.request:tools\[web_search_\d+\]\.user_location|"
        r"chat\.request:web_search_options\.user_location\.approximate|"
        r"responses\.response:incomplete_details",
        "*",
        "a container: its fields have their own entries",
    ),
    (
        r"chat\.request:messages\[function\]\.name",
        "*",
        "names the function a legacy result answers: the result is paired with its call",
    ),
    (
        r"responses\.request:input\[message\]\.phase",
        "*",
        "how an OpenAI model reads its own earlier turn; other models have no use for it",
    ),
    (
        r"responses\.(request:input|response:output)\[(function_call_output|custom_tool_call_output)\]"
        r"\.(id|name|namespace)",
        "*",
        "a result is paired with its call by call_id; the call carries name and namespace",
    ),
    (
        r"responses\.(request:input|response:output)\[(custom_tool_call|reasoning)\]\.id",
        "*",
        "an item id: calls are paired by call_id, reasoning travels by its content",
    ),
    (
        r"responses\.(request:input|response:output)\[\w+\]\.caller(\[direct\])?",
        "*",
        "`direct` is the default (the model called the tool itself)",
    ),
    (
        r"chat\.response:choices\[\]\.message|chat\.stream:choices(\[\]\.delta)?",
        "*",
        "a container: its fields have their own entries",
    ),
    (
        r"anthropic\.(request|response):.*server_tool_use\]\.caller(\[direct\])?",
        "responses",
        "`direct` is the default (the model called the tool itself); another caller is reported",
    ),
    (
        r"anthropic\.request:tools\[tool_search_tool_(bm25|regex)\w*\|?\w*\]\.name",
        "responses",
        "fixed by the tool's type (the hosted `tool_search` it becomes has no name)",
    ),
    (
        r"anthropic\.beta_request:context_management\.edits\[clear_thinking_20251015\]\.keep"
        r"(\[all\])?",
        "*",
        "`keep: all` keeps every thinking turn, so nothing is cleared; other `keep` values are "
        "applied and reported (tests/test_context_management.py)",
    ),
    (
        r"(chat|responses)\.request:.*prompt_cache_breakpoint\.mode",
        "anthropic",
        "always `explicit`: the marker itself is carried as `cache_control`",
    ),
    (
        r"chat\.(response|stream):usage\.(completion|prompt)_tokens_details\.text_tokens",
        "*",
        "the text share of the totals, which are carried (audio and image shares are reported)",
    ),
    (
        r"responses\.response:tool_usage\.web_search",
        "anthropic",
        "a container: its count (`num_requests`) has its own entry",
    ),
    (r"responses\.stream:\[response\.compaction\.compacting\]", "*", "a status notification"),
    (
        r"chat\.stream:choices\[\]\.logprobs",
        "*",
        "a container: its scores (`logprobs.content`) have their own entries",
    ),
    (
        r"(chat|responses)\.request:prompt_cache_options(\.mode|\.ttl)?",
        "anthropic",
        "`mode: explicit` is Anthropic's own caching (at markers only) and its `ttl` goes on "
        "the markers; `mode: implicit` becomes a top-level `cache_control` "
        "(tests/test_cache_markers.py)",
    ),
    (
        r"chat\.(response|stream):choices\[\]\.index",
        "*",
        "the position of the one choice apibridge carries (others are reported)",
    ),
    (
        r"responses\.(request:input|response:output)\[function_call\]\.id",
        "*",
        "an item id: calls are paired by call_id",
    ),
    (
        r"responses\.response:output\[(function_call|custom_tool_call)\]\.namespace",
        "*",
        "only the client's own namespace tools give a call a namespace, and their calls come back "
        "under the client's names (tests/test_namespace_tools.py)",
    ),
    (
        rf"responses\.response:({_ECHO})",
        "*",
        "the request's own setting echoed back: the client holds its request",
    ),
    (r"responses\.stream:\[response\.(in_progress|queued)\]", "*", "a status notification"),
    (
        r"responses\.stream:\[response\.(output_item\.(added|done)|reasoning_summary_part\.(added|done))\]",
        "*",
        "opens or closes an item / part whose content events are carried",
    ),
    (
        r"responses\.stream:\[response\.(code_interpreter_call|file_search_call|shell_call|"
        r"web_search_call|image_generation_call|mcp_call|mcp_list_tools).*",
        "*",
        "progress of a server-side item: the item itself (output_item.done) is carried or reported",
    ),
]


def nothing_for(eid: str, target: str) -> str | None:
    for pattern, where, reason in NOTHING:
        if where in ("*", target) and re.fullmatch(pattern, eid):
            return reason
    return None


def item_for(surface: str, path: str, target: str) -> str | None:
    if surface == "anthropic.request" and path == "thinking[adaptive]" and target == "chat":
        return "item 12"
    if surface == "anthropic.request" and path == "service_tier":
        return "item 8"
    if (
        surface == "anthropic.request"
        and "[document]" in path
        and target == "responses"
        and (re.search(r"\.(title|context|citations)", path))
    ):
        return "item 12"
    if surface == "responses.stream" and "logprobs" in path and target == "chat":
        return "item 12"
    for pattern, item in ITEMS:
        if re.search(pattern, f"{surface}:{path}"):
            return item
    return None


def _field_names(surface: Surface, path: str) -> set[str]:
    """The field names of the struct(s) the element at ``path`` is or holds."""
    ann = resolve(surface, path.removesuffix("[]"))  # ``a[]``: the members of list ``a``
    structs = [ann] if is_struct(ann) else [s for _t, s, _v in structs_in(ann)]
    return {name for s in structs for name, _a, _r in struct_fields(s)}


def _ancestors(path: str) -> list[str]:
    """The elements holding ``path``, nearest first (``a[b].c`` → ``a[b]``, ``a``)."""
    cuts, depth = set(), 0
    for i, ch in enumerate(path):
        if ch == "[":
            if depth == 0 and i > 0:
                cuts.add(i)
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "." and depth == 0 and i > 0:
            cuts.add(i)
    return sorted({path[:c] for c in cuts}, key=len, reverse=True)


def propose(
    surface_name: str,
    path: str,
    target: str,
    base_losses: set[str],
    lost_names: Any = lambda path: (),
) -> dict[str, Any]:
    surface = surface_named(surface_name)
    try:
        _sample, obs = run(surface, path, target)
    except Exception as exc:  # a proposal, never a crash
        return {"pending": "silent", "note": f"sample: {type(exc).__name__}: {exc}"[:160]}
    item = item_for(surface_name, path, target)
    if obs.error and obs.error.startswith("UnsupportedFeature"):
        return {"refused": [obs.error.split(": ")[1]]}
    if obs.error:
        return {"pending": item or "sample", "note": obs.error[:160]}
    if obs.changed and (obs.carried or not obs.losses):
        # carried (with losses: in part — a block whose text travels, one part reported)
        places = obs.found or obs.changed
        entry: dict[str, Any] = {"mapped": places[:2]}
        if obs.losses:
            entry["lost"] = obs.losses[:3]
        return entry
    if obs.losses:
        return {"lost": obs.losses[:3]}
    # a field of a block that is reported lost as a whole: lost under the block's name (not
    # under a loss that names another field of the block: that one says nothing of this)
    covered = [n for n in obs.all_losses if n not in base_losses]
    for ancestor in _ancestors(path):
        head = re.match(r"\.?([A-Za-z_0-9]*)", path[len(ancestor) :])
        siblings = _field_names(surface, ancestor) - {head.group(1) if head else ""}
        names = [
            n for n in covered if n in lost_names(ancestor) and n.rsplit(".", 1)[-1] not in siblings
        ]
        if names:
            return {"lost": names[:3]}
    reason = nothing_for(f"{surface_name}:{path}", target)
    if reason is not None:
        return {"nothing": reason}
    return {"pending": item or "silent"}


def main(argv: list[str]) -> int:
    ledger = load()
    if "--redo" in argv:  # propose every entry again but those marked `keep: true`
        for paths in ledger.values():
            for path in list(paths):
                by_target = paths[path]
                for t in list(by_target):
                    if not by_target[t].get("keep"):
                        del by_target[t]
                if not by_target:
                    del paths[path]
    base_losses: dict[tuple[str, str], set[str]] = {}
    added = 0
    wanted: dict[str, set[str]] = {}
    for surface, path, target in cases():
        wanted.setdefault(surface, set()).add(path)
        by_path = ledger.setdefault(surface, {}).setdefault(path, {})
        if target in by_path or "*" in by_path:
            continue
        key = (surface, target)
        if key not in base_losses:
            role = surface_named(surface).role
            base = BASES.get(surface)
            base_losses[key] = (
                {loss.field for loss in convert(role, base, surface.split(".")[0], target)[1]}
                if base is not None
                else set()
            )

        def lost_names(ancestor: str, surface: str = surface, target: str = target) -> Any:
            entry = entry_for(ledger, surface, ancestor, target) or {}
            return entry.get("lost", ())

        by_path[target] = propose(surface, path, target, base_losses[key], lost_names)
        added += 1
    # one entry for all targets when they agree
    for paths in ledger.values():
        for path, by_target in paths.items():
            values = list(by_target.values())
            if len(by_target) > 1 and "*" not in by_target and all(v == values[0] for v in values):
                paths[path] = {"*": values[0]}
    if "--prune" in argv:
        for surface in list(ledger):
            for path in list(ledger[surface]):
                if path not in wanted.get(surface, ()):
                    del ledger[surface][path]
    with LEDGER.open("w") as f:
        f.write(HEADER)
        yaml.safe_dump(ledger, f, sort_keys=False, width=100, allow_unicode=True)
    print(f"{added} entries proposed; review {LEDGER}")
    return 0


HEADER = """\
# The API surface ledger (issue 15): what every element of the official SDK types becomes in
# every other format. Keys: surface -> element path -> target format (or "*" for all) ->
#   mapped: [output paths that carry it]   lost: [loss names reported]
#   nothing: reason                        pending: "item N" | silent | sample  (+ note)
# tests/ledger/test_ledger.py proves each claim; docs/api-surface.md is rendered from it
# (python -m tests.ledger.render). New elements: python -m tests.ledger.draft, then review.
"""

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
