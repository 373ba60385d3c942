"""Pieces of Gemini's ``generateContent`` wire format shared by the request, answer, stream and
error halves of the ``gemini`` codec: names, spelling, tables, call ids and thought signatures.

Theory of operation
-------------------
*Spelling.* Google's JSON mapping accepts every field in camelCase and in snake_case, and the
``google-genai`` SDK sends some in snake_case (``parameters_json_schema``, ``thinking_budget``,
``include_thoughts``). Decoders read both through :func:`field`; encoders write camelCase,
which is what Google's own servers send.

*Call ids.* Gemini 2.5 function calls carry no ``id``; Gemini 3 calls do, and its
``functionResponse`` must echo it. Every other format needs an id on each call and result.
A call decoded without one gets a *made* id, :data:`MADE_ID_PREFIX` followed by a token
(:func:`made_id`: random in answers; in a request's history, derived from the call's position,
so the same history gives the same ids), and its results are paired with it by name and order
(:func:`pair_results`). An encoder never sends a made id to Gemini (it was never Gemini's), and
always sends an id Gemini made.

*Thought signatures.* Gemini signs its reasoning with ``thoughtSignature``, base64 bytes on a
part: on a thought part, on a function-call part (Gemini 3 refuses a history whose calls of the
current turn lost theirs) or on the last text part. Canonically a signature is a
:class:`~apibridge.model.ThinkingPart` whose ``extras["gemini"]`` holds ``_signature``: the
thought part itself, or, for a signature that rode on another part, a *carrier*: a thinking
part with no text and ``_carrier: true`` placed right before the function call it signed, or
right after the text it signed. The reasoning envelope (origin ``gemini``, kind ``signature``,
:mod:`apibridge.codecs.envelope`) carries it through a Claude ``signature`` or a Responses
``encrypted_content`` and back; the Gemini encoder folds a carrier into the function call that
follows it, else into the text before it, else writes it as an empty text part. A history
function call with no signature goes to Gemini with the documented placeholder
(:data:`PLACEHOLDER_SIGNATURE`), recorded as a loss: the model's reasoning is not replayed.

See :mod:`apibridge.codecs.gemini` for the whole codec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from apibridge.codecs._context import new_id

__all__ = [
    "BLOCK_REASONS",
    "FINISH_TO_STOP",
    "FORMAT",
    "KIND_TO_STATUS",
    "MADE_ID_PREFIX",
    "PLACEHOLDER_SIGNATURE",
    "REFUSAL_FINISHES",
    "STATUS_TO_KIND",
    "STOP_TO_FINISH",
    "TOOL_NAMESPACES",
    "TOOL_NAME_MAX",
    "TOOL_NAME_RE",
    "field",
    "is_made_id",
    "made_id",
    "model_name",
    "model_path",
    "snake",
]

FORMAT: Final = "gemini"

#: function names: letters, digits, ``_ . : -``, starting with a letter or underscore, at most
#: 64 characters (the ``FunctionDeclaration.name`` rule of the API reference).
TOOL_NAME_MAX: Final = 64
TOOL_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}")
TOOL_NAMESPACES: Final = False

#: what Gemini accepts in place of a lost signature ("Thought signatures", Gemini API docs):
#: validation passes, the model's own reasoning is not replayed.
PLACEHOLDER_SIGNATURE: Final = "skip_thought_signature_validator"

#: a call id apibridge made for a Gemini call that had none (never sent back to Gemini).
MADE_ID_PREFIX: Final = "gcall_"

#: Gemini ``finishReason`` → canonical stop reason. ``STOP`` with function calls in the
#: candidate is ``tool_use`` (Gemini says ``STOP`` either way); the decoders decide that.
FINISH_TO_STOP: Final[Mapping[str, str]] = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "refusal",
    "RECITATION": "refusal",
    "LANGUAGE": "refusal",
    "BLOCKLIST": "refusal",
    "PROHIBITED_CONTENT": "refusal",
    "SPII": "refusal",
    "IMAGE_SAFETY": "refusal",
    "IMAGE_PROHIBITED_CONTENT": "refusal",
    "IMAGE_RECITATION": "refusal",
    # the model's own failure, not a refusal: an upstream error in every other format
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
    "MISSING_THOUGHT_SIGNATURE": "error",
    "MALFORMED_RESPONSE": "error",
    "IMAGE_OTHER": "error",
    "NO_IMAGE": "error",
    "OTHER": "error",
    "FINISH_REASON_UNSPECIFIED": "end_turn",
}

#: the finish reasons that are refusals (a safety or policy block of the output).
REFUSAL_FINISHES: Final = frozenset(k for k, v in FINISH_TO_STOP.items() if v == "refusal")

#: ``promptFeedback.blockReason`` values: the prompt was refused, no candidate came.
BLOCK_REASONS: Final = frozenset(
    {"SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "IMAGE_SAFETY"}
)

#: canonical stop reason → Gemini ``finishReason`` (``tool_use`` is ``STOP``, as Gemini says).
STOP_TO_FINISH: Final[Mapping[str, str]] = {
    "end_turn": "STOP",
    "stop_sequence": "STOP",
    "tool_use": "STOP",
    "max_tokens": "MAX_TOKENS",
    "context_window_exceeded": "MAX_TOKENS",
    "refusal": "SAFETY",
    "content_filter": "SAFETY",
    "pause_turn": "STOP",
    "error": "OTHER",
}

#: google.rpc status name → canonical error kind (``apibridge.errors.ERROR_KINDS``).
STATUS_TO_KIND: Final[Mapping[str, str]] = {
    "INVALID_ARGUMENT": "invalid_request",
    "FAILED_PRECONDITION": "invalid_request",
    "OUT_OF_RANGE": "invalid_request",
    "UNAUTHENTICATED": "authentication",
    "PERMISSION_DENIED": "permission",
    "NOT_FOUND": "not_found",
    "RESOURCE_EXHAUSTED": "rate_limit",
    "INTERNAL": "api_error",
    "UNKNOWN": "api_error",
    "DATA_LOSS": "api_error",
    "UNIMPLEMENTED": "not_found",
    "UNAVAILABLE": "unavailable",
    "DEADLINE_EXCEEDED": "timeout",
    "CANCELLED": "api_error",
    "ABORTED": "api_error",
    "ALREADY_EXISTS": "invalid_request",
}

#: canonical error kind → (HTTP status, google.rpc status name) Gemini answers with.
KIND_TO_STATUS: Final[Mapping[str, tuple[int, str]]] = {
    "invalid_request": (400, "INVALID_ARGUMENT"),
    "authentication": (401, "UNAUTHENTICATED"),
    "billing": (403, "PERMISSION_DENIED"),
    "permission": (403, "PERMISSION_DENIED"),
    "not_found": (404, "NOT_FOUND"),
    "method_not_allowed": (405, "INVALID_ARGUMENT"),
    "request_too_large": (413, "INVALID_ARGUMENT"),
    "unprocessable": (400, "INVALID_ARGUMENT"),
    "rate_limit": (429, "RESOURCE_EXHAUSTED"),
    "api_error": (500, "INTERNAL"),
    "bad_gateway": (502, "UNAVAILABLE"),
    "overloaded": (503, "UNAVAILABLE"),
    "unavailable": (503, "UNAVAILABLE"),
    "timeout": (504, "DEADLINE_EXCEEDED"),
}

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_SNAKES: dict[str, str] = {}


def snake(camel: str) -> str:
    """``functionCall`` → ``function_call`` (cached: the same few names are asked for)."""
    name = _SNAKES.get(camel)
    if name is None:
        name = _SNAKES[camel] = _SNAKE.sub("_", camel).lower()
    return name


def field(obj: Mapping[str, Any], camel: str) -> Any:
    """``obj``'s value for ``camel``, spelled in camelCase or snake_case (``None`` if absent)."""
    value = obj.get(camel)
    if value is None:
        value = obj.get(snake(camel))
    return value


def model_name(value: str) -> str:
    """A model as the other formats name it: ``models/gemini-2.5-flash`` → ``gemini-2.5-flash``
    (``tunedModels/…`` names stay whole)."""
    return value[len("models/") :] if value.startswith("models/") else value


def model_path(value: str) -> str:
    """A model as Gemini bodies and lists name it: ``gemini-2.5-flash`` → ``models/…``."""
    return value if "/" in value else "models/" + value


def made_id(position: str | None = None) -> str:
    """A call id for a Gemini call that came without one: random in an answer, derived from
    ``position`` (such as ``"3_1"``: message 3, call 1) in a request's history."""
    if position is None:
        return new_id(MADE_ID_PREFIX)
    return MADE_ID_PREFIX + position


def is_made_id(call_id: str) -> bool:
    """Whether ``call_id`` is one :func:`made_id` gave (it is not sent to Gemini)."""
    return call_id.startswith(MADE_ID_PREFIX)
