"""Where each operation of an HTTP upstream goes, and the few bodies that differ by format.

Theory of operation
-------------------
An Anthropic, Chat or Responses upstream has one URL per operation below its base URL, as
that format's SDK takes the base URL (:data:`ENDPOINTS`). A Gemini upstream's URL names the
model and the kind of call: ``{root}/models/{model}:generateContent``,
``:streamGenerateContent?alt=sse`` (always SSE, never the JSON-array form) and
``:countTokens``, where the root is the base URL with its API version: a base URL that ends
in ``/v1``, ``/v1beta`` or ``/v1alpha`` is used as it is, any other gets ``/v1beta``
(:func:`gemini_root`). The model travels in the encoded request body (``"model":
"models/x"``, the request's own field): :func:`gemini_model` reads it for the URL, and the
body sent without it is :func:`without_model`.

The operations that are not a model's answer: ``count_tokens`` (Anthropic's
``/v1/messages/count_tokens`` with the fields it accepts, Gemini's ``:countTokens`` with the
whole request as its ``generateContentRequest``; :func:`count_body`, :func:`count_of`) and the
model list (:func:`listed_models`: OpenAI and Anthropic ``data``, Gemini ``models``, each
entry with at least an ``id``; a Gemini entry keeps its own fields under ``gemini``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

__all__ = [
    "COUNTING_FORMATS",
    "ENDPOINTS",
    "count_body",
    "count_of",
    "gemini_model",
    "gemini_root",
    "gemini_url",
    "listed_models",
    "without_model",
]

#: path of each operation below the base URL, per format (base URLs as the SDKs take them);
#: a Gemini upstream's paths are below :func:`gemini_root`, its model calls by :func:`gemini_url`.
ENDPOINTS: Mapping[str, Mapping[str, str]] = {
    "anthropic": {
        "messages": "/v1/messages",
        "count_tokens": "/v1/messages/count_tokens",
        "models": "/v1/models",
    },
    "chat": {"messages": "/chat/completions", "models": "/models"},
    "responses": {"messages": "/responses", "models": "/models"},
    "gemini": {"models": "/models?pageSize=1000"},
}

#: the formats whose upstreams count a request's input tokens themselves.
COUNTING_FORMATS: Final = frozenset({"anthropic", "gemini"})

#: the API versions a Gemini base URL may already end in.
_GEMINI_VERSIONS: Final = ("/v1", "/v1beta", "/v1alpha")

#: Gemini model-call operation → the method part of its URL.
_GEMINI_METHODS: Final[Mapping[str, str]] = {
    "messages": ":generateContent",
    "stream": ":streamGenerateContent?alt=sse",
    "count_tokens": ":countTokens",
}

#: the collections a Gemini model name may be in (``models/x``, ``tunedModels/x``).
_GEMINI_COLLECTIONS: Final = ("models", "tunedModels")

#: fields of a Messages request that ``count_tokens`` accepts.
_COUNT_FIELDS: Final = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "mcp_servers",
        "context_management",
        "output_config",
        "output_format",
    }
)


def gemini_root(base_url: str) -> str:
    """A Gemini base URL with its API version (``/v1beta`` unless it names one)."""
    base = base_url.rstrip("/")
    return base if base.endswith(_GEMINI_VERSIONS) else base + "/v1beta"


def gemini_model(body: Mapping[str, Any]) -> str:
    """The model an encoded Gemini request names (``models/x``; a bare name is a model's)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("the encoded Gemini request names no model")
    return model if "/" in model else "models/" + model


def without_model(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` without its ``model`` (which the URL names)."""
    return {k: v for k, v in body.items() if k != "model"}


def gemini_url(root: str, operation: str, model: str) -> str:
    """The URL of ``operation`` (``messages``, ``stream``, ``count_tokens``) for ``model``
    (``models/x``): the name is escaped whole, so it cannot reach another path."""
    collection, _, name = model.partition("/")
    if collection not in _GEMINI_COLLECTIONS or not name:
        collection, name = "models", model
    return f"{root}/{collection}/{quote(name, safe='')}{_GEMINI_METHODS[operation]}"


def count_body(fmt: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``count_tokens`` body for an upstream of ``fmt`` from its encoded request."""
    if fmt == "gemini":
        return {"generateContentRequest": {**body, "model": gemini_model(body)}}
    return {k: v for k, v in body.items() if k in _COUNT_FIELDS}


def count_of(fmt: str, answer: Any) -> int | None:
    """The input-token count an upstream's ``count_tokens`` answer says (``None``: none)."""
    if not isinstance(answer, Mapping):
        return None
    count = answer.get("totalTokens" if fmt == "gemini" else "input_tokens")
    if fmt == "gemini" and count is None:
        count = answer.get("total_tokens")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def listed_models(fmt: str, answer: Any) -> Sequence[Mapping[str, Any]]:
    """The entries of an upstream's model list, each with an ``id`` (empty when it has none)."""
    if not isinstance(answer, Mapping):
        return []
    if fmt != "gemini":
        data = answer.get("data")
        if not isinstance(data, list):
            return []
        return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    models = answer.get("models")
    if not isinstance(models, list):
        return []
    out: list[Mapping[str, Any]] = []
    for entry in models:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name:
            model_id = name.partition("/")[2] if name.startswith("models/") else name
            shown = entry.get("displayName") or entry.get("display_name")
            out.append({"id": model_id, "display_name": shown or model_id, "gemini": entry})
    return out
