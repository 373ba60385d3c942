"""The public surface: ``__all__`` matches what the API reference documents."""

from __future__ import annotations

import re
from pathlib import Path

import apibridge

DOCS = Path(__file__).parent.parent / "docs" / "api.md"


def test_all_names_documented() -> None:
    documented = set(re.findall(r"^::: apibridge\.(\w+)$", DOCS.read_text(), re.MULTILINE))
    documented -= {"store", "model", "codecs", "jsonlog"}  # module pages, not names
    public = set(apibridge.__all__) - {"__version__"}
    assert public == documented


def test_all_names_exist() -> None:
    for name in apibridge.__all__:
        assert hasattr(apibridge, name), name


def test_formats() -> None:
    assert apibridge.FORMATS == ("anthropic", "chat", "responses", "backboard", "gemini")


def test_public_model_matches_the_canonical_one() -> None:
    import apibridge.model

    for name in apibridge.model.__all__:
        assert getattr(apibridge.model, name) is getattr(apibridge.model, name)
    missing = set(apibridge.model.__all__) - set(apibridge.model.__all__)
    assert not missing


_CACHED_SYSTEM = {
    "model": "claude-x",
    "max_tokens": 100,
    "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "hi"}],
}


def test_a_conversion_warning_points_at_the_callers_line() -> None:
    """Without ``losses=`` each loss is a ConversionWarning attributed to the line that called
    apibridge (it once named a line inside apibridge)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apibridge.convert_request(_CACHED_SYSTEM, source="anthropic", target="chat")
        chunks = [
            b'event: message_start\ndata: {"type":"message_start","message":{"id":"m",'
            b'"type":"message","role":"assistant","model":"c","content":[],"usage":'
            b'{"input_tokens":1,"output_tokens":0}}}\n\n'
        ]  # cut: the stream reports nothing lost, but ends with an error
        list(apibridge.convert_stream(chunks, source="anthropic", target="chat"))
        apibridge.convert_response(
            {
                "id": "r",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "x"},
                        "finish_reason": "stop",
                        "logprobs": {"content": []},
                    }
                ],
            },
            source="chat",
            target="anthropic",
        )
    losses = [w for w in caught if issubclass(w.category, apibridge.ConversionWarning)]
    assert losses
    assert {w.filename for w in losses} == {__file__}
