"""``apibridge convert`` as a user runs it: a real subprocess, real files, real exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from oracles import final_from_stream, validate_error, validate_request, validate_response

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "payloads" / "claude_request.json"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "apibridge.cli", "convert", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def _fences(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


# docs/quickstart.md has a test of its own: tests/gateway/test_quickstart.py
@pytest.mark.parametrize("page", ["README.md"])
def test_the_quick_start_prints_what_the_page_says(page: str) -> None:
    """The page's convert command, run, prints on stderr exactly the warnings the page shows;
    both commands install into one virtual environment, editable, in the order given."""
    text = (ROOT / page).read_text(encoding="utf-8")
    text = text[text.index("uick start") :]
    convert, tests = (block.strip() for block in _fences(text, "bash")[:2])
    for command in (convert, tests):
        assert command.startswith("python3 -m venv .venv && .venv/bin/python -m pip install -q -e ")
    assert "'.[dev]'" in tests
    assert tests.endswith(".venv/bin/python -m pytest")
    args = convert.split(" && ")[-1].removeprefix(".venv/bin/apibridge ").split()
    result = subprocess.run(
        [sys.executable, "-m", "apibridge", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    validate_request("chat", orjson.loads(result.stdout))
    shown = _fences(text, "text")[0].strip().splitlines()
    assert result.stderr.strip().splitlines() == shown


def test_the_example_request_is_valid_for_the_anthropic_api() -> None:
    body = orjson.loads(EXAMPLE.read_bytes())
    validate_request("anthropic", body)
    # the API's own rule, which the SDK types do not check (the example once broke it)
    assert body["thinking"]["budget_tokens"] < body["max_tokens"]


def test_quick_start_command_converts_the_example() -> None:
    result = run("--from", "anthropic", "--to", "chat", "--indent", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    body = orjson.loads(result.stdout)
    validate_request("chat", body)
    calls = [c for m in body["messages"] for c in m.get("tool_calls", [])]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_weather"]
    # the thinking signature cannot travel to Chat: said on stderr, not dropped silently
    assert b"warning:" in result.stderr
    assert b"signature" in result.stderr


def test_stdin_and_every_target(tmp_path: Path) -> None:
    data = EXAMPLE.read_bytes()
    for target in ("anthropic", "chat", "responses"):
        out = tmp_path / f"{target}.json"
        result = run("--from", "anthropic", "--to", target, "-o", str(out), "-", stdin=data)
        assert result.returncode == 0, result.stderr
        validate_request(target, orjson.loads(out.read_bytes()))


def test_invalid_json_is_a_clear_error() -> None:
    result = run("--from", "chat", "--to", "anthropic", "-", stdin=b'{"model": ')
    assert result.returncode == 2
    assert result.stderr.startswith(b"apibridge convert: error:")
    assert b"Traceback" not in result.stderr


def test_invalid_payload_is_a_clear_error() -> None:
    result = run("--from", "chat", "--to", "anthropic", "-", stdin=b'{"model": "m", "messages": 3}')
    assert result.returncode == 2
    assert b"messages" in result.stderr
    assert b"Traceback" not in result.stderr


def test_empty_input_and_missing_file() -> None:
    assert run("--from", "chat", "--to", "anthropic", "-", stdin=b"").returncode == 2
    missing = run("--from", "chat", "--to", "anthropic", "/nonexistent/file.json")
    assert missing.returncode == 2
    assert b"Traceback" not in missing.stderr


def test_strict_fails_on_a_loss() -> None:
    result = run("--from", "anthropic", "--to", "chat", "--strict", str(EXAMPLE))
    assert result.returncode == 2
    assert result.stderr.startswith(b"apibridge convert: error:")
    assert b"cache_control" in result.stderr  # the first field Chat cannot hold
    assert result.stdout == b""


def test_stream_is_detected_and_converted() -> None:
    sse = (
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n'
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    result = run("--from", "chat", "--to", "anthropic", "-", stdin=sse)
    assert result.returncode == 0, result.stderr
    final = final_from_stream("anthropic", result.stdout)
    assert final.content[0].text == "Hello"
    assert final.stop_reason == "end_turn"


def test_response_is_detected_and_converted() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    result = run("--from", "chat", "--to", "responses", "-", stdin=orjson.dumps(body))
    assert result.returncode == 0, result.stderr
    out = validate_response("responses", orjson.loads(result.stdout))
    assert out.output_text == "Hi"
    assert out.usage is not None
    assert out.usage.input_tokens == 5


def test_error_with_status() -> None:
    body = {
        "error": {
            "message": "Rate limit reached",
            "type": "requests",
            "code": "rate_limit_exceeded",
        }
    }
    result = run(
        "--from", "chat", "--to", "anthropic", "--status", "429", "-", stdin=orjson.dumps(body)
    )
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    validate_error("anthropic", 429, out)
    assert out["error"]["type"] == "rate_limit_error"
    assert b"status 429" in result.stderr


def test_html_error_page() -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    result = run(
        "--from", "chat", "--to", "anthropic", "--kind", "error", "--status", "502", "-", stdin=page
    )
    assert result.returncode == 0, result.stderr
    validate_error("anthropic", 502, orjson.loads(result.stdout))


def test_version_is_the_installed_packages() -> None:
    from importlib.metadata import version

    import apibridge

    result = subprocess.run(
        [sys.executable, "-m", "apibridge", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"apibridge {apibridge.__version__}"
    assert apibridge.__version__ == version("apibridge")  # pyproject and the package agree


def test_a_backboard_request_is_refused_saying_what_backboard_input_can_be(tmp_path: Path) -> None:
    """backboard is an upstream: its requests are apibridge's output, never an input (it was
    once read as an answer and printed an invented reply)."""
    request = tmp_path / "request.json"
    request.write_bytes(orjson.dumps({"content": "hi", "llm_provider": "openai", "memory": "off"}))
    for extra in ((), ("--kind", "request")):
        result = run("--from", "backboard", "--to", "anthropic", *extra, str(request))
        assert result.returncode == 2
        assert result.stdout == b""
        assert b"backboard input can be an answer" in result.stderr
        assert b"Traceback" not in result.stderr


def test_backboard_answers_and_streams_convert() -> None:
    fixtures = ROOT / "tests" / "fixtures" / "backboard"
    answer = run(
        "--from", "backboard", "--to", "anthropic", str(fixtures / "legacy_completed.json")
    )
    assert answer.returncode == 0, answer.stderr
    assert validate_response("anthropic", orjson.loads(answer.stdout)).content[0].text
    stream = run("--from", "backboard", "--to", "chat", str(fixtures / "text.sse"))
    assert stream.returncode == 0, stream.stderr
    assert stream.stdout.startswith(b"data: ")


def test_only_requests_are_written_in_backboard_format() -> None:
    stream = b'event: ping\ndata: {"type": "ping"}\n\n'
    result = run("--from", "anthropic", "--to", "backboard", stdin=stream)
    assert result.returncode == 2
    assert b"backboard output can only be a request" in result.stderr


def test_a_missing_field_is_named_as_missing() -> None:
    result = run("--from", "chat", "--to", "anthropic", stdin=b'{"messages": []}')
    assert result.returncode == 2
    assert result.stderr.strip().endswith(b"model: missing (expected a string)")


CUT_CHAT_STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    b'[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n'
)


def test_a_cut_stream_is_converted_and_exits_3_saying_why() -> None:
    """The output is what a client would receive (the text, then the in-band error); the exit
    status and stderr say the stream failed (it once exited 0)."""
    result = run("--from", "chat", "--to", "anthropic", "--kind", "stream", stdin=CUT_CHAT_STREAM)
    assert result.returncode == 3
    assert b'"text":"Hel"' in result.stdout
    assert b"event: error" in result.stdout
    assert b"error: the stream failed (api_error): the chat stream ended early" in result.stderr


def test_an_upstream_error_event_exits_3() -> None:
    failed = ROOT / "tests" / "fixtures" / "backboard" / "run_failed.sse"
    result = run("--from", "backboard", "--to", "responses", str(failed))
    assert result.returncode == 3
    assert b"response.failed" in result.stdout
    assert b"error: the stream failed" in result.stderr


def test_an_error_body_without_status_gets_its_kinds_status() -> None:
    cases = [
        ("anthropic", b'{"type":"error","error":{"type":"rate_limit_error","message":"s"}}', 429),
        ("anthropic", b'{"type":"error","error":{"type":"overloaded_error","message":"o"}}', 529),
        ("chat", b'{"error":{"message":"s","type":"x","code":"rate_limit_exceeded"}}', 429),
        ("responses", b'{"error":{"message":"x","type":"invalid_request_error"}}', 400),
        ("chat", b"<html>Bad gateway</html>", 500),
    ]
    for source, body, status in cases:
        target = "chat" if source == "anthropic" else "anthropic"
        result = run("--from", source, "--to", target, "--kind", "error", stdin=body)
        assert result.returncode == 0, result.stderr
        assert f"status {status}".encode() in result.stderr, (source, body)
        validate_error(target, status, orjson.loads(result.stdout))


def test_an_unknown_block_is_named_in_user_words(tmp_path: Path) -> None:
    """A block type apibridge does not know is kept opaque (and goes back to Anthropic as it
    came); for Chat the warning names it as the client wrote it, not an internal class."""
    body = {
        "model": "claude-x",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "hologram"}]}
        ],
    }
    path = tmp_path / "request.json"
    path.write_bytes(orjson.dumps(body))
    chat = run("--from", "anthropic", "--to", "chat", str(path))
    assert chat.returncode == 0
    assert b'cannot hold an anthropic "hologram" block; dropped' in chat.stderr
    assert b"Part" not in chat.stderr
    same = run("--from", "anthropic", "--to", "anthropic", str(path))
    assert orjson.loads(same.stdout)["messages"][0]["content"][1] == {"type": "hologram"}
