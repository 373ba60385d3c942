"""The scripted Gemini upstream speaks Gemini as the google-genai SDK reads it.

The Gemini scenarios trust :mod:`.scripted` (``render_gemini``) and the recorder's Gemini
routes; these checks hold them to the SDK itself, pointed straight at the recorder (no
gateway): whole answers, SSE streams and JSON-array streams parse to the scripted parts, the
signature sits where Gemini 3 puts it, and the recorder's Gemini-3 signature check refuses a
history whose function call lost its signature. The requests recorded from the real clients
(``tests/fixtures/gemini/request_*``) pass the checks the scenarios hold upstream bodies to.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types

from .gemini_wire import PLACEHOLDER, signature_bytes, validate_request
from .recorder import GEMINI_GENERATE, GEMINI_MODELS, GEMINI_PATH, Recorder
from .scripted import Call, Turn, gemini_chunks, render_gemini

pytestmark = pytest.mark.acceptance

SIGNATURE = base64.b64encode(b"\xfb\xff\xbf-gemini-test-signature").decode()
_CALL = Call(id="fc_01", name="get_weather", arguments='{"city": "Paris"}')
TURNS: dict[str, Turn] = {
    "text": Turn(text="Hello there, general.", signature=SIGNATURE),
    "thought_and_call": Turn(reasoning="Needs the tool.", calls=(_CALL,), signature=SIGNATURE),
    "two_calls_no_ids": Turn(
        calls=(
            Call(id="", name="get_weather", arguments='{"city": "Paris"}'),
            Call(id="", name="get_weather", arguments='{"city": "Rome"}'),
        ),
        signature=SIGNATURE,
    ),
}


def _client(url: str) -> genai.Client:
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=url))


def _summary(parts: list[types.Part]) -> tuple[str, str, list[tuple[str | None, str, object]]]:
    thought = "".join(p.text or "" for p in parts if p.thought)
    text = "".join(p.text or "" for p in parts if not p.thought)
    calls = [
        (p.function_call.id, p.function_call.name or "", p.function_call.args)
        for p in parts
        if p.function_call
    ]
    return thought, text, calls


@pytest.mark.parametrize("name", sorted(TURNS))
def test_whole_and_streamed_answers_parse_to_the_script(name: str) -> None:
    turn = TURNS[name]
    expected_calls = [(c.id or None, c.name, json.loads(c.arguments)) for c in turn.calls]
    with Recorder([turn]) as recorder:
        sdk = _client(recorder.url)
        whole = sdk.models.generate_content(model="gemini-3-pro-preview", contents="Hi")
        chunks = list(
            sdk.models.generate_content_stream(model="gemini-3-pro-preview", contents="Hi")
        )
    (candidate,) = whole.candidates or []
    assert candidate.content is not None
    assert candidate.finish_reason == types.FinishReason.STOP
    streamed = [p for c in chunks for p in (c.candidates or [])[0].content.parts or []]
    for parts in (candidate.content.parts or [], streamed):
        assert _summary(parts) == (turn.reasoning, turn.text, expected_calls)
        signed = [p for p in parts if p.thought_signature]
        # One signature per turn: on the first call, else on the last text part.
        assert len(signed) == 1
        assert signed[0].thought_signature == signature_bytes(SIGNATURE)
        assert (
            signed[0] is ([p for p in parts if p.function_call] or parts)[0 if turn.calls else -1]
        )
    assert (chunks[-1].candidates or [])[0].finish_reason == types.FinishReason.STOP
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])  # type: ignore[index]
    usage = chunks[-1].usage_metadata
    assert usage is not None
    assert usage.thoughts_token_count == (3 if turn.reasoning else None)


def test_json_array_stream_without_alt_sse() -> None:
    turn = TURNS["thought_and_call"]
    status, headers, data = render_gemini(turn, model="m", stream=True, sse=False)
    assert status == 200
    assert ("content-type", "application/json") in headers
    assert data.startswith(b"[{")
    assert b"},\r\n{" in data
    array = orjson.loads(data)
    assert array == gemini_chunks(turn, "m")
    for chunk in array:
        types.GenerateContentResponse.model_validate(chunk)


def test_error_envelope_with_retry_info() -> None:
    with Recorder([Turn(status=429, retry_after=20)]) as recorder:
        sdk = _client(recorder.url)  # kept: a collected client closes its connections
        with pytest.raises(errors.ClientError) as raised:
            sdk.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert raised.value.code == 429
    assert raised.value.status == "RESOURCE_EXHAUSTED"
    assert raised.value.details["error"]["details"][0]["retryDelay"] == "20s"


def _history(signature: str | None) -> dict[str, object]:
    call_part: dict[str, object] = {"functionCall": {"name": "get_weather", "args": {}}}
    if signature is not None:
        call_part["thoughtSignature"] = signature
    return {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather?"}]},
            {"role": "model", "parts": [call_part]},
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"output": "sun"}}}
                ],
            },
        ]
    }


@pytest.mark.parametrize(
    ("mode", "signature", "accepted"),
    [
        ("strict", "own", True),
        ("strict", "own-urlsafe", True),
        ("strict", None, False),
        ("strict", "other", False),
        ("strict", PLACEHOLDER, False),
        ("placeholder", PLACEHOLDER, True),
        ("placeholder", None, False),
        ("placeholder", "other", False),
    ],
)
def test_recorder_checks_signatures_like_gemini_3(
    mode: str, signature: str | None, accepted: bool
) -> None:
    own = Turn(calls=(_CALL,), signature=SIGNATURE)
    sent = {
        "own": SIGNATURE,
        "own-urlsafe": SIGNATURE.replace("+", "-").replace("/", "_"),
        "other": base64.b64encode(b"someone else's").decode(),
    }.get(signature or "", signature)
    url_path = "/v1beta/models/gemini-3-pro-preview:generateContent"
    with Recorder([own, Turn(text="Sunny.")], check_signatures=mode) as recorder:
        first = httpx.post(recorder.url + url_path, json=_history(None) | {"contents": []})
        second = httpx.post(recorder.url + url_path, json=_history(sent))
    assert first.status_code == 200
    assert second.status_code == (200 if accepted else 400), second.text
    if not accepted:
        error = second.json()["error"]
        assert error["status"] == "INVALID_ARGUMENT"
        assert "get_weather" in error["message"]
        assert recorder.refused == [error["message"]]


_FIXTURES = Path(__file__).parents[1] / "fixtures" / "gemini"
#: the recordings of the real clients (``gemini_recorder.py``; the other ``request_*`` files
#: there are transcripts in another layout).
_RECORDINGS = sorted(
    [*_FIXTURES.glob("request_gemini_cli_*.json"), *_FIXTURES.glob("request_genai_sdk_*.json")]
)


@pytest.mark.parametrize("path", _RECORDINGS, ids=[p.stem for p in _RECORDINGS])
def test_recorded_client_requests_pass_the_harness_checks(path: Path) -> None:
    # What the real clients sent must pass the checks the scenarios put upstream bodies to
    # (else the checks, not the gateway, would be wrong), and no key may be in a fixture.
    fixture = json.loads(path.read_text())
    assert "test-key" not in path.read_text()
    headers = dict(fixture["headers"])
    assert headers["x-goog-api-key"] == "<key>"
    match = GEMINI_PATH.fullmatch(fixture["path"])
    models = GEMINI_MODELS.fullmatch(fixture["path"])
    assert match or models, fixture["path"]
    if match and match.group(3) in GEMINI_GENERATE:
        validate_request(fixture["body"])
        assert fixture["body"]["contents"]
        if match.group(3) == "streamGenerateContent":
            assert fixture["query"] == "alt=sse"
