"""Read and check Gemini ``generateContent`` request bodies in the acceptance scenarios.

Theory of operation
-------------------
:func:`validate_request` holds a body to the ``google-genai`` SDK's own pydantic types (which
forbid unknown fields and check that every ``thoughtSignature`` is base64): each ``contents``
entry a ``types.Content``, ``systemInstruction`` a ``Content``, each tool a ``types.Tool``,
``toolConfig`` a ``ToolConfig``, ``generationConfig`` a ``GenerationConfig``, each
``safetySettings`` entry a ``SafetySetting``; no other top-level field (the model is in the
URL, never in the body). The readers below take fields in either spelling, camelCase or
snake_case, as Google does (the Python SDK sends ``thinking_budget``,
``parameters_json_schema``).

Signatures are compared as bytes (:func:`signature_bytes`): the Python SDK re-encodes them
URL-safe before sending them back.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")

#: the top-level fields of a ``generateContent`` body (camelCase).
_TOP_LEVEL = frozenset(
    {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings"}
)


def get(obj: dict[str, Any], camel: str) -> Any:
    """``obj``'s ``camel`` field in either spelling (``None`` when absent)."""
    if camel in obj:
        return obj[camel]
    return obj.get(_SNAKE.sub("_", camel).lower())


#: what Gemini accepts in place of a lost signature (its docs: "Thought signatures").
PLACEHOLDER = "skip_thought_signature_validator"


def signature_bytes(text: str | None) -> bytes | None:
    """A base64 signature (standard or URL-safe alphabet) decoded, ``None`` when absent or not
    base64."""
    if text is None:
        return None
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def validate_request(body: dict[str, Any]) -> None:
    """Raise unless ``body`` is a ``generateContent`` body the google-genai types accept."""
    from google.genai import types

    canonical = {_SNAKE.sub("_", k).lower(): k for k in _TOP_LEVEL}
    unknown = [k for k in body if k not in _TOP_LEVEL and k not in canonical]
    assert not unknown, f"unexpected top-level fields {unknown}"
    contents = get(body, "contents")
    assert isinstance(contents, list), "contents is not a list"
    assert contents, "no contents"
    for content in contents:
        types.Content.model_validate(content)
    if (system := get(body, "systemInstruction")) is not None:
        types.Content.model_validate(system)
    for tool in get(body, "tools") or []:
        types.Tool.model_validate(tool)
    if (config := get(body, "toolConfig")) is not None:
        types.ToolConfig.model_validate(config)
    if (generation := get(body, "generationConfig")) is not None:
        types.GenerationConfig.model_validate(generation)
    for setting in get(body, "safetySettings") or []:
        types.SafetySetting.model_validate(setting)


def _parts(body: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        part
        for content in get(body, "contents") or []
        if content.get("role", "user") == role
        for part in content.get("parts") or []
    ]


def tool_names(body: dict[str, Any]) -> list[str]:
    """Names of the function declarations offered."""
    return [
        declaration["name"]
        for tool in get(body, "tools") or []
        for declaration in get(tool, "functionDeclarations") or []
    ]


def declaration(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The function declaration named ``name``."""
    for tool in get(body, "tools") or []:
        for found in get(tool, "functionDeclarations") or []:
            if found["name"] == name:
                return dict(found)
    raise AssertionError(f"no function {name!r} in {tool_names(body)}")


def user_text(body: dict[str, Any]) -> str:
    """All text of the user turns, joined."""
    return "\n".join(p["text"] for p in _parts(body, "user") if "text" in p)


def calls(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id or ``""``, name, compact arguments JSON) of every function call in the history."""
    found = []
    for part in _parts(body, "model"):
        call = get(part, "functionCall")
        if call is not None:
            arguments = json.dumps(call.get("args") or {}, separators=(",", ":"))
            found.append((call.get("id") or "", call["name"], arguments))
    return found


def results(body: dict[str, Any]) -> dict[str, str]:
    """The text of every function response, by call id (by name when it has no id)."""
    found: dict[str, str] = {}
    for part in _parts(body, "user"):
        response = get(part, "functionResponse")
        if response is None:
            continue
        value = response.get("response") or {}
        inner = value.get("output", value.get("error", value)) if isinstance(value, dict) else value
        text = inner if isinstance(inner, str) else json.dumps(inner)
        found[response.get("id") or response["name"]] = text
    return found


def thoughts(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(text, signature) of every thought part in the model turns."""
    return [
        (p.get("text", ""), get(p, "thoughtSignature"))
        for p in _parts(body, "model")
        if p.get("thought")
    ]


def call_signatures(body: dict[str, Any]) -> list[tuple[str, bytes | None]]:
    """(function name, decoded signature or ``None``) of every function-call part in the
    history."""
    return [
        (get(p, "functionCall")["name"], signature_bytes(get(p, "thoughtSignature")))
        for p in _parts(body, "model")
        if get(p, "functionCall") is not None
    ]
