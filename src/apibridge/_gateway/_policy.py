"""Request policies the gateway applies between decoding a client request and sending it on.

Theory of operation
-------------------
Each policy is a pure function ``(Request, Context, ...) -> Request`` that records every change
it makes with ``ctx.lose(...)``, so nothing is altered silently:

* :func:`rename_model`: the route's rename (``claude-*`` → ``qwen3:8b``).
* :func:`apply_beta_policy`: ``anthropic-beta`` / ``anthropic-version`` go unchanged to an
  Anthropic upstream (the transport forwards them). For any other upstream the headers are
  consumed, and the body fields they gate are removed or translated (:data:`BETA_FIELDS`),
  each with a warning, instead of reaching an upstream that would reject them.
* :func:`place_late_system`: Claude Code sends a ``system`` message *after* the user turn for
  some models. The Anthropic codec moves it into ``system`` itself; for a Chat upstream, whose
  servers' chat templates often reject a system message that is not first (vLLM, llama.cpp,
  Ollama templates for Qwen and Llama), it is merged into the leading system prompt; the
  Responses API takes system/developer items anywhere, so there it stays in place. An
  upstream's ``options["late_system"]`` (``"merge"`` or ``"keep"``) overrides the default.
* :func:`limit_output`: ``max_tokens`` above the upstream's ``max_output_tokens`` is clamped
  to it (an Anthropic upstream, which requires ``max_tokens``, gets the limit when the client
  sent none), and a thinking budget that no longer fits below ``max_tokens`` is lowered, or
  thinking disabled when no budget fits. For every kind of upstream, backboard included.
* :func:`apply_request_policies`: all of the above, in that order, as the one
  :data:`apibridge._exchange.RequestPolicy` the exchange is built with.
* :func:`forwardable_headers`: the client headers a transport may see (credentials removed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from apibridge.codecs._context import Context
from apibridge.config import UpstreamConfig
from apibridge.model import Message, ReasoningConfig, Request, TextPart

__all__ = [
    "BETA_FIELDS",
    "LATE_SYSTEM_DEFAULT",
    "apply_beta_policy",
    "apply_request_policies",
    "forwardable_headers",
    "limit_output",
    "place_late_system",
    "rename_model",
]

#: Anthropic body fields that only exist behind an ``anthropic-beta`` flag (or only on
#: Anthropic's platform), and what happens to each for a non-Anthropic upstream.
BETA_FIELDS: Mapping[str, str] = {
    # context-management / compaction betas: the encoder carries the edits the upstream has
    # (compaction) and applies the others to the history, reported (codecs._context_edits)
    "context_management": "encoded",
    "mcp_servers": "removed",  # mcp-client beta: the upstream cannot call MCP servers
    "container": "removed",  # code-execution / skills container
    "output_config": "translated",  # effort beta: becomes the reasoning effort
}

#: what happens to a system message after the conversation start, per upstream format.
LATE_SYSTEM_DEFAULT: Mapping[str, str] = {
    "anthropic": "keep",  # the Anthropic codec moves it into `system` (recorded)
    "chat": "merge",
    "responses": "keep",
    "backboard": "keep",  # backboard takes a per-turn system prompt; its codec decides
}

_MIN_BUDGET = 1024  # Anthropic's smallest thinking budget

#: the words ``output_config.effort`` takes; each is also an OpenAI ``ReasoningEffort`` word
#: (openai 3.60), so ``xhigh`` and ``max`` reach an OpenAI upstream unchanged.
_EFFORTS = frozenset({"minimal", "low", "medium", "high", "xhigh", "max"})

#: never handed to transports: credentials and connection-level headers.
_PRIVATE_HEADERS = frozenset(
    {
        "authorization",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
        "cookie",
        "proxy-authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "accept-encoding",
    }
)


def forwardable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` without credentials and hop-by-hop headers (names already lower-case)."""
    return {k: v for k, v in headers.items() if k not in _PRIVATE_HEADERS}


def rename_model(request: Request, model: str) -> Request:
    """``request`` for ``model`` (a route's rename; not a loss: the route says so)."""
    return request if request.model == model else attrs.evolve(request, model=model)


def apply_beta_policy(
    request: Request, ctx: Context, *, upstream_format: str, headers: Mapping[str, str]
) -> Request:
    """Remove or translate Anthropic beta-gated fields for a non-Anthropic upstream."""
    if upstream_format == "anthropic":
        return request
    fields = request.extras.get("anthropic")
    if not fields or not any(k in BETA_FIELDS for k in fields):
        return request
    betas = headers.get("anthropic-beta", "")
    gated = f" (gated by anthropic-beta {betas})" if betas else ""
    kept: dict[str, Any] = {}
    for key, value in fields.items():
        action = BETA_FIELDS.get(key)
        if action is None or action == "encoded":
            kept[key] = value
        elif action == "translated" and key == "output_config":
            request, rest = _translate_output_config(request, value, ctx, gated)
            if rest:
                kept[key] = rest  # what could not be translated is reported by the encoder
        else:
            ctx.lose(key, f"an Anthropic-only field{gated}; the upstream is {upstream_format}")
    extras = {fmt: v for fmt, v in request.extras.items() if fmt != "anthropic"}
    if kept:
        extras["anthropic"] = kept
    return attrs.evolve(request, extras=extras)


