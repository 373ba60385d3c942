"""Gemini through apibridge, both ways, with the real clients.

* the ``google-genai`` SDK (Python) in front of scripted ``anthropic``, ``chat`` and
  ``responses`` upstreams: a text answer, a stream, a function call answered and sent back,
  thinking (the upstream's reasoning shown as thought parts, and replayed on the next turn),
  its chat session's history, ``count_tokens``;
* Gemini CLI (headless ``-p``) in front of the same three and of a Gemini upstream: a plain
  answer, its ``read_file`` tool round trip on a file in its working directory, a 429, the
  thinking budget it asks for within Anthropic's limits;
* Claude Code, Codex CLI and the ``anthropic`` / ``openai`` SDKs in front of a scripted Gemini
  upstream that checks thought signatures as Gemini 3 does (:class:`.recorder.Recorder`,
  ``check_signatures``): the signature of each function call must come back byte for byte
  (``strict``), or, for a Chat client, which has nowhere to keep it, as Gemini's documented
  placeholder; Gemini 2.5 calls (no id) and Gemini 3 calls (ids, parallel calls of which only
  the first is signed); a 429.

Every upstream request is checked by :meth:`.harness.Bridge.upstream_bodies` (the SDK's request
types, the upstream's own key, the right path); what the user saw is checked against the
script. A known defect or limit of the gateway is a strict ``xfail`` mark naming it: of the
seven this suite found, six are fixed; ``_CLI_DROPS_THOUGHTS`` remains.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from . import gemini_wire, wire
from .clients import ClientRun, requires, run_claude, run_codex, run_gemini
from .gemini_wire import PLACEHOLDER, signature_bytes
from .harness import CLIENT_KEY, UPSTREAM_FORMATS, Bridge, bridge, call_if_declared
from .scripted import Call, Turn
from .test_sdk_streams import _CALLS, _STOPS, _TOOLS, _summary

pytestmark = pytest.mark.acceptance

#: a Gemini 3 signature whose base64 has ``+`` and ``/`` (the Python SDK sends them back as
#: ``-`` and ``_``: bytes are compared).
SIGNATURE = base64.b64encode(b"\xfb\xff\xbfgemini-3-thought-signature\x00\x01").decode()

_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
_PROMPT = "What is the weather in Paris?"
_ARGUMENTS = '{"city": "Paris"}'

#: call ids as each upstream format spells them.
_CALL_IDS: dict[str, str] = {
    "anthropic": "toolu_01Gem",
    "chat": "call_gem01",
    "responses": "call_gem01",
}

#: an opaque reasoning token per upstream format: an Anthropic signature, a Responses
#: ``encrypted_content`` (Chat has none).
_OPAQUE: dict[str, str] = {
    "anthropic": "EqQBCkYIARgCIkBnZW1pbmktY2xpZW50LXNpZ25hdHVyZQ==",
    "chat": "",
    "responses": "gAAAAB-gemini-client-encrypted-reasoning-0123",
}


# ------------------------------------------------------------------------- google-genai SDK


def _sdk(gateway: Bridge) -> genai.Client:
    return genai.Client(api_key=CLIENT_KEY, http_options=types.HttpOptions(base_url=gateway.url))


def _weather_config(**more: Any) -> types.GenerateContentConfig:
    declaration = types.FunctionDeclaration(
        name="get_weather",
        description="Current weather for a city.",
        parameters_json_schema=_SCHEMA,
    )
    return types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[declaration])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        **more,
    )


def _parts(response: types.GenerateContentResponse) -> list[types.Part]:
    (candidate,) = response.candidates or []
    assert candidate.content is not None
    assert candidate.content.role == "model"
    return list(candidate.content.parts or [])


def _stream_parts(chunks: list[types.GenerateContentResponse]) -> list[types.Part]:
    return [p for chunk in chunks for p in _parts(chunk)]


def _text(parts: list[types.Part]) -> str:
    return "".join(p.text or "" for p in parts if not p.thought)


def _thought(parts: list[types.Part]) -> str:
    return "".join(p.text or "" for p in parts if p.thought)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAM_FORMATS)
def test_sdk_text(upstream: str, stream: bool) -> None:
    answer = f"Sunny, from a {upstream} upstream."
    with bridge(upstream, [Turn(text=answer)]) as gateway:
        sdk = _sdk(gateway)
        config = types.GenerateContentConfig(
            system_instruction="Be brief.", temperature=0.3, max_output_tokens=300
        )
        if stream:
            chunks = list(
                sdk.models.generate_content_stream(
                    model="gemini-2.5-flash", contents=_PROMPT, config=config
                )
            )
            parts, last = _stream_parts(chunks), chunks[-1]
        else:
            last = sdk.models.generate_content(
                model="gemini-2.5-flash", contents=_PROMPT, config=config
            )
            parts = _parts(last)
        (body,) = gateway.upstream_bodies(1)
        streamed = gateway.upstream_streamed()
    assert _text(parts) == answer
    assert (last.candidates or [])[0].finish_reason == types.FinishReason.STOP
    usage = last.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (20, 7)
    assert _PROMPT in wire.user_text(upstream, body)
    assert streamed == [stream]
    if upstream == "anthropic":
        assert body["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
        assert body["max_tokens"] == 300
    assert body["temperature"] == 0.3


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAM_FORMATS)
def test_sdk_function_call_round_trip(upstream: str, stream: bool) -> None:
    call = Call(id=_CALL_IDS[upstream], name="get_weather", arguments=_ARGUMENTS)
    script = [Turn(calls=(call,)), Turn(text="It is sunny in Paris.")]
    config = _weather_config()
    contents: list[types.Content] = [types.Content(role="user", parts=[types.Part(text=_PROMPT)])]
    with bridge(upstream, script) as gateway:
        sdk = _sdk(gateway)
        if stream:
            chunks = list(
                sdk.models.generate_content_stream(
                    model="gemini-2.5-flash", contents=contents, config=config
                )
            )
            parts, last = _stream_parts(chunks), chunks[-1]
        else:
            last = sdk.models.generate_content(
                model="gemini-2.5-flash", contents=contents, config=config
            )
            parts = _parts(last)
        (function_call,) = [p.function_call for p in parts if p.function_call]
        assert (function_call.name, function_call.args) == ("get_weather", {"city": "Paris"})
        assert (last.candidates or [])[0].finish_reason == types.FinishReason.STOP
        contents.append(types.Content(role="model", parts=parts))
        result = types.FunctionResponse(
            id=function_call.id, name="get_weather", response={"output": "sunny, 21 C"}
        )
        contents.append(types.Content(role="user", parts=[types.Part(function_response=result)]))
        final = sdk.models.generate_content(
            model="gemini-2.5-flash", contents=contents, config=config
        )
        first, second = gateway.upstream_bodies(2)
    assert _text(_parts(final)) == "It is sunny in Paris."
    assert wire.tool_names(upstream, first) == ["get_weather"]
    (seen,) = wire.calls(upstream, second)
    assert (seen.id, seen.name) == (call.id, "get_weather")
    assert json.loads(seen.arguments) == {"city": "Paris"}
    assert "sunny, 21 C" in wire.results(upstream, second)[call.id]


def _chat_thinking_turn(upstream: str, gateway: Bridge) -> tuple[Any, list[types.Part]]:
    """One streamed turn of a google-genai chat session with thinking and the weather tool,
    the function's result sent back; the session and the first turn's parts."""
    thinking = types.ThinkingConfig(thinking_budget=2048, include_thoughts=True)
    sdk = _sdk(gateway)  # held: a client that is collected closes its connections
    chat = sdk.chats.create(
        model="gemini-2.5-flash", config=_weather_config(thinking_config=thinking)
    )
    chunks = list(chat.send_message_stream(_PROMPT))
    parts = _stream_parts(chunks)
    (function_call,) = [p.function_call for p in parts if p.function_call]
    assert (function_call.name, function_call.args) == ("get_weather", {"city": "Paris"})
    assert chunks[-1].usage_metadata is not None
    result = types.FunctionResponse(
        id=function_call.id, name="get_weather", response={"output": "sunny"}
    )
    final = list(chat.send_message_stream(types.Part(function_response=result)))
    assert _text(_stream_parts(final)) == "Sunny."
    return chunks, parts


_THOUGHT = "Paris weather needs the tool."


def _thinking_script(upstream: str) -> list[Turn]:
    call = Call(id=_CALL_IDS[upstream], name="get_weather", arguments=_ARGUMENTS)
    return [
        Turn(reasoning=_THOUGHT, signature=_OPAQUE[upstream], calls=(call,)),
        Turn(text="Sunny."),
    ]


@pytest.mark.parametrize("upstream", UPSTREAM_FORMATS)
def test_sdk_chat_thinking_shown(upstream: str) -> None:
    # The SDK's own chat session, streamed: the upstream's reasoning reaches the Gemini
    # client as thought parts, the thinking budget reaches the upstream in its own terms.
    with bridge(upstream, _thinking_script(upstream)) as gateway:
        chunks, parts = _chat_thinking_turn(upstream, gateway)
        first, second = gateway.upstream_bodies(2)
    assert _thought(parts) == _THOUGHT
    usage = chunks[-1].usage_metadata
    if upstream == "anthropic":
        assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    elif upstream == "responses":
        assert first["reasoning"]["effort"]
        assert usage.thoughts_token_count == 3
    else:
        assert first.get("reasoning_effort")
    call_id = _CALL_IDS[upstream]
    assert [c.id for c in wire.calls(upstream, second)] == [call_id]
    assert "sunny" in wire.results(upstream, second)[call_id]


@pytest.mark.parametrize(
    "upstream",
    [
        "anthropic",
        "chat",
        "responses",
    ],
)
def test_sdk_chat_reasoning_replayed(upstream: str) -> None:
    # The reasoning goes back to the upstream it came from on the next turn, whole, with its
    # opaque token (an Anthropic signature, a Responses encrypted_content) intact: an
    # Anthropic upstream with thinking on refuses a tool_use turn without its thinking block.
    with bridge(upstream, _thinking_script(upstream)) as gateway:
        _chat_thinking_turn(upstream, gateway)
        _, second = gateway.upstream_bodies(2)
    replayed = wire.reasoning(upstream, second)
    assert [r.text for r in replayed] == [_THOUGHT]
    if upstream != "chat":
        assert replayed[0].opaque == _OPAQUE[upstream]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAM_FORMATS)
def test_sdk_chat_session_keeps_its_history(upstream: str, stream: bool) -> None:
    answer = "Paris is the capital of France."
    with bridge(upstream, [Turn(text=answer), Turn(text="Yes.")]) as gateway:
        sdk = _sdk(gateway)  # held: a client that is collected closes its connections
        chat = sdk.chats.create(model="gemini-2.5-flash")
        if stream:
            first = _text(_stream_parts(list(chat.send_message_stream("Capital of France?"))))
            second = _text(_stream_parts(list(chat.send_message_stream("Sure?"))))
        else:
            first = _text(_parts(chat.send_message("Capital of France?")))
            second = _text(_parts(chat.send_message("Sure?")))
        _, body = gateway.upstream_bodies(2)
    assert (first, second) == (answer, "Yes.")
    # The second request holds the whole first turn: the question and the answer.
    assert "Capital of France?" in wire.user_text(upstream, body)
    assert answer in json.dumps(body)


# ------------------------------------------------------------------------------ Gemini CLI

_NOTES = "line one\nthe secret word is pelican\n"
_READ_PROMPT = "Read the file notes.txt in the current directory and tell me the secret word."


def _gemini(gateway: Bridge, prompt: str, workdir: Path, model: str = "gemini-2.5-flash") -> Any:
    run = run_gemini(gateway.url, prompt, workdir=workdir, model=model, timeout=90)
    assert run.returncode == 0, run.summary()
    assert not run.timed_out, run.summary()
    return run.json()


@requires("gemini")
@pytest.mark.parametrize("upstream", UPSTREAM_FORMATS)
def test_gemini_cli_plain_answer(upstream: str, tmp_path: Path) -> None:
    answer = f"Hello from a {upstream} upstream."
    with bridge(upstream, [Turn(text=answer)]) as gateway:
        result = _gemini(gateway, "Say hello.", tmp_path)
        (body,) = gateway.upstream_bodies(1)
        streamed = gateway.upstream_streamed()
    assert result["response"] == answer
    assert "Say hello." in wire.user_text(upstream, body)
    assert {"read_file", "list_directory", "glob"} <= set(wire.tool_names(upstream, body))
    assert streamed == [True]


@requires("gemini")
@pytest.mark.parametrize("upstream", UPSTREAM_FORMATS)
def test_gemini_cli_read_file_round_trip(upstream: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text(_NOTES)
    call = Call(
        id=_CALL_IDS[upstream], name="read_file", arguments=json.dumps({"file_path": "notes.txt"})
    )
    script = [call_if_declared(upstream, call), Turn(text="The secret word is pelican.")]
    with bridge(upstream, script) as gateway:
        result = _gemini(gateway, _READ_PROMPT, tmp_path)
        _, second = gateway.upstream_bodies(2)
    assert result["response"] == "The secret word is pelican."
    assert result["stats"]["tools"]["byName"]["read_file"]["success"] == 1
    (seen,) = wire.calls(upstream, second)
    assert (seen.id, seen.name) == (call.id, "read_file")
    assert json.loads(seen.arguments) == {"file_path": "notes.txt"}
    # The CLI read the file for real; its content went back upstream as the call's result.
    assert "the secret word is pelican" in wire.results(upstream, second)[call.id]


#: Known limit: another model's reasoning reaches a Gemini client as a thought signed with the
#: reasoning envelope (the google-genai SDK brings it back: test_sdk_chat_reasoning_replayed),
#: but Gemini CLI drops thought parts from its history and keeps only the signature on the
#: function call. Carrying it there (the envelope with the reasoning text, on the call) is not
#: done yet; Anthropic upstreams then get the turn without the thinking block (reported).
_CLI_DROPS_THOUGHTS = pytest.mark.xfail(
    strict=True,
    reason="Gemini CLI keeps no thought parts in its history; the reasoning envelope rides a"
    " thought part, not the function call",
)


@requires("gemini")
@_CLI_DROPS_THOUGHTS
@pytest.mark.parametrize("upstream", ["anthropic", "responses"])
def test_gemini_cli_reasoning_comes_back(upstream: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text(_NOTES)
    thought = "The answer is in notes.txt."
    call = Call(
        id=_CALL_IDS[upstream], name="read_file", arguments=json.dumps({"file_path": "notes.txt"})
    )
    script = [
        Turn(reasoning=thought, signature=_OPAQUE[upstream], calls=(call,)),
        Turn(text="pelican"),
    ]
    with bridge(upstream, script) as gateway:
        result = _gemini(gateway, _READ_PROMPT, tmp_path)
        _, second = gateway.upstream_bodies(2)
    assert result["response"] == "pelican"
    # Gemini CLI keeps only the signature on the function call (it drops thought parts from
    # its history); the reasoning must still reach the upstream intact on turn two.
    assert [(r.text, r.opaque) for r in wire.reasoning(upstream, second)] == [
        (thought, _OPAQUE[upstream])
    ]


# ---------------------------------------------------------------- clients → Gemini upstream

#: (Gemini model, the call id it gives): Gemini 2.5 calls have none, Gemini 3 calls have one.
_GEMINI_MODELS = {
    "gemini-2.5": ("gemini-2.5-flash", ""),
    "gemini-3": ("gemini-3-pro-preview", "fc_01"),
}


def _signed_calls(second: dict[str, Any], name: str) -> list[bytes | None]:
    return [s for n, s in gemini_wire.call_signatures(second) if n == name]


def _claude(gateway: Bridge, prompt: str, workdir: Path, model: str) -> dict[str, Any]:
    run = run_claude(
        gateway.url,
        prompt,
        workdir=workdir,
        model=model,
        allowed_tools=["Bash(echo:*)"],
        timeout=90,
    )
    return _claude_result(run)


def _claude_result(run: ClientRun) -> dict[str, Any]:
    assert run.returncode == 0, run.summary()
    result: dict[str, Any] = run.json()
    assert result["is_error"] is False, run.summary()
    return result


#: Gemini signs a text-only answer on its last text part; apibridge gives a Claude client that
#: signature as an empty ``thinking`` block *after* the text, and Claude Code reports the last
#: block's text as its result: the user gets an empty answer.


@requires("claude")
@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_claude_code_plain_answer_from_gemini(signed: bool, tmp_path: Path) -> None:
    answer = "The capital of France is Paris."
    turn = Turn(text=answer, signature=SIGNATURE if signed else "")
    with bridge("gemini", [turn]) as gateway:
        result = _claude(gateway, "What is the capital of France?", tmp_path, "gemini-2.5-flash")
        bodies = gateway.upstream_bodies()
        streamed = gateway.upstream_streamed()
    assert result["result"] == answer
    assert streamed[-1] is True
    body = bodies[-1]
    assert "What is the capital of France?" in wire.user_text("gemini", body)
    assert {"Bash", "Read"} <= set(wire.tool_names("gemini", body))
    assert "systemInstruction" in body


@requires("claude")
@pytest.mark.parametrize("generation", sorted(_GEMINI_MODELS))
def test_claude_code_bash_round_trip_keeps_the_signature(generation: str, tmp_path: Path) -> None:
    model, call_id = _GEMINI_MODELS[generation]
    command = json.dumps({"command": "echo gemini-bash-ok", "description": "Print a marker"})
    call = Call(id=call_id, name="Bash", arguments=command)
    script = [
        Turn(reasoning="Echo prints it.", calls=(call,), signature=SIGNATURE),
        # signed, as Gemini 3 signs a text answer: the signature stays on the text, so Claude
        # Code's answer ends with the text (a thinking block after it would empty its result)
        Turn(text="The command printed gemini-bash-ok.", signature=SIGNATURE),
    ]
    with bridge("gemini", script, check_signatures="strict") as gateway:
        run = run_claude(
            gateway.url,
            "Run echo.",
            workdir=tmp_path,
            model=model,
            allowed_tools=["Bash(echo:*)"],
            timeout=90,
        )
        refused = list(gateway.upstream.refused)
        bodies = gateway.upstream_bodies()
    assert not refused, refused
    assert _claude_result(run)["result"] == "The command printed gemini-bash-ok."
    second = bodies[-1]
    # Gemini's signature went to Claude Code inside a thinking block and came back onto the
    # function call it signed, byte for byte.
    assert _signed_calls(second, "Bash") == [signature_bytes(SIGNATURE)]
    (seen,) = wire.calls("gemini", second)
    assert seen.id == call_id  # Gemini 3's own id back; no made id sent to Gemini 2.5
    assert json.loads(seen.arguments) == json.loads(command)
    results = wire.results("gemini", second)
    assert "gemini-bash-ok" in results[call_id or "Bash"]


@requires("codex")
@pytest.mark.parametrize("generation", sorted(_GEMINI_MODELS))
def test_codex_exec_round_trip_keeps_the_signature(generation: str, tmp_path: Path) -> None:
    model, call_id = _GEMINI_MODELS[generation]
    call = Call(id=call_id, name="exec_command", arguments=json.dumps({"cmd": "echo codex-gem"}))
    script = [
        Turn(reasoning="A quick echo.", calls=(call,), signature=SIGNATURE),
        Turn(text="The command printed codex-gem."),
    ]
    with bridge("gemini", script, check_signatures="strict") as gateway:
        run = run_codex(gateway.openai_url, "Run echo.", workdir=tmp_path, model=model, timeout=90)
        refused = list(gateway.upstream.refused)
        bodies = gateway.upstream_bodies()
    assert not refused, refused
    assert run.returncode == 0, run.summary()
    assert run.stdout.strip() == "The command printed codex-gem."
    second = bodies[-1]
    assert "exec_command" in wire.tool_names("gemini", bodies[0])
    assert _signed_calls(second, "exec_command") == [signature_bytes(SIGNATURE)]
    (seen,) = wire.calls("gemini", second)
    assert seen.id == call_id
    assert "codex-gem" in wire.results("gemini", second)[call_id or "exec_command"]


@pytest.mark.parametrize("with_tool", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize("client", ["anthropic", "chat", "responses"])
def test_sdk_stream_helpers_on_a_gemini_upstream(client: str, with_tool: bool) -> None:
    text = f"Answer for {client} from gemini."
    calls = (Call(id="", name="get_weather", arguments=_ARGUMENTS),)
    turn = Turn(text=text, calls=calls if with_tool else (), signature=SIGNATURE)
    expected_calls = [("get_weather", {"city": "Paris"})] if with_tool else []
    with bridge("gemini", [turn]) as gateway:
        streamed = _CALLS[client](gateway, stream=True)
        whole = _CALLS[client](gateway, stream=False)
        bodies = gateway.upstream_bodies(2)
        upstream_streamed = gateway.upstream_streamed()
    for final in (streamed, whole):
        assert _summary(client, final) == (text, expected_calls, _STOPS[client][with_tool])
    for body in bodies:
        assert wire.tool_names("gemini", body) == ["get_weather"]
        assert _PROMPT in wire.user_text("gemini", body)
        declared = gemini_wire.declaration(body, "get_weather")
        assert gemini_wire.get(declared, "parametersJsonSchema") == _SCHEMA
    assert upstream_streamed == [True, False]


def _round_trip(client: str, gateway: Bridge) -> tuple[str, str]:
    """Two turns of ``client``'s SDK: the tool call, then its result; (the reasoning text the
    client saw on the first turn, the final text)."""
    if client == "anthropic":
        with anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as sdk:
            messages: list[Any] = [{"role": "user", "content": _PROMPT}]
            args: dict[str, Any] = {
                "model": "gemini-3-pro-preview",
                "max_tokens": 2048,
                "tools": _TOOLS["anthropic"],
                "thinking": {"type": "enabled", "budget_tokens": 1024},
            }
            with sdk.messages.stream(messages=messages, **args) as events:
                first = events.get_final_message()
            (use,) = [b for b in first.content if b.type == "tool_use"]
            messages.append({"role": "assistant", "content": first.content})
            messages.append(
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}],
                }
            )
            final = sdk.messages.create(messages=messages, **args)
            thought = "".join(b.thinking for b in first.content if b.type == "thinking")
            return thought, "".join(b.text for b in final.content if b.type == "text")
    with openai.OpenAI(base_url=gateway.openai_url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        if client == "chat":
            chat_messages: list[Any] = [{"role": "user", "content": _PROMPT}]
            answer = sdk.chat.completions.create(
                model="gemini-3-pro-preview", messages=chat_messages, tools=_TOOLS["chat"]
            )
            message = answer.choices[0].message
            (tool_call,) = message.tool_calls or []
            chat_messages.append(message.model_dump(exclude_none=True))
            chat_messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": "sunny"})
            final_chat = sdk.chat.completions.create(
                model="gemini-3-pro-preview", messages=chat_messages, tools=_TOOLS["chat"]
            )
            reasoning = (message.model_extra or {}).get("reasoning_content") or ""
            return reasoning, final_chat.choices[0].message.content or ""
        inputs: list[Any] = [{"role": "user", "content": _PROMPT}]
        args = {
            "model": "gemini-3-pro-preview",
            "tools": _TOOLS["responses"],
            "reasoning": {"effort": "low", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
        }
        with sdk.responses.stream(input=inputs, **args) as items:
            first_response = items.get_final_response()
        inputs.extend(item.model_dump(exclude_none=True) for item in first_response.output)
        (function_call,) = [o for o in first_response.output if o.type == "function_call"]
        inputs.append(
            {"type": "function_call_output", "call_id": function_call.call_id, "output": "sunny"}
        )
        final_response = sdk.responses.create(input=inputs, **args)
        summary = "".join(
            part.text
            for item in first_response.output
            if item.type == "reasoning"
            for part in item.summary
        )
        return summary, final_response.output_text


@pytest.mark.parametrize("client", ["anthropic", "chat", "responses"])
def test_sdk_tool_loop_on_gemini_3_keeps_the_signature(client: str) -> None:
    call = Call(id="fc_sdk01", name="get_weather", arguments=_ARGUMENTS)
    script = [
        Turn(reasoning="Needs the tool.", calls=(call,), signature=SIGNATURE),
        Turn(text="Sunny in Paris."),
    ]
    # A Chat client has nowhere to keep a signature: Gemini then gets the placeholder.
    checks = "placeholder" if client == "chat" else "strict"
    with bridge("gemini", script, check_signatures=checks) as gateway:
        thought, text = _round_trip(client, gateway)
        refused = list(gateway.upstream.refused)
        _, second = gateway.upstream_bodies(2)
    assert not refused, refused
    assert text == "Sunny in Paris."
    # Gemini's thought reached the client as its own kind of reasoning.
    assert thought == "Needs the tool."
    expected = PLACEHOLDER.encode() if client == "chat" else signature_bytes(SIGNATURE)
    if client == "chat":
        (placeholder,) = [
            gemini_wire.get(p, "thoughtSignature")
            for c in second["contents"]
            for p in c["parts"]
            if "functionCall" in p
        ]
        assert placeholder == PLACEHOLDER
    else:
        assert _signed_calls(second, "get_weather") == [expected]
    (seen,) = wire.calls("gemini", second)
    assert seen.id == "fc_sdk01"
    assert wire.results("gemini", second) == {"fc_sdk01": "sunny"}


# ------------------------------------------------------------- more Gemini client scenarios


@requires("gemini")
@pytest.mark.parametrize("generation", sorted(_GEMINI_MODELS))
def test_gemini_cli_on_a_gemini_upstream(generation: str, tmp_path: Path) -> None:
    # Gemini to Gemini through the gateway: the read_file loop, with the upstream checking
    # signatures as Gemini 3 does (its own, byte for byte).
    model, call_id = _GEMINI_MODELS[generation]
    (tmp_path / "notes.txt").write_text(_NOTES)
    call = Call(id=call_id, name="read_file", arguments=json.dumps({"file_path": "notes.txt"}))
    script = [
        Turn(reasoning="It is in notes.txt.", calls=(call,), signature=SIGNATURE),
        Turn(text="The secret word is pelican."),
    ]
    with bridge("gemini", script, check_signatures="strict") as gateway:
        result = _gemini(gateway, _READ_PROMPT, tmp_path, model=model)
        refused = list(gateway.upstream.refused)
        first, second = gateway.upstream_bodies(2)
    assert not refused, refused
    assert result["response"] == "The secret word is pelican."
    assert "read_file" in wire.tool_names("gemini", first)
    assert _signed_calls(second, "read_file") == [signature_bytes(SIGNATURE)]
    (seen,) = wire.calls("gemini", second)
    # Gemini 3's id goes back; for a Gemini 2.5 call the CLI made its own id, which it
    # pairs with its result either way.
    if call_id:
        assert seen.id == call_id
    assert "the secret word is pelican" in wire.results("gemini", second)[seen.id or "read_file"]


def _cli_error(run: ClientRun) -> dict[str, Any]:
    """The ``error`` object Gemini CLI prints (``-o json``) when a run fails."""
    assert run.returncode != 0, run.summary()
    for output in (run.stdout, run.stderr):
        start = output.rfind('{\n  "session_id"')
        if start >= 0:
            error: dict[str, Any] = json.loads(output[start:])["error"]
            return error
    raise AssertionError(f"no JSON error in the output\n{run.summary()}")


@requires("gemini")
@pytest.mark.parametrize("upstream", UPSTREAM_FORMATS)
def test_gemini_cli_sees_a_rate_limit_as_429(upstream: str, tmp_path: Path) -> None:
    with bridge(upstream, [Turn(status=429, retry_after=0)]) as gateway:
        run = run_gemini(gateway.url, "Hello?", workdir=tmp_path, timeout=90)
        gateway.upstream_bodies(1)
    error = _cli_error(run)
    assert error["code"] == 429, run.summary()
    assert "scripted upstream error 429" in error["message"]


@pytest.mark.parametrize("upstream", ["anthropic", "chat"])
def test_sdk_count_tokens(upstream: str) -> None:
    with bridge(upstream, [Turn(text="unused")]) as gateway:
        sdk = _sdk(gateway)
        counted = sdk.models.count_tokens(model="gemini-2.5-flash", contents=_PROMPT)
        counts = [r for r in gateway.upstream.requests if r.path.endswith("count_tokens")]
    assert counted.total_tokens is not None
    if upstream == "anthropic":
        # Anthropic counts itself: its answer (10) is the client's.
        assert counted.total_tokens == 10
        (request,) = counts
        assert _PROMPT in wire.user_text("anthropic", request.body)
    else:
        # A Chat server has no count: the gateway estimates, never 0 for a real prompt.
        assert counted.total_tokens > 0
        assert counts == []


@requires("gemini")
@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "gemini-2.5-flash"])
def test_gemini_cli_thinking_fits_anthropic_limits(model: str, tmp_path: Path) -> None:
    # Gemini CLI always asks for thinkingBudget 8192 and no maxOutputTokens; Anthropic wants
    # budget_tokens < max_tokens, also for a model whose output limit the gateway does not
    # know (max_tokens 4096 there).
    with bridge("anthropic", [Turn(text="Hi.")]) as gateway:
        result = _gemini(gateway, "Say hi.", tmp_path, model=model)
        (body,) = gateway.upstream_bodies(1)
    assert result["response"] == "Hi."
    assert body["thinking"]["type"] == "enabled"
    assert 1024 <= body["thinking"]["budget_tokens"] < body["max_tokens"]


@requires("claude")
def test_claude_code_parallel_calls_on_gemini_3(tmp_path: Path) -> None:
    # Gemini 3 signs only the first of parallel calls; both come back in order, the first
    # with its signature, and both results in one user turn, each echoing its call's id
    # (in the order Claude Code finished them, which varies).
    calls = tuple(
        Call(
            id=f"fc_par{n}",
            name="Bash",
            arguments=json.dumps({"command": f"echo par-marker-{n}", "description": "marker"}),
        )
        for n in (1, 2)
    )
    script = [
        Turn(reasoning="Two echoes.", calls=calls, signature=SIGNATURE),
        Turn(text="Both ran.", signature=""),
    ]
    with bridge("gemini", script, check_signatures="strict") as gateway:
        result = _claude(gateway, "Run both.", tmp_path, "gemini-3-pro-preview")
        refused = list(gateway.upstream.refused)
        second = gateway.upstream_bodies()[-1]
    assert not refused, refused
    assert result["result"] == "Both ran."
    assert [(c.id, c.name) for c in wire.calls("gemini", second)] == [
        ("fc_par1", "Bash"),
        ("fc_par2", "Bash"),
    ]
    assert _signed_calls(second, "Bash") == [signature_bytes(SIGNATURE), None]
    (answered,) = [
        c for c in second["contents"] if any("functionResponse" in p for p in c["parts"])
    ]
    ids = [p["functionResponse"].get("id") for p in answered["parts"] if "functionResponse" in p]
    assert sorted(ids) == ["fc_par1", "fc_par2"]
    results = wire.results("gemini", second)
    assert "par-marker-1" in results["fc_par1"]
    assert "par-marker-2" in results["fc_par2"]


@requires("claude")
def test_claude_code_sees_gemini_rate_limit_as_429(tmp_path: Path) -> None:
    with bridge("gemini", [Turn(status=429, retry_after=0)]) as gateway:
        run = run_claude(gateway.url, "Hello?", workdir=tmp_path, model="gemini-2.5-flash")
        gateway.upstream_bodies()
    result = run.json()
    assert run.returncode != 0 or result["is_error"] is True, run.summary()
    assert result["api_error_status"] == 429, run.summary()


# Claude Opus 4.1, Sonnet 4.5, Haiku 4.5 and the 4.6 models answer 400 "`temperature` and
# `top_p` cannot both be specified for this model" (open-webui/open-webui#17922,
# BerriAI/litellm#15097, Vali-98/ChatterUI#564).
@requires("gemini")
@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-sonnet-4-6"])
def test_gemini_cli_sampling_fits_claude(model: str, tmp_path: Path) -> None:
    # Gemini CLI sends temperature 1, topP 0.95 and topK 64 on every request.
    with bridge("anthropic", [Turn(text="Hi.")]) as gateway:
        result = _gemini(gateway, "Say hi.", tmp_path, model=model)
        (body,) = gateway.upstream_bodies(1)
    assert result["response"] == "Hi."
    assert "top_k" not in body  # refused with thinking
    assert not {"temperature", "top_p"} <= set(body), {
        k: body.get(k) for k in ("temperature", "top_p")
    }


@pytest.mark.parametrize(
    "generation",
    ["gemini-2.5", "gemini-3"],
)
def test_parallel_results_reach_gemini_paired(generation: str) -> None:
    # Claude Code returns parallel tool results in the order the tools finished (seen in
    # test_claude_code_parallel_calls_on_gemini_3). Gemini 2.5 calls have no ids, so Gemini
    # pairs each functionResponse with a call by position: the results must go in call order.
    # Gemini 3 calls have ids, which the results echo. Here the SDK answers the second first.
    model, call_id = _GEMINI_MODELS[generation]
    calls = tuple(
        Call(id=f"{call_id}{n}" if call_id else "", name="get_weather", arguments=city)
        for n, city in ((1, '{"city": "Paris"}'), (2, '{"city": "Rome"}'))
    )
    script = [Turn(calls=calls, signature=SIGNATURE), Turn(text="Both sunny.", signature="")]
    with bridge("gemini", script, check_signatures="strict") as gateway:
        with anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as sdk:
            messages: list[Any] = [{"role": "user", "content": _PROMPT}]
            args: dict[str, Any] = {"model": model, "max_tokens": 512, "tools": _TOOLS["anthropic"]}
            first = sdk.messages.create(messages=messages, **args)
            uses = [b for b in first.content if b.type == "tool_use"]
            assert [u.input for u in uses] == [{"city": "Paris"}, {"city": "Rome"}]
            messages.append({"role": "assistant", "content": first.content})
            results = [
                {
                    "type": "tool_result",
                    "tool_use_id": u.id,
                    "content": f"sunny in {u.input['city']}",
                }
                for u in reversed(uses)
            ]
            messages.append({"role": "user", "content": results})
            final = sdk.messages.create(messages=messages, **args)
        refused = list(gateway.upstream.refused)
        _, second = gateway.upstream_bodies(2)
    assert not refused, refused
    assert "".join(b.text for b in final.content if b.type == "text") == "Both sunny."
    (answered,) = [
        c for c in second["contents"] if any("functionResponse" in p for p in c["parts"])
    ]
    responses = [p["functionResponse"] for p in answered["parts"] if "functionResponse" in p]
    if call_id:
        paired = {r["id"]: r["response"]["output"] for r in responses}
        assert paired == {f"{call_id}1": "sunny in Paris", f"{call_id}2": "sunny in Rome"}
    else:
        assert all("id" not in r for r in responses)  # no made id goes to Gemini
        assert [r["response"]["output"] for r in responses] == ["sunny in Paris", "sunny in Rome"]
