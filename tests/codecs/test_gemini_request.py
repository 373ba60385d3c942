"""Gemini ``generateContent`` requests ⇄ canonical (``codecs/gemini/_request.py``).

Bodies are built the way ``google-genai`` builds them (its own request converter, the code
``client.models.generate_content`` runs), what we write is read back by the SDK's pydantic
types, and Gemini → Claude / Chat / Responses requests are checked by those SDKs' oracles."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from google import genai
from google.genai import _common, models, types
from tests.oracles import validate_request

from apibridge.codecs import get_codec
from apibridge.codecs._context import Context
from apibridge.codecs.envelope import open_envelope
from apibridge.codecs.gemini._request import decode_request, encode_request
from apibridge.codecs.gemini._settings import json_schema
from apibridge.codecs.gemini._wire import PLACEHOLDER_SIGNATURE, is_made_id
from apibridge.errors import InvalidPayload, UnsupportedFeature
from apibridge.model import (
    Message,
    OutputFormat,
    ReasoningConfig,
    Request,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

SIG = base64.b64encode(b"\x01\x02 a thought signature \xfe\xff").decode()

_CLIENT = genai.Client(api_key="k", http_options=types.HttpOptions(base_url="http://127.0.0.1:9"))


def sdk_body(
    model: str, contents: Any, config: types.GenerateContentConfig | None = None
) -> dict[str, Any]:
    """The body ``google-genai`` sends for ``generate_content(model, contents, config)``
    (its own converter; the model, which it puts in the URL, added as the gateway does)."""
    params = types._GenerateContentParameters(model=model, contents=contents, config=config)
    body = models._GenerateContentParameters_to_mldev(_CLIENT._api_client, params, None, params)
    for key in ("config", "_url", "_query"):
        body.pop(key, None)
    body = _common.encode_unserializable_types(_common.convert_to_dict(body))
    return {"model": f"models/{model}", **body}


def sdk_view(body: dict[str, Any]) -> dict[str, Any]:
    """A body as the SDK's types read it (spelling and number forms aside)."""
    config = {k: v for k, v in body.get("generationConfig", {}).items()}
    return {
        "model": body.get("model"),
        "contents": [types.Content.model_validate(c) for c in body["contents"]],
        "system": None
        if "systemInstruction" not in body
        else types.Content.model_validate(body["systemInstruction"]),
        "tools": [types.Tool.model_validate(t) for t in body.get("tools", [])],
        "tool_config": types.ToolConfig.model_validate(body["toolConfig"])
        if "toolConfig" in body
        else None,
        "safety": [types.SafetySetting.model_validate(s) for s in body.get("safetySettings", [])],
        "config": types.GenerationConfig.model_validate(config),
    }


def trip(body: dict[str, Any]) -> tuple[Request, dict[str, Any], Context]:
    request = decode_request(body, Context())
    ctx = Context()
    return request, encode_request(request, ctx), ctx


def read_file(path: str) -> str:
    """Read a file from the working directory."""
    return path


FULL_CONFIG = types.GenerateContentConfig(
    system_instruction="Be brief.",
    temperature=0.3,
    top_p=0.9,
    top_k=20,
    max_output_tokens=512,
    stop_sequences=["END"],
    seed=7,
    presence_penalty=0.25,
    frequency_penalty=0.5,
    candidate_count=1,
    response_logprobs=True,
    logprobs=3,
    response_mime_type="application/json",
    response_json_schema={"type": "object", "properties": {"a": {"type": "string"}}},
    thinking_config=types.ThinkingConfig(thinking_budget=1024, include_thoughts=True),
    tools=[
        types.Tool(
            function_declarations=[
                types.FunctionDeclaration(
                    name="list_dir",
                    description="List a directory.",
                    parameters_json_schema={
                        "type": "object",
                        "properties": {"dir": {"type": "string"}},
                    },
                )
            ]
        ),
        read_file,
        types.Tool(google_search=types.GoogleSearch()),
        types.Tool(code_execution=types.ToolCodeExecution()),
    ],
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    tool_config=types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(
            mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["read_file"]
        )
    ),
    safety_settings=[
        types.SafetySetting(
            category=types.HarmCategory.HARM_CATEGORY_HARASSMENT,
            threshold=types.HarmBlockThreshold.BLOCK_NONE,
        )
    ],
)

HISTORY = [
    types.Content(role="user", parts=[types.Part(text="What is in a.txt?")]),
    types.Content(
        role="model",
        parts=[
            types.Part(text="Let me look.", thought=True, thought_signature=b"\x01thought"),
            types.Part(
                function_call=types.FunctionCall(name="read_file", args={"path": "a.txt"}),
                thought_signature=b"\x02call\xff",
            ),
        ],
    ),
    types.Content(
        role="user",
        parts=[types.Part.from_function_response(name="read_file", response={"output": "hello"})],
    ),
    types.Content(
        role="user",
        parts=[
            types.Part(text="And this picture?"),
            types.Part.from_bytes(data=b"\x89PNG\r\n\x1a\n0000", mime_type="image/png"),
        ],
    ),
]


# ------------------------------------------------------------------------------ SDK bodies


def test_a_full_sdk_request_decodes_to_every_canonical_field() -> None:
    body = sdk_body("gemini-2.5-flash", HISTORY, FULL_CONFIG)
    request = decode_request(body, Context())
    assert request.model == "gemini-2.5-flash"
    assert request.stream is False
    assert [t.text for t in request.system] == ["Be brief."]
    assert (request.temperature, request.top_p, request.top_k) == (0.3, 0.9, 20)
    assert isinstance(request.top_k, int)  # the SDK writes 20.0
    assert (request.max_tokens, request.stop, request.n) == (512, ("END",), 1)
    assert (request.logprobs, request.top_logprobs) == (True, 3)
    assert request.output_format == OutputFormat(
        kind="json_schema", schema={"type": "object", "properties": {"a": {"type": "string"}}}
    )
    assert request.reasoning == ReasoningConfig(mode="enabled", budget_tokens=1024, summary="auto")
    assert request.tool_choice == ToolChoice(mode="tool", name="read_file")
    functions = [t for t in request.tools if t.kind == "function"]
    assert [(t.name, t.description) for t in functions] == [
        ("list_dir", "List a directory."),
        ("read_file", "Read a file from the working directory."),
    ]
    assert functions[1].parameters == {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
    }
    servers = [t for t in request.tools if t.kind == "server"]
    assert [(t.name, t.server_type, t.source_format) for t in servers] == [
        ("googleSearch", "google_search", "gemini"),
        ("codeExecution", "code_execution", "gemini"),
    ]
    own = request.extras["gemini"]
    assert own["seed"] == 7
    assert own["presencePenalty"] == 0.25
    assert own["frequencyPenalty"] == 0.5
    assert own["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}
    ]
    roles = [m.role for m in request.messages]
    assert roles == ["user", "assistant", "user", "user"]
    thought, carrier, call = request.messages[1].content
    assert isinstance(thought, ThinkingPart)
    assert thought.text == "Let me look."
    assert base64.urlsafe_b64decode(thought.extras["gemini"]["_signature"]) == b"\x01thought"
    assert isinstance(carrier, ThinkingPart)
    assert base64.urlsafe_b64decode(carrier.extras["gemini"]["_signature"]) == b"\x02call\xff"
    assert isinstance(call, ToolCallPart)
    assert is_made_id(call.id)
    (result,) = request.messages[2].content
    assert isinstance(result, ToolResultPart)
    assert (result.call_id, result.text) == (call.id, "hello")