def _translate_output_config(
    request: Request, value: Any, ctx: Context, gated: str
) -> tuple[Request, dict[str, Any]]:
    """``output_config.effort`` → the reasoning effort; the rest of the object is returned."""
    if not isinstance(value, Mapping):
        ctx.lose("output_config", f"not an object{gated}")
        return request, {}
    rest = {k: v for k, v in value.items() if k != "effort"}
    effort = value.get("effort")
    if effort is None:
        return request, rest
    word = str(effort)
    if word not in _EFFORTS:
        ctx.lose("output_config.effort", f"unknown effort {effort!r}{gated}")
        return request, rest
    reasoning = request.reasoning
    if reasoning is not None and reasoning.mode == "disabled":
        ctx.lose("output_config.effort", f"reasoning is disabled{gated}")
        return request, rest
    if reasoning is None:
        reasoning = ReasoningConfig(mode="enabled", effort=word)
    elif reasoning.effort is None:
        reasoning = attrs.evolve(reasoning, effort=word)
    ctx.lose(
        "output_config.effort",
        f"an Anthropic-only field{gated}",
        f"translated to reasoning effort {reasoning.effort}",
    )
    return attrs.evolve(request, reasoning=reasoning), rest


def place_late_system(request: Request, ctx: Context, *, mode: str) -> Request:
    """Merge system/developer messages that follow the first turn into ``system`` (``merge``)."""
    if mode != "merge":
        return request
    late = [i for i, m in enumerate(request.messages) if m.role in ("system", "developer")]
    if not late:
        return request
    system = list(request.system)
    messages: list[Message] = []
    for i, message in enumerate(request.messages):
        if i not in late:
            messages.append(message)
            continue
        texts = [p for p in message.content if isinstance(p, TextPart)]
        system.extend(texts)
        if len(texts) != len(message.content):
            ctx.lose(f"messages[{i}].content", "a system message can only hold text")
        ctx.lose(
            f"messages[{i}]",
            "a system message after the conversation start, which chat templates often reject",
            "moved to the system prompt",
        )
    return attrs.evolve(request, system=tuple(system), messages=tuple(messages))


def limit_output(request: Request, ctx: Context, *, upstream: UpstreamConfig) -> Request:
    """Keep ``max_tokens`` within ``upstream.max_output_tokens``, and the thinking budget
    below ``max_tokens`` (see the module docstring)."""
    limit = upstream.max_output_tokens
    if limit is None:
        return request
    if request.max_tokens is None:
        if upstream.format == "anthropic":
            # Anthropic requires max_tokens; the upstream's own limit is the natural value
            request = attrs.evolve(request, max_tokens=limit)
    elif request.max_tokens > limit:
        ctx.lose(
            "max_tokens",
            f"{request.max_tokens} is above the limit of upstream {upstream.name} ({limit})",
            f"clamped to {limit}",
        )
        request = attrs.evolve(request, max_tokens=limit)
    return _fit_budget(request, ctx)


def _fit_budget(request: Request, ctx: Context) -> Request:
    """Keep a thinking budget below ``max_tokens`` (Anthropic refuses it otherwise)."""
    reasoning = request.reasoning
    limit = request.max_tokens
    if reasoning is None or reasoning.budget_tokens is None or limit is None:
        return request
    budget = reasoning.budget_tokens
    if budget < limit:
        return request
    smaller = limit - 1
    if smaller >= _MIN_BUDGET:
        ctx.lose(
            "thinking.budget_tokens",
            f"{budget} is not below max_tokens {limit}",
            f"lowered to {smaller}",
        )
        return attrs.evolve(request, reasoning=attrs.evolve(reasoning, budget_tokens=smaller))
    ctx.lose(
        "thinking", f"max_tokens {limit} leaves no room for a thinking budget", "thinking disabled"
    )
    return attrs.evolve(request, reasoning=ReasoningConfig(mode="disabled"))


def apply_request_policies(
    request: Request,
    ctx: Context,
    *,
    upstream: UpstreamConfig,
    upstream_format: str,
    model: str,
    headers: Mapping[str, str],
    stream: bool = False,
) -> Request:
    """Every request policy, in order: the route's rename, beta fields, late system
    messages, output limits. ``upstream_format`` is the exchange's upstream side; ``stream``
    streams the request whatever its body said (a Gemini client asks by the path)."""
    if stream and not request.stream:
        request = attrs.evolve(request, stream=True)
    request = rename_model(request, model)
    request = apply_beta_policy(request, ctx, upstream_format=upstream_format, headers=headers)
    default = LATE_SYSTEM_DEFAULT.get(upstream_format, "keep")
    request = place_late_system(
        request, ctx, mode=str(upstream.options.get("late_system", default))
    )
    return limit_output(request, ctx, upstream=upstream)
