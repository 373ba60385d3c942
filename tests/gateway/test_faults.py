"""Upstream faults: each gives the client a correct error in its own format, and a retry
happens only while nothing has reached the client."""

from __future__ import annotations

import anthropic
import openai
import pytest
from calls import FORMATS, anthropic_client, assert_in_band_error, call, frames, openai_client
from servers import CLIENT_KEY, Plan, ScriptedUpstream, upstream_key

from oracles import validate_error

# ------------------------------------------------------------------------- before any byte


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_refused_connection_is_502(gateway: str, fmt: str, stream: bool) -> None:
    response = call(gateway, fmt, "dead-model", stream=stream)
    assert response.status_code == 502
    validate_error(fmt, 502, response.json())
    assert "dead" in response.text
    assert "refused" in response.text  # said in words, not as a misleading "ConnectTimeout"


@pytest.mark.parametrize("fmt", FORMATS)
def test_429_with_short_retry_after_is_retried(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    upstreams["chat"].plan(Plan(kind="status", status=429, headers={"retry-after": "0"}))
    response = call(gateway, fmt, "chat-model")
    assert response.status_code == 200, response.text
    assert len(upstreams["chat"].requests) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_fidelity_9_429_reaches_the_client_with_its_retry_hint(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    upstreams["anthropic"].plan(
        Plan(kind="status", status=429, headers={"retry-after": "30"}, message="slow down")
    )
    response = call(gateway, fmt, "anthropic-model")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    validate_error(fmt, 429, response.json())
    assert "slow down" in response.text
    assert len(upstreams["anthropic"].requests) == 1


def test_429_through_the_sdk_carries_the_hint(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    upstreams["responses"].plan(Plan(kind="status", status=429, headers={"retry-after": "30"}))
    with pytest.raises(openai.RateLimitError) as caught:
        openai_client(gateway, CLIENT_KEY).chat.completions.create(
            model="responses-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.response.headers["retry-after"] == "30"


@pytest.mark.parametrize("fmt", FORMATS)
def test_fidelity_9_529_retried_then_reported(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    overloaded = Plan(kind="status", status=529, message="Overloaded")
    upstreams["anthropic"].plan(overloaded, overloaded, overloaded)
    response = call(gateway, fmt, "anthropic-model")
    assert len(upstreams["anthropic"].requests) == 3  # the first try and two retries
    assert response.status_code in (503, 529)
    validate_error(fmt, response.status_code, response.json())
    if fmt == "anthropic":
        assert response.status_code == 529
        assert response.json()["error"]["type"] == "overloaded_error"


def test_529_through_the_anthropic_sdk(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    overloaded = Plan(kind="status", status=529, message="Overloaded")
    upstreams["chat"].plan(overloaded, overloaded, overloaded)
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_client(gateway, CLIENT_KEY).messages.create(
            model="chat-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code in (503, 529)


@pytest.mark.parametrize("fmt", FORMATS)
def test_500_then_success(gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str) -> None:
    upstreams["responses"].plan(Plan(kind="status", status=500))
    response = call(gateway, fmt, "responses-model", stream=True)
    assert response.status_code == 200
    assert len(upstreams["responses"].requests) == 2
    assert "error" not in {name for name, _ in frames(response.content)}
    assert "response.failed" not in response.text


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(
    gateway: str, upstreams: dict[str, ScriptedUpstream], status: int
) -> None:
    secret = upstream_key("chat")
    message = f"Incorrect API key provided: {secret}. Key sk-proj-****abcd is masked."
    upstreams["chat"].plan(Plan(kind="status", status=status, message=message))
    response = call(gateway, "anthropic", "chat-model")
    assert response.status_code == status
    validate_error("anthropic", status, response.json())
    assert len(upstreams["chat"].requests) == 1
    assert secret not in response.text
    assert "abcd" not in response.text


# ------------------------------------------------------------------------- after the start


@pytest.mark.parametrize("upstream_format", FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_fidelity_9_stream_cut_midway_ends_in_band(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str, upstream_format: str
) -> None:
    upstreams[upstream_format].plan(Plan(kind="cut", events=4))
    response = call(gateway, fmt, f"{upstream_format}-model", stream=True)
    assert response.status_code == 200
    error = assert_in_band_error(fmt, response.content)
    assert error["message"]
    assert len(upstreams[upstream_format].requests) == 1  # never retried once begun


def test_stream_cut_through_the_sdks(gateway: str, upstreams: dict[str, ScriptedUpstream]) -> None:
    upstreams["chat"].plan(Plan(kind="cut", events=3), Plan(kind="cut", events=3))
    with (
        pytest.raises(anthropic.APIStatusError),
        anthropic_client(gateway, CLIENT_KEY).messages.stream(
            model="chat-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as events,
    ):
        for _ in events:
            pass
    stream = openai_client(gateway, CLIENT_KEY).chat.completions.create(
        model="chat-model", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_json_from_upstream(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    upstream = upstreams["chat"]
    upstream.plan(Plan(kind="invalid_json"))
    response = call(gateway, fmt, "chat-model")
    assert response.status_code == 502
    validate_error(fmt, 502, response.json())
    # in a stream, before the first event: still an HTTP error
    upstream.plan(Plan(kind="invalid_json", events=0))
    response = call(gateway, fmt, "chat-model", stream=True)
    assert response.status_code == 502
    validate_error(fmt, 502, response.json())
    # after the first event: in-band
    upstream.plan(Plan(kind="invalid_json", events=3))
    response = call(gateway, fmt, "chat-model", stream=True)
    assert response.status_code == 200
    assert "JSON" in assert_in_band_error(fmt, response.content)["message"]
    assert len(upstream.requests) == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_oversized_upstream_event_is_a_502_in_the_client_format(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    upstream = upstreams["chat"]
    # before the first event: an HTTP error
    upstream.plan(Plan(kind="huge_event", events=0))
    response = call(gateway, fmt, "chat-model", stream=True)
    assert response.status_code == 502
    validate_error(fmt, 502, response.json())
    assert "larger than 8388608 bytes" in response.text
    # after the first event: in-band
    upstream.plan(Plan(kind="huge_event", events=3))
    response = call(gateway, fmt, "chat-model", stream=True)
    assert response.status_code == 200
    assert "larger than" in assert_in_band_error(fmt, response.content)["message"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_stalled_stream_hits_the_idle_timeout(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str
) -> None:
    upstreams["anthropic"].plan(Plan(kind="slow", events=4, delay=1.5))
    response = call(gateway, fmt, "anthropic-fast-model", stream=True)
    assert response.status_code == 200
    error = assert_in_band_error(fmt, response.content)
    assert "0.6" in error["message"]
    assert len(upstreams["anthropic"].requests) == 1


def test_slow_answer_hits_the_first_byte_timeout(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    upstreams["chat"].plan(Plan(kind="slow", delay=2.5))
    response = call(gateway, "responses", "chat-fast-model")
    assert response.status_code == 504
    validate_error("responses", 504, response.json())
    assert len(upstreams["chat"].requests) == 1  # the upstream may be working: no retry


def test_in_band_error_as_first_event_is_retried(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    upstreams["anthropic"].plan(Plan(kind="stream_error"))
    response = call(gateway, "chat", "anthropic-model", stream=True)
    assert response.status_code == 200
    assert len(upstreams["anthropic"].requests) == 2
    assert frames(response.content)[-1][1] == "[DONE]"
    upstreams["anthropic"].plan(*[Plan(kind="stream_error")] * 3)
    response = call(gateway, "chat", "anthropic-model", stream=True)
    assert response.status_code in (503, 529)
    validate_error("chat", response.status_code, response.json())


@pytest.mark.parametrize(("code", "status"), [("rate_limit_exceeded", 429), ("server_error", 500)])
@pytest.mark.parametrize("fmt", ["anthropic", "chat"])
def test_fidelity_9_failed_responses_answer_is_an_error_in_the_clients_format(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str, code: str, status: int
) -> None:
    upstreams["responses"].plan(Plan(kind="failed", message=code))
    response = call(gateway, fmt, "responses-model")
    assert response.status_code == status, response.text
    validate_error(fmt, status, response.json())
    assert f"scripted {code}" in response.text


def test_failed_responses_answer_stays_a_failed_response_for_a_responses_client(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    upstreams["responses"].plan(Plan(kind="failed", message="server_error"))
    response = call(gateway, "responses", "responses-model")
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"]["code"] == "server_error"


@pytest.mark.parametrize("status", [500, 529])
def test_500_and_529_with_a_short_retry_after_are_retried_after_it(
    gateway: str, upstreams: dict[str, ScriptedUpstream], status: int
) -> None:
    upstreams["anthropic"].plan(Plan(kind="status", status=status, headers={"retry-after": "0"}))
    response = call(gateway, "responses", "anthropic-model")
    assert response.status_code == 200, response.text
    assert len(upstreams["anthropic"].requests) == 2


@pytest.mark.parametrize("status", [500, 529])
@pytest.mark.parametrize("fmt", FORMATS)
def test_500_and_529_with_a_long_retry_after_reach_the_client_with_the_hint(
    gateway: str, upstreams: dict[str, ScriptedUpstream], fmt: str, status: int
) -> None:
    upstreams["anthropic"].plan(
        Plan(kind="status", status=status, headers={"retry-after": "30"}, message="busy")
    )
    response = call(gateway, fmt, "anthropic-model")
    assert len(upstreams["anthropic"].requests) == 1  # a wait past max_retry_after: no retry
    assert response.headers["retry-after"] == "30"
    validate_error(fmt, response.status_code, response.json())
    assert response.status_code == status
    assert "busy" in response.text