@pytest.mark.parametrize(
    ("model", "contents", "config"),
    [
        ("gemini-2.5-flash", HISTORY, FULL_CONFIG),
        ("gemini-2.5-flash", "hello", None),
        (
            "gemini-3-pro-preview",
            "hello",
            types.GenerateContentConfig(
                tools=[read_file],
                automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
                thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW),
                response_mime_type="application/json",
                response_schema={"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
            ),
        ),
        (
            "gemini-2.5-pro",
            ["one", "two"],
            types.GenerateContentConfig(
                thinking_config=types.ThinkingConfig(thinking_budget=-1),
                response_modalities=["TEXT"],
                tool_config=types.ToolConfig(
                    function_calling_config=types.FunctionCallingConfig(mode="NONE")
                ),
                tools=[types.Tool(url_context=types.UrlContext())],
            ),
        ),
        (
            "gemini-2.5-flash",
            "hi",
            types.GenerateContentConfig(
                thinking_config=types.ThinkingConfig(thinking_budget=0, include_thoughts=False),
                response_mime_type="application/json",
                cached_content="cachedContents/abc",
            ),
        ),
    ],
)
def test_sdk_bodies_go_back_to_gemini_as_they_came(model: str, contents: Any, config: Any) -> None:
    body = sdk_body(model, contents, config)
    _, back, ctx = trip(body)
    assert ctx.losses == []
    assert sdk_view(back) == sdk_view(body)


def test_snake_case_bodies_read_like_camel_case() -> None:
    camel = {
        "model": "models/gemini-2.5-flash",
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG}
                ],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "f", "response": {"output": "r"}}}],
            },
        ],
        "systemInstruction": {"parts": [{"text": "sys"}]},
        "tools": [
            {"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]}
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        "generationConfig": {
            "maxOutputTokens": 9,
            "topP": 0.5,
            "topK": 3,
            "stopSequences": ["x"],
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object"},
            "thinkingConfig": {"thinkingBudget": 100, "includeThoughts": True},
            "responseLogprobs": True,
            "candidateCount": 1,
        },
    }
    snake = {
        "model": "models/gemini-2.5-flash",
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {
                "role": "model",
                "parts": [
                    {"function_call": {"name": "f", "args": {"a": 1}}, "thought_signature": SIG}
                ],
            },
            {
                "role": "user",
                "parts": [{"function_response": {"name": "f", "response": {"output": "r"}}}],
            },
        ],
        "system_instruction": {"parts": [{"text": "sys"}]},
        "tools": [
            {"function_declarations": [{"name": "f", "parameters_json_schema": {"type": "object"}}]}
        ],
        "tool_config": {
            "function_calling_config": {"mode": "ANY", "allowed_function_names": ["f"]}
        },
        "generation_config": {
            "max_output_tokens": 9,
            "top_p": 0.5,
            "top_k": 3,
            "stop_sequences": ["x"],
            "response_mime_type": "application/json",
            "response_json_schema": {"type": "object"},
            "thinking_config": {"thinking_budget": 100, "include_thoughts": True},
            "response_logprobs": True,
            "candidate_count": 1,
        },
    }
    from_camel = decode_request(camel, Context())
    from_snake = decode_request(snake, Context())
    assert from_snake == from_camel
    assert encode_request(from_snake, Context()) == camel


# ------------------------------------------------------------------------------ fields


BASE: dict[str, Any] = {
    "model": "models/gemini-2.5-flash",
    "contents": [{"role": "user", "parts": [{"text": "q"}]}],
}


def with_config(**config: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), "generationConfig": config}


@pytest.mark.parametrize(
    ("config", "attribute", "value"),
    [
        ({"temperature": 0.7}, "temperature", 0.7),
        ({"temperature": 1}, "temperature", 1),
        ({"topP": 0.95}, "top_p", 0.95),
        ({"topK": 40}, "top_k", 40),
        ({"maxOutputTokens": 2048}, "max_tokens", 2048),
        ({"stopSequences": ["a", "b"]}, "stop", ("a", "b")),
        ({"candidateCount": 1}, "n", 1),
        ({"responseLogprobs": True}, "logprobs", True),
        ({"responseLogprobs": True, "logprobs": 5}, "top_logprobs", 5),
        (
            {"responseMimeType": "application/json"},
            "output_format",
            OutputFormat(kind="json_object"),
        ),
        ({"responseMimeType": "text/plain"}, "output_format", OutputFormat(kind="text")),
        (
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "array"}},
            "output_format",
            OutputFormat(kind="json_schema", schema={"type": "array"}),
        ),
        (
            {
                "responseMimeType": "application/json",
                "responseSchema": {"type": "ARRAY", "items": {"type": "INTEGER", "nullable": True}},
            },
            "output_format",
            OutputFormat(
                kind="json_schema",
                schema={"type": "array", "items": {"type": ["integer", "null"]}},
            ),
        ),
        ({"thinkingConfig": {"thinkingBudget": 0}}, "reasoning", ReasoningConfig(mode="disabled")),
        ({"thinkingConfig": {"thinkingBudget": -1}}, "reasoning", ReasoningConfig(mode="adaptive")),
        (
            {"thinkingConfig": {"thinkingBudget": 4000, "includeThoughts": True}},
            "reasoning",
            ReasoningConfig(mode="enabled", budget_tokens=4000, summary="auto"),
        ),
        (
            {"thinkingConfig": {"thinkingLevel": "HIGH"}},
            "reasoning",
            ReasoningConfig(mode="enabled", effort="high"),
        ),
        (
            {"thinkingConfig": {"thinkingLevel": "low", "includeThoughts": True}},
            "reasoning",
            ReasoningConfig(mode="enabled", effort="low", summary="auto"),
        ),
        (
            {"thinkingConfig": {"includeThoughts": True}},
            "reasoning",
            ReasoningConfig(mode="adaptive", summary="auto"),
        ),
    ],
)
def test_generation_config_fields_both_ways(
    config: dict[str, Any], attribute: str, value: Any
) -> None:
    body = with_config(**config)
    request, back, ctx = trip(body)
    assert getattr(request, attribute) == value
    assert back == body
    assert ctx.losses == []


