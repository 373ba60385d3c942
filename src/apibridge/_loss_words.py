"""Losses named in the client's words.

An encoder writing the upstream's request, and a gateway policy changing the canonical one,
can only name what they lose by the canonical request's fields (``reasoning.budget_tokens``,
``output_format``, ``stop``). The client never sent those names: an Anthropic client sent
``thinking.budget_tokens``, a Chat client ``response_format``, a Responses client
``text.format``. (A server profile's rules name what they drop by the upstream's own field,
``thinking`` of an Anthropic-format server: those are in the tables too.)
:func:`in_client_words` renames the start of each such loss's field to the
client format's own spelling, so that a warning points at the field the caller wrote.

Only top-level fields are renamed; a place in the history (``messages[2].content[0]``) or a
tool (``tools[1]``) keeps its canonical position, which is the client's own for Anthropic
clients and for Chat and Responses clients whose history has no system turns or grouped tool
results ahead of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from apibridge.errors import Loss

__all__ = ["CLIENT_WORDS", "in_client_words"]

#: canonical request field (or field path) → the client format's spelling of it. The longest
#: matching prefix wins; a field no table names is already in every format's words.
CLIENT_WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "anthropic": {
        "reasoning": "thinking",
        "reasoning.budget_tokens": "thinking.budget_tokens",
        "reasoning.effort": "output_config.effort",
        "reasoning.mode": "thinking.type",
        "reasoning.summary": "thinking.display",
        "output_format": "output_config.format",
        "stop": "stop_sequences",
        "user": "metadata.user_id",
        "parallel_tool_calls": "tool_choice.disable_parallel_tool_use",
    },
    "chat": {
        "reasoning": "reasoning_effort",
        "reasoning.budget_tokens": "reasoning_effort",
        "reasoning.effort": "reasoning_effort",
        "reasoning.mode": "reasoning_effort",
        "output_format": "response_format",
        "output_format.name": "response_format.json_schema.name",
        "output_format.description": "response_format.json_schema.description",
        "output_format.strict": "response_format.json_schema.strict",
        "output_format.schema": "response_format.json_schema.schema",
        "tool_choice.allowed": "tool_choice.allowed_tools",
        "tool_choice.name": "tool_choice.function.name",
        # an Anthropic-format server's profile names the fields it drops as Anthropic does
        "thinking": "reasoning_effort",
        "output_config.effort": "reasoning_effort",
    },
    "responses": {
        "reasoning.budget_tokens": "reasoning.effort",
        "output_format": "text.format",
        "max_tokens": "max_output_tokens",
        "tool_choice.allowed": "tool_choice.tools",
        "thinking": "reasoning",
        "output_config.effort": "reasoning.effort",
        "verbosity": "text.verbosity",  # a Chat server's profile names Chat's field
    },
    "gemini": {
        "reasoning": "generationConfig.thinkingConfig",
        "reasoning.budget_tokens": "generationConfig.thinkingConfig.thinkingBudget",
        "reasoning.effort": "generationConfig.thinkingConfig.thinkingLevel",
        "reasoning.mode": "generationConfig.thinkingConfig.thinkingBudget",
        "reasoning.summary": "generationConfig.thinkingConfig.includeThoughts",
        "output_format": "generationConfig.responseJsonSchema",
        "max_tokens": "generationConfig.maxOutputTokens",
        "temperature": "generationConfig.temperature",
        "top_p": "generationConfig.topP",
        "top_k": "generationConfig.topK",
        "stop": "generationConfig.stopSequences",
        "logprobs": "generationConfig.responseLogprobs",
        "top_logprobs": "generationConfig.logprobs",
        "tool_choice": "toolConfig.functionCallingConfig",
        "tool_choice.allowed": "toolConfig.functionCallingConfig.allowedFunctionNames",
        "thinking": "generationConfig.thinkingConfig",
        "output_config.effort": "generationConfig.thinkingConfig.thinkingLevel",
    },
}


def _renamed(field: str, words: Mapping[str, str]) -> str:
    head = field
    while True:
        spelled = words.get(head)
        if spelled is not None:
            return spelled + field[len(head) :]
        cut = max(head.rfind("."), head.rfind("["))
        if cut <= 0:
            return field
        head = head[:cut]


def in_client_words(losses: list[Loss], start: int, client: str) -> None:
    """Rename, in place, the fields of ``losses[start:]`` (named by the canonical request)
    to the spelling of the ``client`` format."""
    words = CLIENT_WORDS.get(client)
    if not words:
        return
    for i in range(start, len(losses)):
        loss = losses[i]
        field = _renamed(loss.field, words)
        if field != loss.field:
            losses[i] = Loss(field=field, reason=loss.reason, action=loss.action)
