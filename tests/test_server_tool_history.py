"""Fidelity class 22: server-side tool results in the history (issue 15, item 13).

Another API cannot take Anthropic's ``web_fetch_tool_result``, code execution results, MCP
blocks or ``search_result`` blocks, nor Responses' ``code_interpreter_call``,
``web_search_call``, ``file_search_call``, ``mcp_call``, ``mcp_list_tools`` or computer items;
they were dropped (reported). The model still needs what they said: each now travels as the
text it holds (and a screenshot as an image), reported as ``sent as text``. What has no text
form stays a reported loss. Every converted request is checked with the SDK types."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import apibridge
from apibridge.errors import Loss
from oracles import validate_request


def _convert(
    body: dict[str, Any], source: str, target: str
) -> tuple[dict[str, Any], dict[str, Loss]]:
    losses: list[Loss] = []
    out = apibridge.convert_request(body, source=source, target=target, losses=losses)
    validate_request(target, out)
    return out, {loss.field: loss for loss in losses}


def _texts(out: dict[str, Any], target: str) -> list[str]:
    """Every text a converted request holds, in order (any spelling of content)."""
    found: list[str] = []
    turns = out.get("messages") or out.get("input") or []
    for turn in turns:
        content = turn.get("content", turn.get("output"))
        if isinstance(content, str):
            found.append(content)
        for entry in content if isinstance(content, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                found.append(entry["text"])
            if isinstance(entry, dict) and entry.get("type") == "tool_result":
                inner = entry.get("content")
                found.extend([inner] if isinstance(inner, str) else [])
    return found


def _anthropic(*assistant: dict[str, Any], user: list[dict[str, Any]] | None = None) -> Any:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "go"}, *(user or [])]},
            {"role": "assistant", "content": [*assistant, {"type": "text", "text": "done"}]},
            {"role": "user", "content": "next"},
        ],
    }


def _use(ident: str, name: str, **tool_input: Any) -> dict[str, Any]:
    return {"type": "server_tool_use", "id": ident, "name": name, "input": tool_input}


WEB_FETCH = {
    "type": "web_fetch_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": {
        "type": "web_fetch_result",
        "url": "https://example.test/page",
        "retrieved_at": "2025-09-01T00:00:00Z",
        "content": {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "Fetched page body."},
            "title": "Example page",
        },
    },
}
CODE = {
    "type": "code_execution_tool_result",
    "tool_use_id": "srvtoolu_2",
    "content": {
        "type": "code_execution_result",
        "stdout": "42\n",
        "stderr": "a warning",
        "return_code": 0,
        "content": [{"type": "code_execution_output", "file_id": "file_out"}],
    },
}
BASH = {
    "type": "bash_code_execution_tool_result",
    "tool_use_id": "srvtoolu_3",
    "content": {
        "type": "bash_code_execution_result",
        "stdout": "listing.txt",
        "stderr": "",
        "return_code": 2,
        "content": [],
    },
}
EDITOR = {
    "type": "text_editor_code_execution_tool_result",
    "tool_use_id": "srvtoolu_4",
    "content": {
        "type": "text_editor_code_execution_view_result",
        "content": "first line of the file",
        "file_type": "text",
    },
}
MCP_USE = {
    "type": "mcp_tool_use",
    "id": "mcptoolu_1",
    "name": "lookup",
    "server_name": "wiki",
    "input": {"term": "apibridge"},
}
MCP_RESULT = {
    "type": "mcp_tool_result",
    "tool_use_id": "mcptoolu_1",
    "is_error": False,
    "content": [{"type": "text", "text": "a translation library"}],
}
SEARCH = {
    "type": "search_result",
    "source": "https://docs.test/a",
    "title": "Doc A",
    "content": [{"type": "text", "text": "Doc A says hello."}],
}

#: (assistant blocks, user blocks, the texts the target must hold, the blocks sent as text).
ANTHROPIC_CASES: list[tuple[list[Any], list[Any], list[str], list[str]]] = [
    (
        [_use("srvtoolu_1", "web_fetch", url="https://example.test/page"), WEB_FETCH],
        [],
        ["https://example.test/page", "Fetched page body.", "Example page"],
        ["messages[1].content[0]", "messages[1].content[1]"],
    ),
    (
        [_use("srvtoolu_2", "code_execution", code="print(42)"), CODE],
        [],
        ["print(42)", "42\n", "a warning", "return code 0", "file_out"],
        ["messages[1].content[0]", "messages[1].content[1]"],
    ),
    ([BASH], [], ["listing.txt", "return code 2"], ["messages[1].content[0]"]),
    ([EDITOR], [], ["first line of the file"], ["messages[1].content[0]"]),
    (
        [MCP_USE, MCP_RESULT],
        [],
        ["wiki.lookup", '"term"', "a translation library"],
        ["messages[1].content[0]", "messages[1].content[1]"],
    ),
    (
        [],
        [SEARCH],
        ["Doc A says hello.", "https://docs.test/a", "Doc A"],
        ["messages[0].content[1]"],
    ),
]


@pytest.mark.parametrize("target", ["chat", "responses"])
@pytest.mark.parametrize(("assistant", "user", "texts", "flattened"), ANTHROPIC_CASES)
def test_fidelity_22_anthropic_server_blocks_reach_openai_history_as_text(
    target: str, assistant: list[Any], user: list[Any], texts: list[str], flattened: list[str]
) -> None:
    out, losses = _convert(_anthropic(*assistant, user=user), "anthropic", target)
    joined = "\n".join(_texts(out, target))
    for text in texts:
        assert text in joined, text
    for field in flattened:
        assert losses[field].action == "sent as text"
    assert "done" in joined  # the turn's own text stays after the flattened blocks


def test_fidelity_22_the_text_stays_in_its_turn() -> None:
    """Flattened results sit in the assistant turn that held them, a search result in the
    user turn: one Responses message per turn, not one per block."""
    body = _anthropic(_use("srvtoolu_2", "code_execution", code="1"), CODE, user=[SEARCH])
    out, _ = _convert(body, "anthropic", "responses")
    roles = [item.get("role") for item in out["input"]]
    assert roles == ["user", "assistant", "user"]


def test_fidelity_22_search_results_inside_a_tool_result() -> None:
    """A ``tool_result`` of ``search_result`` blocks reached OpenAI upstreams empty; its text
    now does, and an Anthropic upstream still gets the blocks exactly as they came."""
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{**SEARCH, "citations": {"enabled": True}}],
    }
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "find"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "kb", "input": {}}],
            },
            {"role": "user", "content": [result]},
        ],
    }
    same, losses = _convert(copy.deepcopy(body), "anthropic", "anthropic")
    assert same["messages"][2]["content"] == [result]
    assert not losses
    chat, losses = _convert(body, "anthropic", "chat")
    tool = chat["messages"][-1]
    assert tool["role"] == "tool"
    assert "Doc A says hello." in tool["content"]
    assert "https://docs.test/a" in tool["content"]
    assert "messages[2].content[0].content[0].search_result" in losses  # the citation switch
    responses, _ = _convert(body, "anthropic", "responses")
    assert "Doc A says hello." in responses["input"][-1]["output"]


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_fidelity_22_blocks_without_a_text_form_stay_reported(target: str) -> None:
    upload = {"type": "container_upload", "file_id": "file_up"}
    encrypted = {
        "type": "code_execution_tool_result",
        "tool_use_id": "srvtoolu_9",
        "content": {
            "type": "encrypted_code_execution_result",
            "encrypted_stdout": "opaque",
            "stderr": "",
            "return_code": 0,
            "content": [],
        },
    }
    pdf_fetch = copy.deepcopy(WEB_FETCH)
    pdf_fetch["content"]["content"]["source"] = {
        "type": "base64",
        "media_type": "application/pdf",
        "data": "JVBERi0=",
    }
    out, losses = _convert(_anthropic(encrypted, pdf_fetch, user=[upload]), "anthropic", target)
    for field in ("messages[0].content[1]", "messages[1].content[0]", "messages[1].content[1]"):
        assert losses[field].action != "sent as text", field
    assert "opaque" not in "\n".join(_texts(out, target))


def _responses(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "gpt-5",
        "input": [
            {"type": "message", "role": "user", "content": "go"},
            *items,
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "done", "annotations": []}],
            },
            {"type": "message", "role": "user", "content": "next"},
        ],
    }


RESPONSES_CASES: list[tuple[dict[str, Any], list[str]]] = [
    (
        {
            "type": "web_search_call",
            "id": "ws_1",
            "status": "completed",
            "action": {
                "type": "search",
                "query": "weather paris",
                "sources": [{"type": "url", "url": "https://meteo.test"}],
            },
        },
        ["weather paris", "https://meteo.test"],
    ),
    (
        {
            "type": "code_interpreter_call",
            "id": "ci_1",
            "status": "completed",
            "container_id": "cntr_1",
            "code": "print(6*7)",
            "outputs": [{"type": "logs", "logs": "42"}],
        },
        ["print(6*7)", "42"],
    ),
    (
        {
            "type": "file_search_call",
            "id": "fs_1",
            "status": "completed",
            "queries": ["refund policy"],
            "results": [{"file_id": "file_1", "filename": "policy.md", "text": "30 days"}],
        },
        ["refund policy", "policy.md", "30 days"],
    ),
    (
        {
            "type": "mcp_list_tools",
            "id": "ml_1",
            "server_label": "wiki",
            "tools": [{"name": "lookup", "input_schema": {}, "description": "Look a term up"}],
        },
        ["wiki", "lookup", "Look a term up"],
    ),
    (
        {
            "type": "mcp_call",
            "id": "mc_1",
            "server_label": "wiki",
            "name": "lookup",
            "arguments": '{"term":"x"}',
            "output": "a letter",
        },
        ["wiki.lookup", '{"term":"x"}', "a letter"],
    ),
    (
        {
            "type": "computer_call",
            "id": "cu_1",
            "call_id": "call_c",
            "status": "completed",
            "pending_safety_checks": [],
            "action": {"type": "click", "x": 10, "y": 20, "button": "left"},
        },
        ["call_c", '"click"'],
    ),
]


@pytest.mark.parametrize("target", ["chat", "anthropic"])
@pytest.mark.parametrize(("item", "texts"), RESPONSES_CASES)
def test_fidelity_22_responses_server_items_reach_other_history_as_text(
    target: str, item: dict[str, Any], texts: list[str]
) -> None:
    out, losses = _convert(_responses(item), "responses", target)
    joined = "\n".join(_texts(out, target))
    for text in texts:
        assert text in joined, text
    assert losses["messages[1].content[0]"].action == "sent as text"


@pytest.mark.parametrize("target", ["chat", "anthropic"])
def test_fidelity_22_a_computer_screenshot_becomes_an_image_in_the_user_turn(target: str) -> None:
    shot = {
        "type": "computer_call_output",
        "call_id": "call_c",
        "output": {
            "type": "computer_screenshot",
            "image_url": "data:image/png;base64,iVBORw0KGgo=",
        },
    }
    out, _ = _convert(_responses(RESPONSES_CASES[-1][0], shot), "responses", target)
    turn = out["messages"][2]
    assert turn["role"] == "user"
    kinds = [entry["type"] for entry in turn["content"]]
    assert kinds == ["text", "image_url" if target == "chat" else "image"]


@pytest.mark.parametrize("target", ["chat", "anthropic"])
def test_fidelity_22_a_generated_image_in_history_stays_reported(target: str) -> None:
    image = {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": "xx"}
    _, losses = _convert(_responses(image), "responses", target)
    assert losses["messages[1].content[0]"].action == "dropped"


@given(
    stdout=st.text(min_size=1, max_size=40).filter(str.strip),
    stderr=st.text(max_size=40),
    code=st.integers(min_value=0, max_value=255),
)
def test_fidelity_22_any_stdout_reaches_a_chat_upstream(
    stdout: str, stderr: str, code: int
) -> None:
    block = copy.deepcopy(BASH)
    block["content"].update(stdout=stdout, stderr=stderr, return_code=code)
    out, _ = _convert(_anthropic(block), "anthropic", "chat")
    (text, *_) = _texts(out, "chat")[1:]
    assert stdout in text
    assert stderr in text
    assert f"return code {code}" in text


def test_fidelity_22_backboard_history_holds_the_text_too() -> None:
    """backboard threads take the history as text: the blocks' text is written in place (it
    was reported and left out)."""
    losses: list[Loss] = []
    body = _anthropic(_use("srvtoolu_2", "code_execution", code="print(42)"), CODE, user=[SEARCH])
    out = apibridge.convert_request(body, source="anthropic", target="backboard", losses=losses)
    for text in ("print(42)", "42\n", "a warning", "Doc A says hello.", "https://docs.test/a"):
        assert text in out["content"], text
    sent = {loss.field for loss in losses if loss.action == "sent as text"}
    assert sent == {"messages[0].content[1]", "messages[1].content[0]", "messages[1].content[1]"}