@pytest.mark.parametrize(
    "extra",
    [
        {"seed": 3},
        {"presencePenalty": 0.2, "frequencyPenalty": -0.1},
        {"responseModalities": ["TEXT", "IMAGE"]},
        {"mediaResolution": "MEDIA_RESOLUTION_LOW"},
        {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}},
        {"responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING", "enum": ["a"]}},
        {"thinkingConfig": {"thinkingBudget": 10, "futureKnob": 1}},
    ],
)
def test_other_generation_fields_ride_in_extras_to_gemini_and_are_lost_elsewhere(
    extra: dict[str, Any],
) -> None:
    body = with_config(**extra)
    request, back, ctx = trip(body)
    assert back == body
    assert ctx.losses == []
    for fmt in ("anthropic", "chat", "responses"):
        other = Context()
        get_codec(fmt).encode_request(request, other)
        lost = {loss.field for loss in other.losses}
        for key in extra:
            if key == "thinkingConfig":
                assert "request.thinkingConfig" in lost
            elif key not in ("responseMimeType",):
                assert f"request.{key}" in lost, (fmt, key, lost)


@pytest.mark.parametrize(
    "top",
    [
        {
            "safetySettings": [
                {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_ONLY_HIGH"}
            ]
        },
        {"cachedContent": "cachedContents/xyz"},
        {"labels": {"team": "a"}},
        {"toolConfig": {"retrievalConfig": {"languageCode": "en"}}},
    ],
)
def test_top_level_fields_ride_in_extras(top: dict[str, Any]) -> None:
    body = {**copy.deepcopy(BASE), **top}
    request, back, ctx = trip(body)
    assert back == body
    assert ctx.losses == []
    other = Context()
    get_codec("chat").encode_request(request, other)
    assert [loss.field for loss in other.losses] == [f"request.{next(iter(top))}"]


def test_more_than_one_candidate_is_refused_clearly() -> None:
    with pytest.raises(
        InvalidPayload, match=r"candidateCount: apibridge answers with one candidate, got 2"
    ):
        decode_request(with_config(candidateCount=2), Context())
    request = Request(model="gemini-2.5-flash", messages=(), n=3)
    with pytest.raises(UnsupportedFeature):
        encode_request(request, Context())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contents": []}, "model: missing"),
        ({"model": "models/x"}, "contents: missing"),
        (
            {"model": "models/x", "contents": [{"role": "system", "parts": []}]},
            "contents\\[0\\].role: expected user or model",
        ),
        (
            {"model": "models/x", "contents": [{"role": "user", "parts": [{"text": 1}]}]},
            "contents\\[0\\].parts\\[0\\].text",
        ),
        (
            {"model": "models/x", "contents": [], "generationConfig": {"topK": 2.5}},
            "topK: expected an integer",
        ),
        (
            {"model": "models/x", "contents": [], "generationConfig": {"temperature": "hot"}},
            "temperature: expected a number",
        ),
        (
            {"model": "models/x", "contents": [], "tools": [{"functionDeclarations": [{}]}]},
            "tools\\[0\\].functionDeclarations\\[0\\].name",
        ),
        (
            {
                "model": "models/x",
                "contents": [],
                "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}},
            },
            "mode: expected AUTO",
        ),
        (
            {
                "model": "models/x",
                "contents": [],
                "systemInstruction": {
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]
                },
            },
            "systemInstruction.parts\\[0\\]: expected a text part",
        ),
        (
            {
                "model": "models/x",
                "contents": [],
                "generationConfig": {"thinkingConfig": {"thinkingBudget": "lots"}},
            },
            "thinkingBudget: expected an integer",
        ),
        ([], "request: expected an object"),
    ],
)
def test_malformed_bodies_are_clear_errors(body: Any, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        decode_request(body, Context())


def test_roles_system_and_content_fields() -> None:
    body = {
        "model": "models/gemini-2.5-flash",
        "systemInstruction": {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        "contents": [
            {"parts": [{"text": "no role"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {
                "role": "function",
                "parts": [{"functionResponse": {"name": "f", "response": {"output": "x"}}}],
            },
        ],
    }
    request, back, ctx = trip(body)
    assert [m.role for m in request.messages] == ["user", "assistant", "user"]
    assert [p.text for p in request.system] == ["a", "b"]
    assert back == body  # the native history is not given a placeholder signature
    assert ctx.losses == []


# ------------------------------------------------------------------------------ tools


def test_openapi_parameters_become_json_schema_and_go_back_as_sent() -> None:
    openapi = {
        "type": "OBJECT",
        "properties": {
            "when": {"type": "STRING", "format": "date-time", "nullable": True},
            "tags": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["a", "b"]}},
            "any": {"anyOf": [{"type": "INTEGER"}, {"type": "BOOLEAN"}]},
        },
        "required": ["tags"],
    }
    body = {
        **copy.deepcopy(BASE),
        "tools": [
            {"functionDeclarations": [{"name": "f", "description": "d", "parameters": openapi}]}
        ],
    }
    request, back, _ = trip(body)
    (tool,) = request.tools
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "when": {"type": ["string", "null"], "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "any": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]},
        },
        "required": ["tags"],
    }
    assert back == body
    # another format gets the JSON Schema, which Claude's SDK takes as an input_schema
    claude = get_codec("anthropic").encode_request(request, Context())
    validate_request("anthropic", claude)
    assert claude["tools"][0]["input_schema"] == tool.parameters
    assert json_schema({"type": "STRING", "nullable": False}) == {"type": "string"}


def test_tools_of_other_formats_go_as_function_declarations() -> None:
    request = Request(
        model="gemini-2.5-flash",
        messages=(Message(role="user", content=(TextPart(text="x"),)),),
        tools=(
            Tool(name="a", description="A", parameters={"type": "object", "properties": {}}),
            Tool(name="b"),
            Tool(
                name="patch",
                kind="custom",
                description="Apply a patch",
                format={"type": "grammar", "syntax": "lark", "definition": "start: x"},
            ),
            Tool(
                name="web_search",
                kind="server",
                server_type="web_search",
                raw={"type": "web_search_20250305", "name": "web_search"},
                source_format="anthropic",
            ),
            Tool(
                name="c",
                strict=True,
                parameters={"type": "object"},
                cache_control={"type": "ephemeral"},
            ),
        ),
    )
    ctx = Context()
    body = encode_request(request, ctx)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "a",
                    "description": "A",
                    "parametersJsonSchema": {"type": "object", "properties": {}},
                },
                {"name": "b"},
                {
                    "name": "patch",
                    "description": body["tools"][0]["functionDeclarations"][2]["description"],
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"input": {"type": "string"}},
                        "required": ["input"],
                    },
                },
                {"name": "c", "parametersJsonSchema": {"type": "object"}},
            ]
        }
    ]
    assert "start: x" in body["tools"][0]["functionDeclarations"][2]["description"]
    assert [loss.field for loss in ctx.losses] == [
        "tools[2].format",
        "tools[3]",
        "tools[4].strict",
        "tools[4].cache_control",
    ]
    for tool in body["tools"]:
        types.Tool.model_validate(tool)


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_gemini_server_tools_are_lost_in_other_formats(fmt: str) -> None:
    body = {
        **copy.deepcopy(BASE),
        "tools": [
            {"googleSearch": {}},
            {"codeExecution": {}},
            {"urlContext": {}},
            {"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]},
        ],
    }
    request = decode_request(body, Context())
    ctx = Context()
    out = get_codec(fmt).encode_request(request, ctx)
    validate_request(fmt, out)
    assert len(out["tools"]) == 1
    assert [loss.field for loss in ctx.losses if loss.field.startswith("tools")] == [
        "tools[0]",
        "tools[1]",
        "tools[2]",
    ]


@pytest.mark.parametrize(
    ("config", "choice"),
    [
        ({"mode": "AUTO"}, ToolChoice(mode="auto")),
        ({"mode": "NONE"}, ToolChoice(mode="none")),
        ({"mode": "ANY"}, ToolChoice(mode="any")),
        ({"mode": "ANY", "allowedFunctionNames": ["f"]}, ToolChoice(mode="tool", name="f")),
        (
            {"mode": "ANY", "allowedFunctionNames": ["f", "g"]},
            ToolChoice(mode="any", allowed=("f", "g")),
        ),
        ({"mode": "VALIDATED"}, ToolChoice(mode="auto", extras={"gemini": {"mode": "VALIDATED"}})),
        (
            {"mode": "VALIDATED", "allowedFunctionNames": ["g"]},
            ToolChoice(mode="auto", allowed=("g",)),
        ),
        ({}, ToolChoice(mode="auto", extras={"gemini": {"_mode": None}})),
    ],
)
def test_function_calling_config_both_ways(config: dict[str, Any], choice: ToolChoice) -> None:
    tools = [{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}]
    body = {**copy.deepcopy(BASE), "tools": tools, "toolConfig": {"functionCallingConfig": config}}
    request, back, ctx = trip(body)
    assert request.tool_choice == choice
    assert back == body
    assert ctx.losses == []
    types.ToolConfig.model_validate(back["toolConfig"])


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        (ToolChoice(mode="auto"), {"mode": "AUTO"}),
        (ToolChoice(mode="any"), {"mode": "ANY"}),
        (ToolChoice(mode="none"), {"mode": "NONE"}),
        (ToolChoice(mode="tool", name="f"), {"mode": "ANY", "allowedFunctionNames": ["f"]}),
        (
            ToolChoice(mode="auto", allowed=("f",)),
            {"mode": "VALIDATED", "allowedFunctionNames": ["f"]},
        ),
        (
            ToolChoice(mode="any", allowed=("f", "g")),
            {"mode": "ANY", "allowedFunctionNames": ["f", "g"]},
        ),
    ],
)
def test_tool_choices_of_other_formats(choice: ToolChoice, config: dict[str, Any]) -> None:
    request = Request(
        model="gemini-2.5-flash",
        messages=(Message(role="user", content=(TextPart(text="x"),)),),
        tools=(Tool(name="f"), Tool(name="g")),
        tool_choice=choice,
    )
    body = encode_request(request, Context())
    assert body["toolConfig"] == {"functionCallingConfig": config}
    assert decode_request(body, Context()).tool_choice == choice


