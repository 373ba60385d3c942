"""A Gemini upstream behind the gateway, for clients of every format: its URLs and key, the
thought signatures of its calls carried back to it, calls without ids (Gemini 2.5), its
own token count and model list, its errors before and during a stream, and
``apibridge serve --upstream gemini=URL``.

The upstream is :class:`servers.ScriptedUpstream` speaking Gemini's wire format, written by
hand (independent of the codec); the requests it received are read back and checked with the
``google-genai`` types (:func:`calls.validate_gemini_request`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from calls import (
    SCHEMA,
    TOOL_RESULT,
    anthropic_client,
    assert_in_band_error,
    call,
    check_error,
    gemini_client,
    openai_client,
    round_trip,
    validate_gemini_request,
)
from servers import (
    CLIENT_KEY,
    Plan,
    ScriptedUpstream,
    serve_asgi,
    signature_for,
    upstream_key,
)

from apibridge.asgi import App
from apibridge.codecs.gemini._wire import MADE_ID_PREFIX, PLACEHOLDER_SIGNATURE
from apibridge.config import GatewayConfig, Retries, Route, ServerConfig, UpstreamConfig

CLIENTS = ("anthropic", "chat", "responses", "gemini")


def model_turn_calls(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The function-call parts of the model turns of a Gemini request."""
    return [
        part
        for content in body["contents"]
        if content.get("role") == "model"
        for part in content["parts"]
        if "functionCall" in part
    ]


def responses_replaying(url: str, model: str, *, stream: bool) -> tuple[str, str]:
    """A Responses tool round trip that sends every output item of the first answer back
    (its reasoning items with their ``encrypted_content`` too), stateless (``store: false``)."""
    client = openai_client(url, CLIENT_KEY)
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": SCHEMA}]
    items: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]

    def ask() -> Any:
        options: Any = {"include": ["reasoning.encrypted_content"], "store": False}
        if stream:
            with client.responses.stream(model=model, input=items, tools=tools, **options) as s:
                for _ in s:
                    pass
                return s.get_final_response()
        return client.responses.create(model=model, input=items, tools=tools, **options)

    first = ask()
    [called] = [o for o in first.output if o.type == "function_call"]
    items.extend(o.model_dump(exclude_none=True) for o in first.output)
    items.append({"type": "function_call_output", "call_id": called.call_id, "output": TOOL_RESULT})
    return ask().output_text, called.call_id


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", CLIENTS)
def test_a_calls_thought_signature_comes_back_to_gemini(
    gateway: str, upstreams: dict[str, ScriptedUpstream], client: str, stream: bool
) -> None:
    upstream = upstreams["gemini"]
    if client == "responses":  # as Codex does: every output item back, reasoning included
        text, call_id = responses_replaying(gateway, "gemini-model", stream=stream)
    else:
        text, call_id = round_trip(client, gateway, CLIENT_KEY, "gemini-model", stream=stream)
    assert text == f"The tool said: {TOOL_RESULT}"
    assert upstream.call_ids == [call_id]  # Gemini 3's own call id, to the client and back
    second = upstream.requests[1]["body"]
    validate_gemini_request(second)
    [called] = model_turn_calls(second)
    assert called["functionCall"]["id"] == call_id
    assert called["functionCall"]["args"] == {"city": "Paris"}
    result = second["contents"][-1]["parts"][0]["functionResponse"]
    assert (result["id"], result["name"]) == (call_id, "get_weather")
    if client == "chat":  # a Chat history has no place for it: Gemini's placeholder
        assert called["thoughtSignature"] in (signature_for(call_id), PLACEHOLDER_SIGNATURE)
    else:
        assert called["thoughtSignature"] == signature_for(call_id)


@pytest.fixture(scope="module")
def gemini25() -> Iterator[tuple[ScriptedUpstream, str]]:
    """A Gemini upstream whose calls carry no id and no signature, its base URL with its
    version, and a gateway before it."""
    upstream = ScriptedUpstream("gemini", gemini_ids=False)
    with serve_asgi(upstream) as root:
        config = GatewayConfig(
            upstreams={
                "g": UpstreamConfig(
                    name="g",
                    format="gemini",
                    base_url=root + "/v1beta/",
                    api_keys=(upstream_key("gemini"),),
                    retries=Retries(attempts=0),
                )
            },
            routes=(Route(pattern="*", upstream="g"),),
            server=ServerConfig(client_keys=(CLIENT_KEY,)),
        )
        with serve_asgi(App(config)) as gateway:
            yield upstream, gateway


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", CLIENTS)
def test_calls_without_ids_are_paired_by_name(
    gemini25: tuple[ScriptedUpstream, str], client: str, stream: bool
) -> None:
    upstream, gateway = gemini25
    upstream.reset()
    text, call_id = round_trip(client, gateway, CLIENT_KEY, "gemini-2.5-flash", stream=stream)
    assert text == f"The tool said: {TOOL_RESULT}"
    if client == "gemini":  # Gemini to Gemini: no id, as it came
        assert call_id == ""
    else:  # made, since Gemini gave none
        assert call_id.startswith(MADE_ID_PREFIX), call_id
    assert upstream.requests[0]["path"].startswith("/v1beta/models/gemini-2.5-flash:")
    second = upstream.requests[1]["body"]
    validate_gemini_request(second)
    [called] = model_turn_calls(second)
    assert "id" not in called["functionCall"]  # a made id is never Gemini's
    result = second["contents"][-1]["parts"][0]["functionResponse"]
    assert "id" not in result
    assert result["name"] == "get_weather"


