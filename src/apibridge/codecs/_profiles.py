"""Upstream server profiles: what each family of Chat- or Anthropic-compatible server accepts.

Theory of operation. A :class:`Profile` is a small table of facts about one server family
(vLLM, Ollama, DeepSeek …): how it spells reasoning in history, which ``reasoning_effort``
words it takes, which spelling of the output limit, which ``tool_choice`` shapes, whether
tools may say ``strict``, which ``response_format`` kinds, whether it takes images … Each
fact is ``None`` where it is unknown: the profile then behaves like ``generic`` for it, which
is apibridge's behaviour without a profile (what every compatible server accepts). The facts
and their sources (the server's documentation or source) are written down in
``tests/profiles/facts/``; the tests check the table against them and check that the requests
apibridge sends with each profile only use what the server accepts.

A profile reaches the codecs through :attr:`apibridge.codecs._context.Context.profile`; the
rules that apply it to an encoded request are in :mod:`apibridge.codecs._profile_rules`.
The gateway picks a profile per upstream (``options.profile``, or detection:
:func:`profile_for_host`, then :func:`profile_for_owner` on ``GET /v1/models``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

__all__ = [
    "ANTHROPIC_PROFILES",
    "CHAT_PROFILES",
    "GENERIC",
    "Profile",
    "profile_for_host",
    "profile_for_owner",
]


class Profile:
    """What one server family accepts (``None``: unknown, behave like ``generic``).

    Attributes:
        name: the family (``"vllm"``); the value of ``options.profile``.
        format: ``"chat"`` or ``"anthropic"``: the API the family speaks here.
        title: the family's name in prose (``"vLLM"``).
        reasoning_field: how it spells reasoning in assistant history (``reasoning_content``,
            ``reasoning``, ``reasoning_details`` or ``think``); sets ``Context.reasoning_field``.
        reasoning_efforts: the ``reasoning_effort`` words it takes, in increasing order
            (``()``: it takes none, the field is dropped).
        max_tokens_keys: the output-limit spellings it takes, the preferred first.
        tool_result_parts: whether a tool message's ``content`` may be a list of parts.
        allowed_tools: whether ``tool_choice`` may be ``{"type": "allowed_tools", …}``.
        named_tool_choice: whether ``tool_choice`` may name a function.
        parallel_tool_calls: whether it takes ``parallel_tool_calls``.
        tool_strict: whether a function tool may say ``strict``.
        include_usage: whether it takes ``stream_options`` (``include_usage``).
        response_formats: the ``response_format`` types it takes (besides ``text``).
        image_input: whether user messages may hold ``image_url`` parts.
        cache_usage: where its answers report cached prompt tokens (a dotted usage path).
        fields: the top-level fields it takes (``None``: unknown); others are dropped with a
            loss (a server that ignores them would drop them unsaid).
        rejects: top-level fields it refuses (a 400), dropped with a loss.
        message_rejects: message fields it refuses (``name``), dropped with a loss.
        ignores: (Anthropic-format) top-level fields it documents as ignored, dropped with a
            loss so that the report says so.
        blocks: (Anthropic-format) the content-block types it takes; others are dropped.
        parallel_control: (Anthropic-format) whether ``tool_choice.disable_parallel_tool_use``
            is honoured.
    """

    __slots__ = (
        "allowed_tools",
        "blocks",
        "cache_usage",
        "fields",
        "format",
        "ignores",
        "image_input",
        "include_usage",
        "max_tokens_keys",
        "message_rejects",
        "name",
        "named_tool_choice",
        "parallel_control",
        "parallel_tool_calls",
        "reasoning_efforts",
        "reasoning_field",
        "rejects",
        "response_formats",
        "title",
        "tool_result_parts",
        "tool_strict",
    )

    def __init__(
        self,
        name: str,
        title: str,
        *,
        format: str = "chat",
        reasoning_field: str | None = None,
        reasoning_efforts: tuple[str, ...] | None = None,
        max_tokens_keys: tuple[str, ...] | None = None,
        tool_result_parts: bool | None = None,
        allowed_tools: bool | None = None,
        named_tool_choice: bool | None = None,
        parallel_tool_calls: bool | None = None,
        tool_strict: bool | None = None,
        include_usage: bool | None = None,
        response_formats: tuple[str, ...] | None = None,
        image_input: bool | None = None,
        cache_usage: str | None = None,
        fields: tuple[str, ...] | None = None,
        rejects: tuple[str, ...] = (),
        message_rejects: tuple[str, ...] = (),
        ignores: tuple[str, ...] = (),
        blocks: tuple[str, ...] | None = None,
        parallel_control: bool | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.format = format
        self.reasoning_field = reasoning_field
        self.reasoning_efforts = reasoning_efforts
        self.max_tokens_keys = max_tokens_keys
        self.tool_result_parts = tool_result_parts
        self.allowed_tools = allowed_tools
        self.named_tool_choice = named_tool_choice
        self.parallel_tool_calls = parallel_tool_calls
        self.tool_strict = tool_strict
        self.include_usage = include_usage
        self.response_formats = response_formats
        self.image_input = image_input
        self.cache_usage = cache_usage
        self.fields = fields
        self.rejects = rejects
        self.message_rejects = message_rejects
        self.ignores = ignores
        self.blocks = blocks
        self.parallel_control = parallel_control

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, format={self.format!r})"


#: every ``reasoning_effort`` word of the OpenAI API (``ReasoningEffort`` in openai 3.63).
_OPENAI_EFFORTS: Final = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_OPENAI_CACHE: Final = "prompt_tokens_details.cached_tokens"
#: the OpenAI Chat request's fields (``CompletionCreateParams`` in openai 3.63).
_OPENAI_FIELDS: Final = (
    *("messages", "model", "audio", "frequency_penalty", "function_call", "functions"),
    *("logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata"),
    *("modalities", "moderation", "n", "parallel_tool_calls", "prediction"),
    *("presence_penalty", "prompt_cache_key", "prompt_cache_options"),
    *("prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier"),
    *("seed", "service_tier", "stop", "store", "stream_options", "temperature"),
    *("tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity"),
    *("web_search_options", "stream"),
)

#: the safe default: apibridge's behaviour without a profile (every fact unknown).
GENERIC: Final = Profile("generic", "any other server")

#: Chat-compatible families; facts and sources in ``tests/profiles/facts/<name>.toml``.
CHAT_PROFILES: Final[Mapping[str, Profile]] = {
    p.name: p
    for p in (
        GENERIC,
        Profile(
            "openai",
            "OpenAI",
            reasoning_efforts=_OPENAI_EFFORTS,
            max_tokens_keys=("max_completion_tokens", "max_tokens"),
            tool_result_parts=True,
            allowed_tools=True,
            named_tool_choice=True,
            parallel_tool_calls=True,
            tool_strict=True,
            include_usage=True,
            response_formats=("json_object", "json_schema"),
            image_input=True,
            cache_usage=_OPENAI_CACHE,
            fields=_OPENAI_FIELDS,
        ),
        Profile(
            "azure",
            "Azure OpenAI",
            reasoning_efforts=("minimal", "low", "medium", "high"),
            max_tokens_keys=("max_completion_tokens", "max_tokens"),
            tool_result_parts=True,
            named_tool_choice=True,
            parallel_tool_calls=True,
            tool_strict=True,
            include_usage=True,
            response_formats=("json_object", "json_schema"),
            image_input=True,
            cache_usage=_OPENAI_CACHE,
        ),
        Profile(
            "vllm",
            "vLLM",
            reasoning_field="reasoning",
            reasoning_efforts=("low", "medium", "high"),
            max_tokens_keys=("max_tokens", "max_completion_tokens"),
            tool_result_parts=True,
            allowed_tools=False,
            named_tool_choice=True,
            parallel_tool_calls=True,
            tool_strict=False,
            include_usage=True,
            response_formats=("json_object", "json_schema"),
            image_input=True,
            cache_usage=_OPENAI_CACHE,
        ),
        Profile(
            "sglang",
            "SGLang",
            reasoning_field="reasoning_content",
            reasoning_efforts=_OPENAI_EFFORTS,
            max_tokens_keys=("max_tokens", "max_completion_tokens"),
            tool_result_parts=True,
            allowed_tools=False,
            named_tool_choice=True,
            parallel_tool_calls=True,
            tool_strict=True,
            include_usage=True,
            response_formats=("json_object", "json_schema"),
            image_input=True,
            cache_usage=_OPENAI_CACHE,
        ),
        Profile(
            "llamacpp",
            "llama.cpp server",
            reasoning_field="reasoning_content",
            named_tool_choice=False,
            response_formats=("json_object", "json_schema"),
            image_input=True,
        ),
        Profile(
            "ollama",
            "Ollama",
            reasoning_field="reasoning",
            max_tokens_keys=("max_tokens",),
            parallel_tool_calls=False,
            include_usage=True,
            image_input=True,
            fields=(
                *("model", "messages", "frequency_penalty", "presence_penalty"),
                *("response_format", "seed", "stop", "stream", "stream_options"),
                *("temperature", "top_p", "max_tokens", "tools", "tool_choice"),
                *("logit_bias", "user", "n", "reasoning_effort", "reasoning"),
                *("logprobs", "top_logprobs"),
            ),
        ),
        Profile(
            "lmstudio",
            "LM Studio",
            reasoning_field="reasoning_content",
            response_formats=("json_schema",),
        ),
        Profile(
            "openrouter",
            "OpenRouter",
            reasoning_field="reasoning_details",
            max_tokens_keys=("max_tokens",),
            named_tool_choice=True,
            parallel_tool_calls=True,
            response_formats=("json_object", "json_schema"),
            image_input=True,
            cache_usage=_OPENAI_CACHE,
        ),
        Profile(
            "deepseek",
            "DeepSeek",
            reasoning_field="reasoning_content",
            max_tokens_keys=("max_tokens",),
            allowed_tools=False,
            named_tool_choice=True,
            include_usage=True,
            response_formats=("json_object",),
            image_input=False,
            cache_usage="prompt_cache_hit_tokens",
        ),
        Profile(
            "groq",
            "Groq",
            reasoning_field="reasoning",
            max_tokens_keys=("max_completion_tokens", "max_tokens"),
            named_tool_choice=True,
            parallel_tool_calls=True,
            response_formats=("json_object", "json_schema"),
            image_input=True,
            cache_usage=_OPENAI_CACHE,
            rejects=("logprobs", "logit_bias", "top_logprobs"),
            message_rejects=("name",),
        ),
        Profile(
            "mistral",
            "Mistral",
            max_tokens_keys=("max_tokens",),
            allowed_tools=False,
            named_tool_choice=True,
            parallel_tool_calls=True,
            include_usage=False,
            response_formats=("json_object", "json_schema"),
            image_input=True,
        ),
        Profile(
            "together",
            "Together AI",
            max_tokens_keys=("max_tokens",),
            response_formats=("json_object", "json_schema"),
        ),
    )
}

#: Anthropic-format servers that are not Anthropic; facts in ``tests/profiles/facts/``.
ANTHROPIC_PROFILES: Final[Mapping[str, Profile]] = {
    p.name: p
    for p in (
        Profile("generic", "any other server", format="anthropic"),
        Profile(
            "deepseek",
            "DeepSeek (/anthropic)",
            format="anthropic",
            ignores=("container", "mcp_servers", "service_tier", "top_k"),
            blocks=("text", "tool_use", "tool_result", "thinking"),
            parallel_control=False,
        ),
        Profile(
            "vllm",
            "vLLM (/v1/messages)",
            format="anthropic",
            ignores=(
                "thinking",
                "container",
                "mcp_servers",
                "service_tier",
                "context_management",
            ),
            blocks=(
                "text",
                "image",
                "tool_use",
                "tool_result",
                "tool_reference",
                "thinking",
                "redacted_thinking",
            ),
            parallel_control=False,
        ),
        Profile("kimi", "Kimi (Moonshot /anthropic)", format="anthropic"),
        Profile("glm", "GLM (Z.ai /api/anthropic)", format="anthropic"),
        Profile(
            "ollama",
            "Ollama (/v1/messages)",
            format="anthropic",
        ),
    )
}

#: host names that say which family answers (exact, or ``.suffix``).
_HOSTS: Final = (
    ("api.openai.com", "openai"),
    (".openai.azure.com", "azure"),
    ("openrouter.ai", "openrouter"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral"),
    ("api.together.xyz", "together"),
    ("api.together.ai", "together"),
    ("api.moonshot.ai", "kimi"),
    ("api.moonshot.cn", "kimi"),
    ("api.z.ai", "glm"),
    ("open.bigmodel.cn", "glm"),
)

#: ``owned_by`` of ``GET /v1/models`` entries → family.
_OWNERS: Final[Mapping[str, str]] = {
    "vllm": "vllm",
    "sglang": "sglang",
    "llamacpp": "llamacpp",
    "library": "ollama",
    "ollama": "ollama",
    "organization_owner": "lmstudio",
}


def profile_for_host(host: str | None, fmt: str = "chat") -> str | None:
    """The family a known host name belongs to (``api.deepseek.com`` → ``deepseek``), if
    that family has a profile for ``fmt``."""
    if not host:
        return None
    host = host.lower().rstrip(".")
    table = CHAT_PROFILES if fmt == "chat" else ANTHROPIC_PROFILES
    for pattern, name in _HOSTS:
        hit = host.endswith(pattern) if pattern.startswith(".") else host == pattern
        if hit and name in table:
            return name
    return None


def profile_for_owner(owners: Iterable[str]) -> str | None:
    """The family the ``owned_by`` values of ``GET /v1/models`` name (the first known)."""
    for owner in owners:
        name = _OWNERS.get(owner.lower())
        if name is not None:
            return name
    return None