def test_a_choice_without_tools_is_not_sent_and_validated_is_lost_elsewhere() -> None:
    request = Request(model="gemini-2.5-flash", messages=(), tool_choice=ToolChoice(mode="any"))
    ctx = Context()
    assert "toolConfig" not in encode_request(request, ctx)
    assert ctx.losses == []
    body = {
        **copy.deepcopy(BASE),
        "tools": [{"functionDeclarations": [{"name": "f"}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}},
    }
    chat_ctx = Context()
    out = get_codec("chat").encode_request(decode_request(body, Context()), chat_ctx)
    assert out["tool_choice"] == "auto"
    assert [loss.field for loss in chat_ctx.losses] == ["tool_choice.mode"]


# ------------------------------------------------------------------------------ reasoning


def reasoning_request(model: str, reasoning: ReasoningConfig | None) -> Request:
    return Request(
        model=model,
        messages=(Message(role="user", content=(TextPart(text="x"),)),),
        reasoning=reasoning,
    )


@pytest.mark.parametrize(
    ("model", "reasoning", "thinking", "lost"),
    [
        (
            "gemini-2.5-flash",
            ReasoningConfig(mode="enabled", budget_tokens=5000),
            {"thinkingBudget": 5000, "includeThoughts": True},
            [],
        ),
        (
            "gemini-2.5-flash",
            ReasoningConfig(mode="adaptive"),
            {"thinkingBudget": -1, "includeThoughts": True},
            [],
        ),
        ("gemini-2.5-flash", ReasoningConfig(mode="disabled"), {"thinkingBudget": 0}, []),
        (
            "gemini-2.5-pro",
            ReasoningConfig(mode="disabled"),
            {"thinkingBudget": 128},
            ["reasoning"],
        ),
        (
            "gemini-2.5-flash",
            ReasoningConfig(mode="enabled", effort="high"),
            {"thinkingBudget": 24576, "includeThoughts": True},
            ["reasoning.effort"],
        ),
        (
            "gemini-3-pro-preview",
            ReasoningConfig(mode="enabled", effort="high"),
            {"thinkingLevel": "HIGH", "includeThoughts": True},
            [],
        ),
        (
            "gemini-3-flash-preview",
            ReasoningConfig(mode="enabled", effort="xhigh"),
            {"thinkingLevel": "HIGH", "includeThoughts": True},
            ["reasoning.effort"],
        ),
        (
            "gemini-3-pro-preview",
            ReasoningConfig(mode="enabled", budget_tokens=2048),
            {"thinkingBudget": 2048, "includeThoughts": True},
            [],
        ),
        (
            "gemini-3-pro-preview",
            ReasoningConfig(mode="enabled", budget_tokens=2048, effort="low"),
            {"thinkingLevel": "LOW", "includeThoughts": True},
            ["reasoning.budget_tokens"],
        ),
        (
            "gemini-3-pro-preview",
            ReasoningConfig(mode="disabled"),
            {"thinkingLevel": "LOW"},
            ["reasoning"],
        ),
        (
            "gemini-3-pro-preview",
            ReasoningConfig(mode="adaptive", effort="medium"),
            {"thinkingLevel": "MEDIUM", "includeThoughts": True},
            [],
        ),
        (
            "gemini-2.5-flash",
            ReasoningConfig(mode="enabled", budget_tokens=1024, summary="detailed"),
            {"thinkingBudget": 1024, "includeThoughts": True},
            ["reasoning.summary"],
        ),
        (
            "gemini-2.0-flash",
            ReasoningConfig(mode="enabled", budget_tokens=1024),
            None,
            ["reasoning"],
        ),
    ],
)
def test_reasoning_of_other_formats(
    model: str, reasoning: ReasoningConfig, thinking: dict[str, Any] | None, lost: list[str]
) -> None:
    ctx = Context()
    body = encode_request(reasoning_request(model, reasoning), ctx)
    assert body.get("generationConfig", {}).get("thinkingConfig") == thinking
    assert [loss.field for loss in ctx.losses] == lost
    types.GenerationConfig.model_validate(body.get("generationConfig", {}))


@pytest.mark.parametrize(
    "thinking",
    [
        {"thinkingBudget": 0},
        {"thinkingBudget": -1, "includeThoughts": True},
        {"thinkingBudget": 8000, "includeThoughts": False},
        {"thinkingLevel": "low"},
        {"thinkingLevel": "HIGH", "includeThoughts": True},
        {"includeThoughts": True},
    ],
)
def test_a_gemini_clients_thinking_config_goes_back_as_sent(thinking: dict[str, Any]) -> None:
    body = with_config(thinkingConfig=thinking)
    _, back, ctx = trip(body)
    assert back == body
    assert ctx.losses == []


@pytest.mark.parametrize(
    ("thinking", "fmt", "check"),
    [
        (
            {"thinkingBudget": 4096, "includeThoughts": True},
            "anthropic",
            lambda b: b["thinking"] == {"type": "enabled", "budget_tokens": 4096},
        ),
        ({"thinkingBudget": 4096}, "chat", lambda b: b["reasoning_effort"] == "low"),
        ({"thinkingLevel": "HIGH"}, "responses", lambda b: b["reasoning"]["effort"] == "high"),
        ({"thinkingBudget": -1}, "anthropic", lambda b: "thinking" in b),
    ],
)
def test_gemini_thinking_for_other_formats(thinking: dict[str, Any], fmt: str, check: Any) -> None:
    body = with_config(thinkingConfig=thinking, maxOutputTokens=16000)
    body["model"] = "models/claude-sonnet-4-5" if fmt == "anthropic" else "models/gpt-5"
    out = get_codec(fmt).encode_request(decode_request(body, Context()), Context())
    validate_request(fmt, out)
    assert check(out)


# ------------------------------------------------------------------------------ history


def test_history_from_claude_keeps_gemini_signatures_and_marks_others() -> None:
    """A Claude client's history: its thinking blocks carry Gemini signatures in envelopes
    (a Gemini upstream answered before); Claude's own thinking cannot go to Gemini."""
    from apibridge.codecs.envelope import Envelope, seal

    carrier_sig = seal(Envelope(origin="gemini", kind="carrier", data=SIG))
    thought_sig = seal(Envelope(origin="gemini", kind="signature", data="c2lnMg=="))
    claude_body = {
        "model": "gemini-3-pro-preview",
        "max_tokens": 1000,
        "system": "sys",
        "messages": [
            {"role": "user", "content": "read a and b"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "plan", "signature": thought_sig},
                    {"type": "thinking", "thinking": "", "signature": carrier_sig},
                    {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"p": "a"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "read", "input": {"p": "b"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "A"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": "B",
                        "is_error": True,
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "thinking",
                        "thinking": "claude's own",
                        "signature": "EqQBCkYIBxgCKkA",
                    },
                    {"type": "tool_use", "id": "toolu_3", "name": "read", "input": {"p": "c"}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_3", "content": "C"}],
            },
        ],
    }
    request = get_codec("anthropic").decode_request(claude_body, Context())
    ctx = Context()
    body = encode_request(request, ctx)
    assert body["systemInstruction"] == {"parts": [{"text": "sys"}]}
    model1 = body["contents"][1]
    assert model1 == {
        "role": "model",
        "parts": [
            {"text": "plan", "thought": True, "thoughtSignature": "c2lnMg=="},
            {
                "functionCall": {"id": "toolu_1", "name": "read", "args": {"p": "a"}},
                "thoughtSignature": SIG,
            },
            {"functionCall": {"id": "toolu_2", "name": "read", "args": {"p": "b"}}},
        ],
    }
    assert body["contents"][2]["parts"] == [
        {"functionResponse": {"id": "toolu_1", "name": "read", "response": {"output": "A"}}},
        {"functionResponse": {"id": "toolu_2", "name": "read", "response": {"error": "B"}}},
    ]
    model2 = body["contents"][3]["parts"]
    assert model2 == [
        {
            "functionCall": {"id": "toolu_3", "name": "read", "args": {"p": "c"}},
            "thoughtSignature": PLACEHOLDER_SIGNATURE,
        }
    ]
    assert [loss.field for loss in ctx.losses] == [
        "contents[3].parts[0]",
        "contents[3].parts[0].thoughtSignature",
    ]
    for content in body["contents"]:
        types.Content.model_validate(content)


def test_the_placeholder_loss_is_reported_once() -> None:
    calls = [
        Message(role="assistant", content=(ToolCallPart(id=f"call_{i}", name="f", arguments="{}"),))
        for i in range(3)
    ]
    results = [
        Message(
            role="user",
            content=(ToolResultPart(call_id=f"call_{i}", content=(TextPart(text="r"),)),),
        )
        for i in range(3)
    ]
    messages = [m for pair in zip(calls, results, strict=True) for m in pair]
    ctx = Context()
    body = encode_request(Request(model="gemini-3-pro-preview", messages=tuple(messages)), ctx)
    signed = [
        c["parts"][0].get("thoughtSignature") for c in body["contents"] if c["role"] == "model"
    ]
    assert signed == [PLACEHOLDER_SIGNATURE] * 3
    assert [loss.field for loss in ctx.losses] == ["contents[0].parts[0].thoughtSignature"]


def test_system_turns_move_and_turns_of_one_role_merge() -> None:
    request = Request(
        model="gemini-2.5-flash",
        system=(TextPart(text="first"),),
        messages=(
            Message(role="user", content=(TextPart(text="a"),)),
            Message(role="system", content=(TextPart(text="later"),)),
            Message(role="user", content=(TextPart(text="b"),)),
            Message(role="assistant", content=(TextPart(text="c"),), name="bot"),
        ),
    )
    ctx = Context()
    body = encode_request(request, ctx)
    assert body["systemInstruction"] == {"parts": [{"text": "first"}, {"text": "later"}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}]},
    ]
    assert [(loss.field, loss.action) for loss in ctx.losses] == [
        ("contents[1]", "moved to systemInstruction"),
        ("contents[3].name", "dropped"),
    ]


