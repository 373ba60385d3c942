"""Input a client's API refuses is refused by the gateway too, with that API's own 400, before
any upstream is called (issue 14, "Input that must be refused with the client's own 400").

The Anthropic case goes through the Anthropic SDK as well (``BadRequestError``); library use
is unchanged where the API would not refuse (``convert_request`` from Anthropic without
``max_tokens`` still defaults it, ``count_tokens`` takes no ``max_tokens`` at all).
"""

from __future__ import annotations

import warnings
from typing import Any

import anthropic
import httpx
import openai
import pytest
from calls import ENDPOINT, anthropic_client, openai_client
from servers import CLIENT_KEY, ScriptedUpstream

import apibridge
from apibridge.errors import InvalidPayload
from oracles import validate_error

USER = {"role": "user", "content": "hello"}


def _post(gateway: str, fmt: str, body: dict[str, Any], path: str | None = None) -> httpx.Response:
    return httpx.post(
        gateway + (path or ENDPOINT[fmt]), json=body, headers={"x-api-key": CLIENT_KEY}, timeout=20
    )


def _assert_refused(
    response: httpx.Response, fmt: str, words: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    assert response.status_code == 400, response.text
    validate_error(fmt, 400, response.json())
    assert response.json()["error"]["type"] == "invalid_request_error"  # both envelopes' word
    assert words in response.json()["error"]["message"]
    assert not any(u.requests for u in upstreams.values())  # refused before any upstream call


# ------------------------------------------------------------------ Anthropic max_tokens


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream", ["anthropic", "chat", "responses"])
def test_anthropic_request_without_max_tokens_is_refused(
    gateway: str, upstreams: dict[str, ScriptedUpstream], upstream: str, stream: bool
) -> None:
    body = {"model": f"{upstream}-model", "messages": [USER], "stream": stream}
    response = _post(gateway, "anthropic", body)
    _assert_refused(response, "anthropic", "max_tokens", upstreams)
    assert response.json()["error"]["message"].startswith("max_tokens")


@pytest.mark.parametrize("value", [-1, -4096, 0])
@pytest.mark.parametrize("upstream", ["anthropic", "chat", "responses"])
def test_anthropic_request_with_max_tokens_below_one_is_refused(
    gateway: str, upstreams: dict[str, ScriptedUpstream], upstream: str, value: int
) -> None:
    body = {"model": f"{upstream}-model", "max_tokens": value, "messages": [USER]}
    response = _post(gateway, "anthropic", body)
    _assert_refused(response, "anthropic", f"got {value}", upstreams)


def test_anthropic_sdk_gets_a_bad_request_error_for_a_negative_max_tokens(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client(gateway, CLIENT_KEY).messages.create(
            model="chat-model", max_tokens=-5, messages=[{"role": "user", "content": "hi"}]
        )
    assert "max_tokens" in str(caught.value)
    assert not upstreams["chat"].requests


def test_count_tokens_needs_no_max_tokens(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    body = {"model": "anthropic-model", "messages": [USER]}
    response = _post(gateway, "anthropic", body, "/v1/messages/count_tokens")
    assert response.status_code == 200, response.text
    assert response.json() == {"input_tokens": 4242}


def test_library_conversion_from_anthropic_without_max_tokens_still_works() -> None:
    body = {"model": "claude-x", "messages": [USER]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = apibridge.convert_request(body, source="anthropic", target="chat")
    assert out["messages"][-1]["content"] == "hello"
    assert "max_tokens" not in out
    assert "max_completion_tokens" not in out


def test_library_conversion_refuses_a_negative_max_tokens() -> None:
    body = {"model": "claude-x", "max_tokens": -1, "messages": [USER]}
    with pytest.raises(InvalidPayload, match="max_tokens"):
        apibridge.convert_request(body, source="anthropic", target="chat")


# ------------------------------------------------------------------ Responses


@pytest.mark.parametrize("upstream", ["anthropic", "chat", "responses"])
def test_responses_request_with_negative_max_output_tokens_is_refused(
    gateway: str, upstreams: dict[str, ScriptedUpstream], upstream: str
) -> None:
    body = {"model": f"{upstream}-model", "input": "hi", "max_output_tokens": -1}
    response = _post(gateway, "responses", body)
    _assert_refused(response, "responses", "max_output_tokens", upstreams)


BAD_ITEMS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown_role": ({"role": "bot", "content": "hi"}, "input[1].role: unknown role 'bot'"),
    "typed_unknown_role": (
        {"type": "message", "role": "tool", "content": "hi"},
        "input[1].role: unknown role 'tool'",
    ),
    "neither_type_nor_role": ({"content": "hi"}, "input[1]: an item needs a type or a role"),
    "reference_without_id": ({"type": "item_reference"}, "input[1].id"),
}


@pytest.mark.parametrize("case", list(BAD_ITEMS))
@pytest.mark.parametrize("upstream", ["anthropic", "chat", "responses"])
def test_responses_input_item_without_a_known_role_is_refused(
    gateway: str, upstreams: dict[str, ScriptedUpstream], upstream: str, case: str
) -> None:
    item, words = BAD_ITEMS[case]
    body = {"model": f"{upstream}-model", "input": [USER, item]}
    response = _post(gateway, "responses", body)
    _assert_refused(response, "responses", words, upstreams)
    with pytest.raises(InvalidPayload, match="input"):
        apibridge.convert_request(body, source="responses", target=upstream)


def test_openai_sdk_gets_a_bad_request_error_for_an_unknown_input_role(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(gateway, CLIENT_KEY).responses.create(
            model="chat-model",
            input=[{"role": "bot", "content": "hi"}],  # type: ignore[list-item]
        )
    assert "unknown role" in str(caught.value)
    assert not upstreams["chat"].requests


def test_responses_item_reference_without_type_but_with_id_is_still_a_reference() -> None:
    body = {"model": "m", "input": [USER, {"id": "msg_1"}]}
    out = apibridge.convert_request(body, source="responses", target="responses")
    assert out["input"][-1] == {"id": "msg_1"}
