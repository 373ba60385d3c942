"""The gateway's HTTP surface: routing, auth, limits, errors in the client's own envelope,
models, count_tokens, request ids, the admin view, and the request policies (rename, beta
headers, late system messages, output limits)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from calls import anthropic_client, openai_client
from servers import ADMIN_KEY, CLIENT_KEY, ScriptedUpstream, upstream_key

from oracles import validate_error

ENDPOINT = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}
AUTH = {"x-api-key": CLIENT_KEY, "content-type": "application/json"}


def minimal(fmt: str, model: str, text: str = "hi", **extra: Any) -> dict[str, Any]:
    if fmt == "anthropic":
        return {
            "model": model,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": text}],
            **extra,
        }
    if fmt == "chat":
        return {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return {"model": model, "input": text, **extra}


def post(url: str, fmt: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        url + ENDPOINT[fmt], json=body, headers={**AUTH, **(headers or {})}, timeout=20
    )


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_fidelity_9_malformed_json_is_400_in_the_clients_envelope(gateway: str, fmt: str) -> None:
    response = httpx.post(gateway + ENDPOINT[fmt], content=b"{nope", headers=AUTH)
    assert response.status_code == 400
    validate_error(fmt, 400, response.json())
    assert "JSON" in response.text


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_unknown_model_is_404(gateway: str, fmt: str) -> None:
    response = post(gateway, fmt, minimal(fmt, "no-such-model"))
    assert response.status_code == 404
    validate_error(fmt, 404, response.json())
    assert "no-such-model" in response.text


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_invalid_request_names_the_field(gateway: str, fmt: str) -> None:
    response = post(gateway, fmt, {"model": 42})
    assert response.status_code == 400
    validate_error(fmt, 400, response.json())
    assert "model" in response.text


def test_wrong_method_is_405_with_allow(gateway: str) -> None:
    response = httpx.get(gateway + "/v1/messages", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    validate_error("anthropic", 405, response.json())
    response = httpx.delete(gateway + "/v1/chat/completions", headers=AUTH)
    assert response.status_code == 405
    validate_error("chat", 405, response.json())


def test_unknown_path_is_404_in_the_shape_the_headers_suggest(gateway: str) -> None:
    response = httpx.get(gateway + "/v1/nothing", headers=AUTH)
    assert response.status_code == 404
    validate_error("chat", 404, response.json())
    response = httpx.get(gateway + "/v1/nothing", headers={**AUTH, "anthropic-version": "x"})
    validate_error("anthropic", 404, response.json())


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_client_key(gateway: str, fmt: str) -> None:
    body = minimal(fmt, "chat-model")
    missing = httpx.post(gateway + ENDPOINT[fmt], json=body)
    assert missing.status_code == 401
    validate_error(fmt, 401, missing.json())
    wrong = httpx.post(gateway + ENDPOINT[fmt], json=body, headers={"x-api-key": "nope"})
    assert wrong.status_code == 401
    bearer = {"authorization": f"Bearer {CLIENT_KEY}"}
    assert httpx.post(gateway + ENDPOINT[fmt], json=body, headers=bearer).status_code == 200
    assert httpx.post(gateway + ENDPOINT[fmt], json=body, headers=AUTH).status_code == 200


def test_body_limit(gateway: str) -> None:
    big = minimal("chat", "chat-model", text="x" * 600_000)
    response = post(gateway, "chat", big)
    assert response.status_code == 413
    validate_error("chat", 413, response.json())

    def chunks() -> Any:  # no Content-Length: the limit applies to the bytes read
        yield b'{"model": "chat-model", "messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"y" * 10_000
        yield b'"}]}'

    response = httpx.post(gateway + "/v1/messages", content=chunks(), headers=AUTH)
    assert response.status_code == 413
    validate_error("anthropic", 413, response.json())


def test_health_and_head_probe(gateway: str) -> None:
    assert httpx.get(gateway + "/health").json() == {"status": "ok"}
    head = httpx.head(gateway + "/")
    assert head.status_code == 200
    assert head.content == b""


def test_request_id(gateway: str) -> None:
    response = post(gateway, "chat", minimal("chat", "chat-model"), {"x-request-id": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    response = post(gateway, "chat", minimal("chat", "chat-model"))
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["request-id"] == response.headers["x-request-id"]


def test_models_in_both_shapes(gateway: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    listed = anthropic_client(gateway, CLIENT_KEY).models.list()
    ids = [m.id for m in listed.data]
    assert "anthropic-model" in ids
    assert "chat-model" in ids
    assert "listed-model" in ids  # from the anthropic upstream's own list, via "listed-*"
    assert all(m.type == "model" for m in listed.data)
    openai_ids = [m.id for m in openai_client(gateway, CLIENT_KEY).models.list()]
    assert openai_ids == ids
    one = openai_client(gateway, CLIENT_KEY).models.retrieve("chat-model")
    assert one.id == "chat-model"
    response = httpx.get(gateway + "/v1/models/unknown-thing", headers=AUTH)
    assert response.status_code == 404


def test_fidelity_7_count_tokens_upstream_count_or_a_said_estimate(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    client = anthropic_client(gateway, CLIENT_KEY)
    messages: Any = [{"role": "user", "content": "How many tokens is this? " * 20}]
    # an Anthropic upstream counts for itself
    exact = client.messages.with_raw_response.count_tokens(
        model="anthropic-model", messages=messages
    )
    assert exact.parse().input_tokens == 4242
    assert "x-apibridge-token-count" not in exact.headers
    sent = upstreams["anthropic"].requests[-1]
    assert sent["path"] == "/v1/messages/count_tokens"
    assert "max_tokens" not in sent["body"]
    assert "stream" not in sent["body"]
    # anything else: a local estimate, said to be one
    estimate = client.messages.with_raw_response.count_tokens(model="chat-model", messages=messages)
    assert estimate.headers["x-apibridge-token-count"] == "estimate"
    assert 100 < estimate.parse().input_tokens < 300
    assert upstreams["chat"].requests == []


def test_admin_view(gateway: str) -> None:
    assert httpx.get(gateway + "/admin/state").status_code == 401
    response = httpx.get(gateway + "/admin/state", headers={"x-admin-key": ADMIN_KEY})
    assert response.status_code == 200
    state = response.json()
    assert {u["name"] for u in state["upstreams"]} >= {"anthropic", "chat", "responses"}
    assert upstream_key("chat") not in response.text
    # the client key is not the admin key
    assert httpx.get(gateway + "/admin/state", headers=AUTH).status_code == 401


def test_route_rename(gateway: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    response = post(gateway, "anthropic", minimal("anthropic", "claude-sonnet-9"))
    assert response.status_code == 200
    assert upstreams["chat"].last_request()["model"] == "renamed-model"


def test_fidelity_15_max_tokens_clamped_to_the_upstream_limit(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    body = minimal("anthropic", "chat-fast-model")
    body["max_tokens"] = 64000
    assert post(gateway, "anthropic", body).status_code == 200
    sent = upstreams["chat"].last_request()
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 1000


BETA = "context-management-2025-06-27,interleaved-thinking-2025-05-14"


def test_fidelity_10_beta_headers_forwarded_unchanged_to_anthropic(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    edits = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    body = minimal("anthropic", "anthropic-model", context_management=edits)
    headers = {"anthropic-beta": BETA, "anthropic-version": "2023-06-01"}
    assert post(gateway, "anthropic", body, headers).status_code == 200
    sent = upstreams["anthropic"].requests[-1]
    assert sent["headers"]["anthropic-beta"] == BETA
    assert sent["body"]["context_management"] == edits


@pytest.mark.parametrize("target", ["chat", "responses"])
def test_fidelity_10_beta_fields_removed_or_translated_for_other_upstreams(
    gateway: str, upstreams: dict[str, ScriptedUpstream], target: str
) -> None:
    edits = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    body = minimal(
        "anthropic", f"{target}-model", context_management=edits, output_config={"effort": "low"}
    )
    response = post(gateway, "anthropic", body, {"anthropic-beta": BETA})
    assert response.status_code == 200, response.text
    sent = upstreams[target].requests[-1]
    assert "anthropic-beta" not in sent["headers"]
    assert "context_management" not in sent["body"]
    assert "output_config" not in sent["body"]
    effort = sent["body"].get("reasoning_effort") or sent["body"].get("reasoning", {}).get("effort")
    assert effort == "low"


def test_context_edits_applied_before_sending_to_a_chat_upstream(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    edit = {
        "type": "clear_tool_uses_20250919",
        "trigger": {"type": "tool_uses", "value": 1},
        "keep": {"type": "tool_uses", "value": 1},
    }
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for i in range(3):
        call = {"type": "tool_use", "id": f"t{i}", "name": "ls", "input": {}}
        result = {"type": "tool_result", "tool_use_id": f"t{i}", "content": f"listing {i}"}
        messages += [
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [result]},
        ]
    body = minimal("anthropic", "chat-model", context_management={"edits": [edit]})
    body["messages"] = messages
    response = post(gateway, "anthropic", body, {"anthropic-beta": BETA})
    assert response.status_code == 200, response.text
    sent = upstreams["chat"].last_request()
    results = [m["content"] for m in sent["messages"] if m["role"] == "tool"]
    assert results[2] == "listing 2"
    assert results[0] == results[1] != "listing 0"


def test_responses_compaction_reaches_an_anthropic_upstream_with_its_beta(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    body = minimal("responses", "anthropic-model", context_management=[{"type": "compaction"}])
    assert post(gateway, "responses", body).status_code == 200
    sent = upstreams["anthropic"].requests[-1]
    assert sent["body"]["context_management"] == {"edits": [{"type": "compact_20260112"}]}
    assert sent["headers"]["anthropic-beta"] == "compact-2026-01-12"


def test_late_system_message(gateway: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    messages = [
        {"role": "user", "content": "hello"},
        {"role": "system", "content": "Answer briefly."},
    ]
    body = {"model": "chat-model", "max_tokens": 64, "system": "Be kind.", "messages": messages}
    response = post(gateway, "anthropic", body)
    assert response.status_code == 200, response.text
    sent = upstreams["chat"].last_request()["messages"]
    roles = [m["role"] for m in sent]
    assert roles[0] == "system"
    assert "system" not in roles[1:]
    system_text = str(sent[0]["content"])
    assert "Be kind." in system_text
    assert "Answer briefly." in system_text
    # the Responses API takes system items anywhere: it stays in place there
    body["model"] = "responses-model"
    assert post(gateway, "anthropic", body).status_code == 200
    items = upstreams["responses"].last_request()["input"]
    assert any(i.get("role") in ("system", "developer") for i in items[1:])
    # an Anthropic upstream gets a Claude client's turns as they came (Claude Code's own
    # trailing system turn included); a Chat client's late system message is moved
    body["model"] = "anthropic-model"
    assert post(gateway, "anthropic", body).status_code == 200
    assert upstreams["anthropic"].last_request()["messages"] == messages
    chat_body = {
        "model": "anthropic-model",
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "hello"},
            {"role": "system", "content": "Answer briefly."},
        ],
    }
    assert post(gateway, "chat", chat_body).status_code == 200
    sent_body = upstreams["anthropic"].last_request()
    assert all(m["role"] != "system" for m in sent_body["messages"])
    assert "Answer briefly." in str(sent_body["system"])