def test_results_pair_with_calls_without_ids_and_go_to_claude() -> None:
    body = {
        "model": "models/gemini-2.5-flash",
        "contents": [
            {"role": "user", "parts": [{"text": "list and read"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "read", "args": {"p": "a"}}, "thoughtSignature": SIG},
                    {"functionCall": {"name": "ls", "args": {}}},
                    {"functionCall": {"name": "read", "args": {"p": "b"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "ls", "response": {"output": "a b"}}},
                    {"functionResponse": {"name": "read", "response": {"output": "A"}}},
                    {"functionResponse": {"name": "read", "response": {"error": "no b"}}},
                ],
            },
        ],
    }
    request = decode_request(body, Context())
    assert decode_request(body, Context()) == request  # made ids are stable
    ctx = Context()
    claude = get_codec("anthropic").encode_request(request, ctx)
    validate_request("anthropic", claude)
    uses = [b for b in claude["messages"][1]["content"] if b["type"] == "tool_use"]
    results = claude["messages"][2]["content"]
    assert [(u["name"], u["input"]) for u in uses] == [
        ("read", {"p": "a"}),
        ("ls", {}),
        ("read", {"p": "b"}),
    ]
    assert [(r["tool_use_id"], r.get("is_error", False)) for r in results] == [
        (uses[1]["id"], False),
        (uses[0]["id"], False),
        (uses[2]["id"], True),
    ]
    # the carrier has no Anthropic signature: reported, not sent
    assert any(loss.field.startswith("messages[1].content") for loss in ctx.losses)
    # back to Gemini: the made ids are not sent, names come back, the results in call order
    # (Gemini pairs results without ids by position)
    again = encode_request(get_codec("anthropic").decode_request(claude, Context()), Context())
    assert [p["functionCall"] for p in again["contents"][1]["parts"]] == [
        {"name": "read", "args": {"p": "a"}},
        {"name": "ls", "args": {}},
        {"name": "read", "args": {"p": "b"}},
    ]
    assert [
        (p["functionResponse"]["name"], p["functionResponse"]["response"])
        for p in again["contents"][2]["parts"]
    ] == [("read", {"output": "A"}), ("ls", {"output": "a b"}), ("read", {"error": "no b"})]


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_a_full_gemini_request_is_a_valid_request_of_every_format(fmt: str) -> None:
    body = sdk_body("gemini-2.5-flash", HISTORY, FULL_CONFIG)
    request = decode_request(body, Context())
    ctx = Context()
    out = get_codec(fmt).encode_request(request, ctx)
    validate_request(fmt, out)
    lost = {loss.field for loss in ctx.losses}
    # what only Gemini says is reported, never dropped silently
    assert {"request.seed", "request.safetySettings", "request.presencePenalty"} <= lost
    # google-genai puts the built-in tools first: googleSearch, codeExecution
    assert {"tools[0]", "tools[1]"} <= lost
    assert "tools[3].response_json_schema" in lost


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_requests_of_other_formats_are_valid_gemini_requests(fmt: str) -> None:
    bodies = {
        "anthropic": {
            "model": "gemini-2.5-flash",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "see"},
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": "iVBORw0KGgo=",
                            },
                        },
                        {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}},
                    ],
                },
            ],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "stop_sequences": ["S"],
        },
        "chat": {
            "model": "gemini-2.5-flash",
            "messages": [
                {"role": "system", "content": "sys"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image_url", "image_url": {"url": "https://x/y.jpg"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": 1}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "done"},
            ],
            "tools": [
                {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "object"}},
            },
            "reasoning_effort": "low",
            "seed": 4,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
            "n": 1,
            "logprobs": True,
            "top_logprobs": 2,
        },
        "responses": {
            "model": "gemini-3-pro-preview",
            "instructions": "sys",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                {"type": "function_call", "call_id": "call_9", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_9", "output": "ok"},
            ],
            "tools": [
                {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": False}
            ],
            "reasoning": {"effort": "medium", "summary": "auto"},
            "text": {"format": {"type": "json_object"}},
            "max_output_tokens": 300,
        },
    }
    request = get_codec(fmt).decode_request(bodies[fmt], Context())
    ctx = Context()
    body = encode_request(request, ctx)
    view = sdk_view(body)  # the SDK's types read every piece
    assert view["contents"]
    assert body["systemInstruction"]["parts"][0]["text"] == "sys"
    again = decode_request(body, Context())
    assert [m.role for m in again.messages] == [
        m.role for m in request.messages if m.role != "system"
    ]
    if fmt == "chat":
        config = body["generationConfig"]
        # Chat's seed and penalties are Gemini's
        assert (config["seed"], config["presencePenalty"], config["frequencyPenalty"]) == (
            4,
            0.5,
            -0.5,
        )
        assert [loss.field for loss in ctx.losses] == [
            "contents[1].parts[0].thoughtSignature",
            "output_format.name",
            "reasoning.effort",
        ]
        assert body["generationConfig"]["thinkingConfig"] == {
            "thinkingBudget": 2048,
            "includeThoughts": True,
        }
        assert body["generationConfig"]["responseJsonSchema"] == {"type": "object"}
    if fmt == "anthropic":
        assert [loss.field for loss in ctx.losses] == ["systemInstruction.parts[0].cache_control"]
        assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
        assert body["contents"][0]["parts"][2] == {
            "fileData": {"mimeType": "application/pdf", "fileUri": "https://x/a.pdf"}
        }
    if fmt == "responses":
        assert body["generationConfig"]["thinkingConfig"] == {
            "thinkingLevel": "MEDIUM",
            "includeThoughts": True,
        }
        assert body["generationConfig"]["responseMimeType"] == "application/json"