def test_an_anthropic_count_tokens_is_geminis_own_count(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    client = anthropic_client(gateway, CLIENT_KEY)
    counted = client.messages.count_tokens(
        model="gemini-model",
        system="Answer briefly.",
        messages=[{"role": "user", "content": "How many tokens is this?"}],
        tools=[{"name": "get_weather", "input_schema": SCHEMA}],  # type: ignore[typeddict-item]
    )
    assert counted.input_tokens == 4242
    sent = upstreams["gemini"].requests[-1]
    assert sent["path"] == "/v1beta/models/gemini-model:countTokens"
    assert sent["headers"]["x-goog-api-key"] == upstream_key("gemini")
    inner = sent["body"]["generateContentRequest"]
    assert inner["model"] == "models/gemini-model"
    validate_gemini_request({k: v for k, v in inner.items() if k != "model"})
    assert inner["systemInstruction"]["parts"] == [{"text": "Answer briefly."}]
    assert inner["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"


def test_a_gemini_upstreams_model_list(gemini25: tuple[ScriptedUpstream, str]) -> None:
    _, gateway = gemini25
    listed = openai_client(gateway, CLIENT_KEY).models.list()
    assert [m.id for m in listed] == ["listed-model"]
    shown = anthropic_client(gateway, CLIENT_KEY).models.list()
    assert [(m.id, m.display_name) for m in shown] == [("listed-model", "Listed Model")]
    client = gemini_client(gateway, CLIENT_KEY)  # held: the SDK closes it when freed
    [own] = list(client.models.list())
    assert own.name == "models/listed-model"
    assert own.input_token_limit == 1048576  # the upstream's own entry, as it listed it


def test_errors_of_a_gemini_upstream_in_each_clients_format(
    gateway: str, upstreams: dict[str, ScriptedUpstream]
) -> None:
    upstream = upstreams["gemini"]
    upstream.plan(Plan(kind="status", status=400, message="Invalid JSON payload received."))
    with pytest.raises(anthropic.BadRequestError) as bad:
        anthropic_client(gateway, CLIENT_KEY).messages.create(
            model="gemini-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    assert "Invalid JSON payload" in str(bad.value)
    # a rate limit that asks for a longer wait than the gateway takes: the client's 429
    upstream.plan(Plan(kind="status", status=429, headers={"retry-after": "30"}))
    limited = call(gateway, "chat", "gemini-model")
    assert limited.status_code == 429
    check_error("chat", 429, limited.json())
    assert limited.headers["retry-after"] == "30"
    # overloaded as the stream's first frame, each attempt: retried, then a real status
    upstream.reset()
    upstream.plan(*[Plan(kind="stream_error")] * 3)
    overloaded = call(gateway, "responses", "gemini-model", stream=True)
    assert overloaded.status_code == 503, overloaded.text
    assert len(upstream.requests) == 3
    # after the first event: the client's in-band error
    for plan in (Plan(kind="cut", events=1), Plan(kind="end", events=1)):
        for client in CLIENTS:
            upstream.plan(plan)
            response = call(gateway, client, "gemini-model", stream=True)
            assert response.status_code == 200
            assert assert_in_band_error(client, response.content)["message"]


def test_apibridge_serve_with_a_gemini_upstream(
    upstream_servers: dict[str, tuple[ScriptedUpstream, str]],
) -> None:
    from test_serve import serve

    upstream, root = upstream_servers["gemini"]
    upstream.reset()
    secret = upstream_key("gemini")
    with serve(
        "--upstream", f"gemini={root}", "--upstream-key", secret, "--client-key", CLIENT_KEY
    ) as (url, lines):
        chat = openai_client(url, CLIENT_KEY).chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}]
        )
        assert chat.choices[0].message.content == "Hello from gemini! You said: hi"
        client = gemini_client(url, CLIENT_KEY)  # held: the SDK closes it when freed
        answer = client.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert answer.text == "Hello from gemini! You said: hi"
        query = httpx.post(
            url + "/v1beta/models/gemini-2.5-flash:generateContent",
            params={"key": CLIENT_KEY},
            json={"contents": [{"parts": [{"text": "hi"}]}]},
        )
        assert query.status_code == 200
    assert [r["path"] for r in upstream.requests] == [
        "/v1beta/models/gemini-2.5-flash:generateContent"
    ] * 3
    assert all(r["headers"]["x-goog-api-key"] == secret for r in upstream.requests)
    log = "\n".join(lines)
    assert "client=gemini" in log
    assert secret not in log
    assert CLIENT_KEY not in log
