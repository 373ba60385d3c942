"""Record what the real Gemini clients send: Gemini CLI and the ``google-genai`` SDK.

Theory of operation
-------------------
A :class:`~.recorder.Recorder` (which answers Gemini's REST paths: ``generateContent``,
``streamGenerateContent`` as SSE frames ``data: {GenerateContentResponse}\\r\\n\\r\\n`` or a JSON
array, ``countTokens``, the model list) stands in for Google on ``127.0.0.1``, bounded in
requests (``max_requests``: past it every request gets a 429) and in time (each client run has
a hard timeout). Two clients are pointed at it:

* **Gemini CLI** (headless ``gemini -p``, throw-away ``HOME``, see :func:`.clients.run_gemini`)
  with a prompt about a file in its working directory, the recorder scripted to answer a
  ``read_file`` ``functionCall`` first and a text second, so the second request holds the
  function call and its ``functionResponse``. Once with a Gemini 2.5 model (the call comes
  without an ``id``, signed) and once with a Gemini 3 model (the call has an ``id``).
* **google-genai** (Python): ``generate_content`` with function declarations, a system
  instruction and a thinking config; the same conversation continued with the model's function
  call and a function response (the signature comes back re-encoded by the SDK);
  ``generate_content`` with a response schema; ``generate_content_stream``; ``count_tokens``;
  ``models.list`` and ``models.get``.

Every request is written whole to ``tests/fixtures/gemini/request_<client>_<name>.json``:
method, path, query, headers (the key's value and the varying ``host``/``content-length``
replaced) and body. Run from the repository root::

    PYTHONPATH=src:tests python -m tests.acceptance.gemini_recorder [cli] [sdk]

``CLIENTS.md`` beside the fixtures says what the recordings showed.
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from . import clients
from .recorder import Recorded, Recorder
from .scripted import Call, Turn

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gemini"

#: A signature with bytes whose base64 uses ``+`` and ``/``, so the SDK's URL-safe
#: re-encoding (``-`` and ``_``) shows in what it sends back.
SIGNATURE = base64.b64encode(b"\xfb\xff\xbfscripted-gemini-signature\xfe").decode()

#: Header values that must not land in a fixture, or that change from run to run.
_REDACTED = {"x-goog-api-key": "<key>", "authorization": "<key>"}
_VARYING = {"host": "127.0.0.1:<port>", "content-length": "<length>"}

NOTES = "the secret word is pelican\n"
READ_PROMPT = "Read the file notes.txt in the current directory and tell me the secret word."


def fixture_of(record: Recorded, *, client: str, what: str) -> dict[str, Any]:
    """One recorded request as a fixture (keys and varying headers replaced)."""
    headers = [
        [name, _REDACTED.get(name, _VARYING.get(name, value))] for name, value in record.headers
    ]
    # No ``kind``: the transcripts beside them have one (test_gemini_transcripts tells the two
    # apart by it).
    return {
        "description": f"{what}, captured from {client} on loopback",
        "method": record.method,
        "path": record.path,
        "query": record.query,
        "headers": headers,
        "body": record.body,
    }


def _write(name: str, fixture: dict[str, Any]) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"{name}.json"
    path.write_bytes(orjson.dumps(fixture, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)", file=sys.stderr)


def read_file_script(call_id: str) -> list[Turn]:
    """A ``read_file`` call on ``notes.txt`` (signed), then the answer text."""
    call = Call(id=call_id, name="read_file", arguments=json.dumps({"file_path": "notes.txt"}))
    return [
        Turn(reasoning="The user wants the word in notes.txt.", calls=(call,), signature=SIGNATURE),
        Turn(text="The secret word is pelican.", signature=""),
    ]


def _capture_cli(model: str, tag: str, call_id: str) -> None:
    client = clients.version("gemini")
    with tempfile.TemporaryDirectory(prefix="apibridge-gemini-capture-") as scratch:
        workdir = Path(scratch)
        (workdir / "notes.txt").write_text(NOTES)
        with Recorder(read_file_script(call_id), max_requests=10) as recorder:
            run = clients.run_gemini(recorder.url, READ_PROMPT, workdir=workdir, model=model)
            print(run.summary()[-1500:], file=sys.stderr)
            requests = list(recorder.requests)
    if run.returncode != 0 or "pelican" not in run.stdout:
        raise SystemExit(f"gemini CLI run failed:\n{run.summary()}")
    model_requests = [r for r in requests if r.method == "POST"]
    if len(requests) != len(model_requests) or len(model_requests) != 2:
        paths = [(r.method, r.path) for r in requests]
        raise SystemExit(f"expected two model requests and nothing else, got {paths}")
    first, second = model_requests
    asked = first.path.rsplit("/", 1)[-1].split(":")[0]
    run_name = f"-m {model}" + ("" if asked == model else f", which the CLI requested as {asked}")
    _write(
        f"request_gemini_cli_{tag}_first",
        fixture_of(first, client=client, what=f"first request of a headless run ({run_name})"),
    )
    what = (
        f"second request of a headless run ({run_name}): the model's read_file functionCall"
        " (answered by the recorder"
        + (f" with id {call_id!r}" if call_id else " without an id")
        + ") and the CLI's functionResponse in the history"
    )
    _write(f"request_gemini_cli_{tag}_tool_result", fixture_of(second, client=client, what=what))


def capture_cli() -> None:
    """Gemini CLI against the recorder: a Gemini 2.5 run and a Gemini 3 run."""
    _capture_cli("gemini-2.5-flash", "25", "")
    _capture_cli("gemini-3-pro-preview", "3", "fc_scripted_read01")


_WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}


def capture_sdk() -> None:
    """The google-genai SDK's calls against the recorder, one fixture each."""
    import google.genai as genai_package
    from google import genai
    from google.genai import types

    client_name = f"google-genai {genai_package.__version__} (Python)"
    weather = types.FunctionDeclaration(
        name="get_weather",
        description="Current weather for a city.",
        parameters_json_schema=_WEATHER_SCHEMA,
    )
    legacy = types.FunctionDeclaration(
        name="get_time",
        description="Current time in a city (OpenAPI-style parameters).",
        parameters=types.Schema(
            type=types.Type.OBJECT,
            properties={"city": types.Schema(type=types.Type.STRING)},
            required=["city"],
        ),
    )
    call = Call(id="", name="get_weather", arguments='{"city": "Paris"}')
    script = [
        Turn(reasoning="Weather needs the tool.", calls=(call,), signature=SIGNATURE),
        Turn(text="It is sunny in Paris.", signature=""),
        Turn(text='{"city": "Paris", "sunny": true}', signature=""),
        Turn(text="Streaming answer text.", reasoning="Short thought.", signature=SIGNATURE),
    ]
    tool_config = types.GenerateContentConfig(
        system_instruction="You are terse.",
        tools=[types.Tool(function_declarations=[weather, legacy])],
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(
                mode=types.FunctionCallingConfigMode.AUTO
            )
        ),
        thinking_config=types.ThinkingConfig(thinking_budget=1024, include_thoughts=True),
        temperature=0.2,
        max_output_tokens=512,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    steps: list[tuple[str, str, Callable[[Any], Any]]] = []
    contents: list[Any] = [
        types.Content(role="user", parts=[types.Part(text="What is the weather in Paris?")])
    ]

    def first(sdk: Any) -> Any:
        answer = sdk.models.generate_content(
            model="gemini-2.5-flash", contents=contents, config=tool_config
        )
        contents.append(answer.candidates[0].content)
        return answer

    def second(sdk: Any) -> Any:
        (part,) = [p for p in contents[-1].parts if p.function_call]
        result = types.Part.from_function_response(
            name=part.function_call.name, response={"output": "sunny, 21 C"}
        )
        contents.append(types.Content(role="user", parts=[result]))
        return sdk.models.generate_content(
            model="gemini-2.5-flash", contents=contents, config=tool_config
        )

    def schema(sdk: Any) -> Any:
        config = types.GenerateContentConfig(
            response_mime_type="application/json",
            response_json_schema={
                "type": "object",
                "properties": {"city": {"type": "string"}, "sunny": {"type": "boolean"}},
                "required": ["city", "sunny"],
                "additionalProperties": False,
            },
            thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW),
            seed=7,
            stop_sequences=["END"],
        )
        return sdk.models.generate_content(
            model="gemini-3-pro-preview", contents="Weather in Paris as JSON.", config=config
        )

    def stream(sdk: Any) -> Any:
        config = types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=-1),
            safety_settings=[
                types.SafetySetting(
                    category=types.HarmCategory.HARM_CATEGORY_HARASSMENT,
                    threshold=types.HarmBlockThreshold.BLOCK_ONLY_HIGH,
                )
            ],
        )
        return list(
            sdk.models.generate_content_stream(
                model="gemini-2.5-flash", contents="Say something.", config=config
            )
        )

    def count(sdk: Any) -> Any:
        return sdk.models.count_tokens(model="gemini-2.5-flash", contents="How many tokens?")

    def listing(sdk: Any) -> Any:
        return list(sdk.models.list())

    def get(sdk: Any) -> Any:
        return sdk.models.get(model="gemini-2.5-flash")

    steps = [
        (
            "tools_thinking",
            "generate_content with function declarations (parameters_json_schema"
            " and OpenAPI parameters), a system instruction, tool_config AUTO and thinking_config"
            " (budget 1024, include_thoughts)",
            first,
        ),
        (
            "tool_result",
            "the same conversation continued: the model's signed functionCall"
            " (thought part included) as the SDK sends it back, and a function_response",
            second,
        ),
        (
            "response_schema",
            "generate_content with response_mime_type application/json,"
            " response_json_schema, thinking_level LOW, seed and stop_sequences",
            schema,
        ),
        (
            "stream",
            "generate_content_stream with thinking_budget -1, include_thoughts and safety_settings",
            stream,
        ),
        ("count_tokens", "count_tokens", count),
        ("models_list", "models.list", listing),
        ("models_get", "models.get", get),
    ]
    with Recorder(script, max_requests=20) as recorder:
        sdk = genai.Client(
            api_key="test-key", http_options=types.HttpOptions(base_url=recorder.url)
        )
        done = 0
        for tag, what, step in steps:
            step(sdk)
            new = recorder.requests[done:]
            done = len(recorder.requests)
            for number, record in enumerate(new):
                suffix = "" if len(new) == 1 else f"_{number}"
                _write(
                    f"request_genai_sdk_{tag}{suffix}",
                    fixture_of(record, client=client_name, what=what),
                )


CAPTURES: dict[str, Callable[[], None]] = {"cli": capture_cli, "sdk": capture_sdk}


def main(argv: Sequence[str]) -> None:
    names = list(argv) or list(CAPTURES)
    if not set(names) <= set(CAPTURES):
        raise SystemExit(f"usage: gemini_recorder.py [{'|'.join(CAPTURES)}]...")
    for name in names:
        CAPTURES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