def test_envelope_carried_signature_is_valid_base64_for_the_sdk() -> None:
    """What goes into ``thoughtSignature`` must be base64 the SDK accepts (never an envelope)."""
    body = sdk_body("gemini-2.5-flash", HISTORY, FULL_CONFIG)
    request = decode_request(body, Context())
    back = encode_request(request, Context())
    for content in back["contents"]:
        for part in content["parts"]:
            signature = part.get("thoughtSignature")
            if signature is not None:
                assert open_envelope(signature) is None
                base64.urlsafe_b64decode(signature)
        types.Content.model_validate(content)


def test_history_from_a_responses_client_returns_gemini_signatures() -> None:
    """A Responses client holds Gemini's signatures in reasoning items' ``encrypted_content``
    (the reasoning envelope): they come back to Gemini on the thought and on the call."""
    from apibridge.codecs.envelope import Envelope, seal

    thought = seal(Envelope(origin="gemini", kind="signature", data=SIG))
    carrier = seal(Envelope(origin="gemini", kind="carrier", data="Y2FsbA=="))
    body = {
        "model": "gemini-3-pro-preview",
        "input": [
            {"role": "user", "content": "read a"},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "plan"}],
                "encrypted_content": thought,
            },
            {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": carrier},
            {"type": "function_call", "call_id": "fc_1", "name": "read", "arguments": '{"p":"a"}'},
            {"type": "function_call_output", "call_id": "fc_1", "output": "A"},
        ],
        "tools": [
            {"type": "function", "name": "read", "parameters": {"type": "object"}, "strict": False}
        ],
    }
    request = get_codec("responses").decode_request(body, Context())
    ctx = Context()
    out = encode_request(request, ctx)
    assert out["contents"][1]["parts"] == [
        {"text": "plan", "thought": True, "thoughtSignature": SIG},
        {
            "functionCall": {"id": "fc_1", "name": "read", "args": {"p": "a"}},
            "thoughtSignature": "Y2FsbA==",
        },
    ]
    assert out["contents"][2]["parts"] == [
        {"functionResponse": {"id": "fc_1", "name": "read", "response": {"output": "A"}}}
    ]
    assert ctx.losses == []


def test_claude_reasoning_shown_to_a_gemini_client_returns_to_claude() -> None:
    """A Gemini client of a Claude upstream: the answer's thinking came as a thought part
    signed with the envelope (``_parts.encode_parts(answer=True)``); the client sends the
    history back through the SDK, and Claude gets its own thinking block, signature intact."""
    from apibridge.codecs.gemini._parts import encode_parts
    from apibridge.model import RedactedThinkingPart

    answer = encode_parts(
        [
            ThinkingPart(text="I should read it.", signature="EqQBCkYIBxgCKkBs+/sig=="),
            RedactedThinkingPart(data="EmwKAhgBEgy3va3p"),
            ToolCallPart(id="toolu_01", name="read_file", arguments='{"path":"a"}'),
        ],
        Context(),
        "candidates[0].content.parts",
        answer=True,
    )
    history = [
        types.Content(role="user", parts=[types.Part(text="read a")]),
        types.Content.model_validate({"role": "model", "parts": answer}),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        id="toolu_01", name="read_file", response={"output": "A"}
                    )
                )
            ],
        ),
    ]
    body = sdk_body("claude-sonnet-4-5", history)
    request = decode_request(body, Context())
    ctx = Context()
    claude = get_codec("anthropic").encode_request(request, ctx)
    validate_request("anthropic", claude)
    assert claude["messages"][1]["content"] == [
        {
            "type": "thinking",
            "thinking": "I should read it.",
            "signature": "EqQBCkYIBxgCKkBs+/sig==",
        },
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"},
        {"type": "tool_use", "id": "toolu_01", "name": "read_file", "input": {"path": "a"}},
    ]
    assert claude["messages"][2]["content"][0]["tool_use_id"] == "toolu_01"


def test_merged_model_turns_sign_only_their_first_call() -> None:
    """Two assistant messages in a row (parallel calls as another format lists them) are one
    Gemini turn: only its first call takes the placeholder, as Gemini signs parallel calls."""
    request = Request(
        model="gemini-3-pro-preview",
        messages=(
            Message(role="user", content=(TextPart(text="both"),)),
            Message(role="assistant", content=(ToolCallPart(id="c1", name="f", arguments="{}"),)),
            Message(role="assistant", content=(ToolCallPart(id="c2", name="g", arguments="{}"),)),
            Message(
                role="user",
                content=(
                    ToolResultPart(call_id="c1", content=(TextPart(text="1"),)),
                    ToolResultPart(call_id="c2", content=(TextPart(text="2"),)),
                ),
            ),
        ),
    )
    ctx = Context()
    body = encode_request(request, ctx)
    assert body["contents"][1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"id": "c1", "name": "f", "args": {}},
                "thoughtSignature": PLACEHOLDER_SIGNATURE,
            },
            {"functionCall": {"id": "c2", "name": "g", "args": {}}},
        ],
    }
    assert [loss.field for loss in ctx.losses] == ["contents[1].parts[0].thoughtSignature"]


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-pro-preview"])
def test_images_in_tool_results(model: str) -> None:
    """Gemini 3's function responses hold media; earlier models get it after the responses."""
    png = "iVBORw0KGgoAAAANSUhEUg=="
    claude = {
        "model": model,
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "screenshot please"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "text", "text": "here"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": png,
                                },
                            },
                        ],
                    },
                    {"type": "text", "text": "what do you see?"},
                ],
            },
        ],
    }
    ctx = Context()
    body = encode_request(get_codec("anthropic").decode_request(claude, Context()), ctx)
    image = {"inlineData": {"mimeType": "image/png", "data": png}}
    response = {"id": "toolu_1", "name": "shot", "response": {"output": "here"}}
    if model.startswith("gemini-3"):
        expected = [
            {"functionResponse": {**response, "parts": [image]}},
            {"text": "what do you see?"},
        ]
        lost = []
    else:
        expected = [{"functionResponse": response}, {"text": "what do you see?"}, image]
        lost = ["contents[2].parts[0].content"]
    assert body["contents"][2]["parts"] == expected
    assert [loss.field for loss in ctx.losses if "thoughtSignature" not in loss.field] == lost
    types.Content.model_validate(body["contents"][2])


def test_at_most_five_stop_sequences_go_to_gemini() -> None:
    request = Request(
        model="gemini-2.5-flash",
        messages=(Message(role="user", content=(TextPart(text="x"),)),),
        stop=tuple("abcdefg"),
    )
    ctx = Context()
    body = encode_request(request, ctx)
    assert body["generationConfig"]["stopSequences"] == list("abcde")
    assert [(loss.field, loss.action) for loss in ctx.losses] == [("stop", "sent the first 5")]


@pytest.mark.parametrize("fmt", ["anthropic", "chat", "responses"])
def test_code_execution_history_is_reported_by_other_formats(fmt: str) -> None:
    body = {
        "model": "models/gemini-2.5-flash",
        "tools": [{"codeExecution": {}}],
        "contents": [
            {"role": "user", "parts": [{"text": "compute 2**10"}]},
            {
                "role": "model",
                "parts": [
                    {"executableCode": {"language": "PYTHON", "code": "print(2**10)"}},
                    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1024\n"}},
                    {"text": "1024"},
                ],
            },
            {"role": "user", "parts": [{"text": "thanks"}]},
        ],
    }
    request = decode_request(body, Context())
    ctx = Context()
    out = get_codec(fmt).encode_request(request, ctx)
    validate_request(fmt, out)
    reasons = " ".join(f"{loss.field}: {loss.reason}" for loss in ctx.losses)
    assert "executableCode" in reasons
    assert "codeExecutionResult" in reasons
    assert "tools[0]" in reasons  # the codeExecution tool itself
    # and the Gemini trip keeps both parts and the tool, as they came
    assert encode_request(request, Context()) == body


def test_a_developer_turn_mid_conversation_moves_to_the_system_instruction() -> None:
    responses = {
        "model": "gemini-2.5-flash",
        "instructions": "be kind",
        "input": [
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": "answer in French"},
            {"role": "user", "content": "how are you?"},
        ],
    }
    request = get_codec("responses").decode_request(responses, Context())
    ctx = Context()
    body = encode_request(request, ctx)
    texts = [p["text"] for p in body["systemInstruction"]["parts"]]
    assert texts == ["be kind", "answer in French"]
    assert [c["role"] for c in body["contents"]] == ["user"]
    assert [p["text"] for p in body["contents"][0]["parts"]] == ["hi", "how are you?"]
    assert [(loss.field, loss.action) for loss in ctx.losses] == [
        ("contents[1]", "moved to systemInstruction")
    ]


# ------------------------------------------------------------------------------ streamed history

SIG2 = base64.b64encode(b"\x03 another signature").decode()


def chunked_history() -> dict[str, Any]:
    """A google-genai chat session's history after a streamed turn: one model content per
    chunk (thought pieces, the signed call), then the result and a streamed text answer."""
    call = {"name": "get_weather", "args": {"city": "Paris"}}
    return {
        "model": "models/gemini-2.5-flash",
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"text": "Paris weather ", "thought": True}]},
            {"role": "model", "parts": [{"text": "needs the tool.", "thought": True}]},
            {"role": "model", "parts": [{"functionCall": call, "thoughtSignature": SIG}]},
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}}
                ],
            },
            {"role": "model", "parts": [{"text": "It is "}]},
            {"role": "model", "parts": [{"text": "sunny.", "thoughtSignature": SIG2}]},
            {"role": "user", "parts": [{"text": "Thanks."}]},
        ],
    }


def test_a_streamed_chat_history_decodes_as_one_assistant_message_per_turn() -> None:
    body = chunked_history()
    for content in body["contents"]:
        types.Content.model_validate(content)
    request = decode_request(body, Context())
    assert [m.role for m in request.messages] == ["user", "assistant", "user", "assistant", "user"]
    thought, carrier, call = request.messages[1].content
    assert isinstance(thought, ThinkingPart)
    assert thought.text == "Paris weather needs the tool."
    assert isinstance(carrier, ThinkingPart)
    assert not carrier.text
    assert isinstance(call, ToolCallPart)
    assert call.name == "get_weather"
    # the text's signature stays on the joined text (a field other formats report lost)
    (text,) = request.messages[3].content
    assert text == TextPart(text="It is sunny.", extras={"gemini": {"thoughtSignature": SIG2}})
    # a Chat upstream gets one assistant message per turn, with whole text and reasoning
    ctx = Context()
    chat = get_codec("chat").encode_request(request, ctx)
    validate_request("chat", chat)
    assistants = [m for m in chat["messages"] if m["role"] == "assistant"]
    assert len(assistants) == 2
    assert [c["function"]["name"] for c in assistants[0]["tool_calls"]] == ["get_weather"]
    assert assistants[0]["reasoning_content"] == "Paris weather needs the tool."
    assert assistants[1]["content"] == "It is sunny."
    # back to Gemini: merged, each signature on the part it was on
    again = encode_request(request, Context())
    assert [c["role"] for c in again["contents"]] == ["user", "model", "user", "model", "user"]
    assert again["contents"][1]["parts"] == [
        {"text": "Paris weather needs the tool.", "thought": True},
        {"functionCall": body["contents"][3]["parts"][0]["functionCall"], "thoughtSignature": SIG},
    ]
    assert again["contents"][3]["parts"] == [{"text": "It is sunny.", "thoughtSignature": SIG2}]
    for content in again["contents"]:
        types.Content.model_validate(content)


def test_a_signature_or_a_field_of_its_own_ends_a_run_of_texts() -> None:
    meta = {"partMetadata": {"k": "v"}}
    chunks: list[dict[str, Any]] = [
        {"text": "a"},
        {"text": "b", "thoughtSignature": SIG},  # ends the run: "ab" signed
        {"text": "c"},
        {"text": "d", **meta},  # fields of its own: not joined
        {"text": "e"},
        {"text": "x", "thought": True, "thoughtSignature": SIG2},  # a signed thought ends it
        {"text": "y", "thought": True},
        {"text": "z", "thought": True},
    ]
    body = {
        "model": "models/gemini-2.5-flash",
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            *({"role": "model", "parts": [chunk]} for chunk in chunks),
            {"role": "user", "parts": [{"text": "more"}]},
        ],
    }
    request = decode_request(body, Context())
    assert len(request.messages) == 3
    again = encode_request(request, Context())
    assert again["contents"][1]["parts"] == [
        {"text": "ab", "thoughtSignature": SIG},
        {"text": "c"},
        {"text": "d", **meta},
        {"text": "e"},
        {"text": "x", "thought": True, "thoughtSignature": SIG2},
        {"text": "yz", "thought": True},
    ]
    # user turns are not merged: a Gemini client's user contents go back as they came
    body["contents"].append({"role": "user", "parts": [{"text": "again"}]})
    assert [m.role for m in decode_request(body, Context()).messages][-2:] == ["user", "user"]


# ------------------------------------------------------------------------------ result order


def test_results_go_to_gemini_in_call_order() -> None:
    # Claude Code sends parallel results in the order the tools finished; Gemini 2.5 pairs
    # results without ids with the calls by position.
    calls = (
        ToolCallPart(id="call_a", name="read", arguments='{"p": "a"}'),
        ToolCallPart(id="call_b", name="ls", arguments="{}"),
        ToolCallPart(id="call_c", name="read", arguments='{"p": "c"}'),
    )
    request = Request(
        model="gemini-2.5-flash",
        messages=(
            Message(role="user", content=(TextPart(text="go"),)),
            Message(role="assistant", content=calls),
            Message(
                role="user",
                content=(
                    ToolResultPart(call_id="call_c", content=(TextPart(text="C"),)),
                    TextPart(text="note"),
                    ToolResultPart(call_id="call_old", content=(TextPart(text="?"),)),
                ),
            ),
            # a Chat client's tool messages can arrive as user messages of their own
            Message(
                role="user",
                content=(
                    ToolResultPart(call_id="call_b", content=(TextPart(text="B"),)),
                    ToolResultPart(call_id="call_a", content=(TextPart(text="A"),)),
                ),
            ),
        ),
    )
    ctx = Context()
    body = encode_request(request, ctx)
    (results,) = [c for c in body["contents"] if c["role"] == "user"][1:]
    assert [
        p["text"]
        if "text" in p
        else (p["functionResponse"]["id"], p["functionResponse"]["response"])
        for p in results["parts"]
    ] == [
        ("call_a", {"output": "A"}),
        "note",  # the turn's other parts keep their places
        ("call_b", {"output": "B"}),
        ("call_c", {"output": "C"}),
        ("call_old", {"output": "?"}),  # answers no call of the turn before: after the others
    ]
    types.Content.model_validate(results)
    # the same through Claude, the results reversed as Claude Code sends them
    claude = get_codec("anthropic").encode_request(
        Request(model="gemini-2.5-flash", messages=request.messages[:2]), Context()
    )
    claude["messages"].append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": c.id, "content": c.id[-1].upper()}
                for c in reversed(calls)
            ],
        }
    )
    body = encode_request(get_codec("anthropic").decode_request(claude, Context()), Context())
    responses = [p["functionResponse"] for p in body["contents"][2]["parts"]]
    assert [(r["id"], r["response"]["output"]) for r in responses] == [
        ("call_a", "A"),
        ("call_b", "B"),
        ("call_c", "C"),
    ]


def test_a_gemini_clients_results_go_back_in_its_own_order() -> None:
    calls = [{"functionCall": {"id": f"c{k}", "name": "f", "args": {}}} for k in (1, 2)]
    responses = [
        {"functionResponse": {"id": f"c{k}", "name": "f", "response": {"output": str(k)}}}
        for k in (2, 1)
    ]
    body = {
        "model": "models/gemini-3-pro-preview",
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": calls},
            {"role": "user", "parts": responses},
        ],
    }
    assert encode_request(decode_request(body, Context()), Context()) == body
