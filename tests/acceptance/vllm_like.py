"""A scripted Chat Completions upstream that validates and answers like vLLM's OpenAI server.

Theory of operation
-------------------
:class:`VllmLikeChat` is an ASGI app (run it with :class:`~.recorder.LoopbackServer`) serving
``POST /v1/chat/completions`` and ``GET /v1/models`` the way vLLM's OpenAI-compatible server
does. Every request body is first checked by :func:`refusal`, a hand-written transcription of
vLLM's request model and validators (the facts below): what vLLM answers with a 400 gets a 400
here, in vLLM's error envelope, and is kept in :attr:`VllmLikeChat.refusals`; the fields vLLM
accepts but ignores (it only logs them) are kept in :attr:`VllmLikeChat.ignored`. An accepted
request is answered from a script of :class:`~.scripted.Turn` values (one per request, the
last one repeating), in vLLM's dialect: tool-call ids ``chatcmpl-tool-<hex>`` (the scripted
ids must have that form), reasoning under ``reasoning`` (vLLM today) or ``reasoning_content``
(vLLM before the rename), streamed chunks serialised without unset fields, usage in a stream
only when ``stream_options.include_usage`` asks for it (per chunk with
``continuous_usage_stats``).

:func:`vllm_bridge` puts apibridge (generic ``chat`` upstream) in front of one, the way
``harness.bridge`` does with the recorder. Independent of apibridge's codecs on purpose.

Facts about vLLM, with their sources
------------------------------------
Sources (vLLM repository, ``github.com/vllm-project/vllm``):

* **[P10]** ``vllm/entrypoints/openai/protocol.py`` at ``0052bed36509c7a5a2d8e48265334e40cf2f5a0e``
  (the 0.10-era single protocol module);
* **[PCC]** ``vllm/entrypoints/openai/chat_completion/protocol.py`` at
  ``002032ee2b18e1f7bd924ec47b62504ba3866063`` (today's layout);
* **[ENG]** ``vllm/entrypoints/openai/engine/protocol.py`` at
  ``040a2cc2a6295ea9c313d86526ff90a103eacb3e`` (``OpenAIBaseModel``, ``ErrorResponse``,
  ``StreamOptions``, ``FunctionDefinition``);
* **[CU]** ``vllm/entrypoints/chat_utils.py`` at ``001eadcf295d90aa0664963cd6a9d93f38a2f3da``
  (message parsing);
* **[API]** ``vllm/entrypoints/openai/api_server.py``, ``validation_exception_handler``
  (FastAPI's 422 turned into a 400);
* **[SRV]** ``vllm/entrypoints/openai/chat_completion/serving.py`` (``serving_chat.py``
  before the split), ``chat_completion_stream_generator``.

Where the two protocol revisions differ, the fake takes the stricter rule, so a request it
accepts is accepted by both.

1. Unknown top-level fields are accepted and ignored: ``OpenAIBaseModel`` has
   ``extra="allow"`` and only logs "The following fields were present in the request but
   ignored" (a warning in [P10]/[ENG], ``debug`` in later revisions). Not a refusal, but the
   field has no effect; kept in :attr:`VllmLikeChat.ignored`. [P10] [ENG]
2. The known fields of ``ChatCompletionRequest`` are :data:`KNOWN_FIELDS` ([PCC]; [P10] has
   the same OpenAI ones plus the ``guided_*`` family, removed since). [PCC] [P10]
3. Any validation failure (pydantic type error or a ``model_validator`` raising
   ``ValueError``/``VLLMValidationError``) is answered ``400``; FastAPI's 422 is overridden.
   [API]
4. Error envelope since 0.10: ``{"error": {"message", "type", "param", "code": 400}}``
   (``ErrorResponse(error=ErrorInfo)``); validation errors have ``type`` ``"Bad Request"``
   (``HTTPStatus.BAD_REQUEST.phrase``), serving errors ``"BadRequestError"``. Before 0.10 the
   same fields were flat: ``{"object": "error", "message", "type", "param", "code"}``
   (``envelope="flat"``). [ENG] [P10] [API]
5. ``messages`` is required, a list of message params: the OpenAI TypedDicts or
   ``CustomChatCompletionMessageParam`` (``role`` required, any string; ``content`` a string
   or a list of parts; ``tool_calls``; ``reasoning``; ``name``; ``tool_call_id``). [CU]
6. A content part is a string or an object whose ``type`` is one of :data:`PART_TYPES`;
   another ``type`` is refused ("Unsupported chat content part type", [CU] today; older
   revisions failed on it too). A part without ``type`` must carry a direct media key.
   [CU]
7. A ``tool`` message may hold a list of text parts; vLLM joins their texts with ``\\n``. [CU]
8. Assistant ``tool_calls`` entries are ``{"id", "type": "function", "function": {"name",
   "arguments"}}`` (``ChatCompletionMessageToolCallParam``; ``arguments`` a string, parsed as
   JSON for the template, ``{}`` when it is not JSON). [CU]
9. ``reasoning_content`` in a request message is renamed to ``reasoning`` ([PCC]
   ``_normalize_messages_before``); both are accepted. [PCC] [CU]
10. ``tools`` entries are ``{"type": "function", "function": {"name", "description",
    "parameters"}}``: ``type`` is ``Literal["function"]`` (a ``custom`` tool is refused);
    ``name`` is required; extra keys such as ``strict`` are ignored. [PCC] [ENG]
11. ``tools: []`` is refused ("`tools` must not be an empty array"). [PCC]
12. ``tool_choice`` is ``"none"``, ``"auto"``, ``"required"`` or ``{"type": "function",
    "function": {"name"}}`` naming a declared tool; any other value, or a ``tool_choice``
    other than ``"none"`` without ``tools``, is refused ("When using `tool_choice`, `tools`
    must be set."). [P10] [PCC]
13. ``reasoning_effort`` is ``Literal["low", "medium", "high"]`` in [P10]; [PCC] adds
    ``none``, ``minimal``, ``xhigh``, ``max``. The fake accepts the three words only. [P10]
14. ``max_tokens`` (deprecated) and ``max_completion_tokens`` are both accepted integers;
    ``max_completion_tokens`` wins when both are set. [PCC]
15. ``stream_options`` is ``{"include_usage": bool, "continuous_usage_stats": bool}`` and is
    refused unless ``stream`` is true ("Stream options can only be defined when
    `stream=True`."). [ENG] [PCC]
16. ``top_logprobs`` above 0 needs ``logprobs: true``; negative values are refused. [P10]
17. ``response_format.type`` is ``text``, ``json_object``, ``json_schema`` or
    ``structural_tag``; ``json_schema`` needs a ``json_schema`` object with a ``name``. [ENG]
    [PCC]
18. ``continue_final_message`` and ``add_generation_prompt`` both true is refused. [PCC]
19. ``parallel_tool_calls``, ``include_reasoning``, ``stream``, ``logprobs``, ``echo`` are
    booleans; ``n``, ``seed``, ``top_k``, ``min_tokens`` integers; ``temperature``, ``top_p``,
    penalties floats; ``stop`` a string or a list of strings; ``user`` a string. [PCC]
20. Answer: ``id`` ``chatcmpl-<hex>``, ``object`` ``chat.completion``; the message carries
    ``reasoning`` ([PCC]) or ``reasoning_content`` ([P10]); ``tool_calls`` always present in
    [P10], dropped when empty in [PCC]; ``finish_reason`` plus vLLM's ``stop_reason``;
    ``usage`` with ``prompt_tokens``, ``total_tokens``, ``completion_tokens``,
    ``prompt_tokens_details``. [P10] [PCC]
21. Tool-call ids are ``chatcmpl-tool-<uuid hex>`` (``random_tool_call_id`` /
    ``make_tool_call_id``). [P10] [CU]
22. Stream: the first chunk's delta is ``{"role": "assistant", "content": ""}``; reasoning
    deltas use the same field name as the answer; a tool call's first delta carries ``id``,
    ``type``, ``index`` and ``function.name``, later ones ``index`` and
    ``function.arguments`` only; chunks are serialised with ``exclude_unset`` (no ``usage``
    key unless asked for). [SRV] [P10]
23. Usage in a stream only with ``stream_options.include_usage``: a last chunk with
    ``choices: []`` and ``usage``; with ``continuous_usage_stats`` too, every chunk carries
    ``usage`` (the first with the prompt tokens and 0 completion tokens). [SRV] [ENG]
24. ``GET /v1/models`` lists ``ModelCard`` entries with ``owned_by: "vllm"``. [ENG]
25. A request whose prompt plus ``max_completion_tokens``/``max_tokens`` exceeds the model's
    ``max_model_len`` is refused with a 400: "This model's maximum context length is N
    tokens. However, you requested M output tokens and your prompt contains at least P input
    tokens, …" ([PCC] ``build_tok_params`` passes ``max_total_tokens=max_model_len`` and the
    requested output tokens to the tokenizer step, which checks the sum; the wording as
    vLLM users quote it). The fake estimates the prompt as one token per 4 bytes of the
    JSON of ``messages`` and ``tools``, and checks only when given ``max_model_len``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import orjson

from apibridge.asgi import App
from apibridge.config import GatewayConfig, Retries

from .recorder import LoopbackServer, Receive, Scope, Send
from .scripted import Call, Turn

__all__ = [
    "KNOWN_FIELDS",
    "PART_TYPES",
    "Refusal",
    "VllmBridge",
    "VllmLikeChat",
    "context_refusal",
    "prompt_tokens",
    "refusal",
    "vllm_bridge",
]

#: Fact 2: the fields of ``ChatCompletionRequest`` ([PCC]); anything else is ignored (fact 1).
KNOWN_FIELDS: frozenset[str] = frozenset(
    {
        "messages", "model", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
        "max_tokens", "max_completion_tokens", "n", "presence_penalty", "response_format",
        "seed", "stop", "stream", "stream_options", "temperature", "top_p", "tools",
        "tool_choice", "reasoning_effort", "thinking_token_budget", "include_reasoning",
        "parallel_tool_calls", "user", "use_beam_search", "top_k", "min_p",
        "repetition_penalty", "watermarking", "length_penalty", "stop_token_ids",
        "include_stop_str_in_output", "ignore_eos", "min_tokens", "skip_special_tokens",
        "spaces_between_special_tokens", "truncate_prompt_tokens", "truncation_side",
        "prompt_logprobs", "logprob_token_ids", "allowed_token_ids", "bad_words", "echo",
        "add_generation_prompt", "continue_final_message", "add_special_tokens", "documents",
        "chat_template", "chat_template_kwargs", "media_io_kwargs", "mm_processor_kwargs",
        "structured_outputs", "priority", "request_id", "session_id",
        "return_tokens_as_token_ids", "return_token_ids", "routed_experts_prompt_start",
        "return_token_offsets", "return_prompt_text", "return_mm_kwargs", "cache_salt",
        "kv_transfer_params", "ec_transfer_params", "vllm_xargs", "repetition_detection",
        "stream_interval",
    }
)  # fmt: skip

#: Fact 6: content part types both protocol revisions parse ([CU] ``MM_PARSER_MAP``).
PART_TYPES: frozenset[str] = frozenset(
    {"text", "image_url", "input_audio", "audio_url", "video_url", "refusal", "image_embeds"}
)

#: Fact 6: the direct media keys a part without ``type`` may carry.
_UNTYPED_PART_KEYS = ("image_url", "image_pil", "image_embeds", "audio_url", "input_audio")

_EFFORTS = ("low", "medium", "high")  # fact 13
_TOOL_CHOICE_WORDS = ("none", "auto", "required")  # fact 12
_RESPONSE_FORMATS = ("text", "json_object", "json_schema", "structural_tag")  # fact 17

# Fact 19: field types, as JSON types (bool is not an int here).
_BOOL_FIELDS = (
    "stream", "logprobs", "parallel_tool_calls", "include_reasoning", "echo",
    "add_generation_prompt", "continue_final_message", "add_special_tokens", "ignore_eos",
    "use_beam_search", "skip_special_tokens", "include_stop_str_in_output",
)  # fmt: skip
_INT_FIELDS = (
    "max_tokens", "max_completion_tokens", "n", "seed", "top_k", "min_tokens",
    "top_logprobs", "prompt_logprobs", "priority",
)  # fmt: skip
_FLOAT_FIELDS = (
    "temperature", "top_p", "frequency_penalty", "presence_penalty", "min_p",
    "repetition_penalty", "length_penalty",
)  # fmt: skip
_STR_FIELDS = ("model", "user", "chat_template", "request_id")
_OBJECT_FIELDS = (
    "logit_bias", "chat_template_kwargs", "mm_processor_kwargs", "kv_transfer_params",
    "vllm_xargs",
)  # fmt: skip


class Refusal(Exception):
    """Why vLLM would answer a request with a 400 (``message``, and ``param`` when known)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_types(body: Mapping[str, Any]) -> None:
    checks: list[tuple[tuple[str, ...], Callable[[Any], bool], str]] = [
        (_BOOL_FIELDS, lambda v: isinstance(v, bool), "a boolean"),
        (_INT_FIELDS, _is_int, "an integer"),
        (_FLOAT_FIELDS, _is_number, "a number"),
        (_STR_FIELDS, lambda v: isinstance(v, str), "a string"),
        (_OBJECT_FIELDS, lambda v: isinstance(v, dict), "an object"),
    ]
    for names, ok, what in checks:
        for name in names:
            value = body.get(name)
            if value is not None and not ok(value):
                raise Refusal(f"{name}: Input should be {what}", name)
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise Refusal("stop: Input should be a string or a list of strings", "stop")


def _check_part(part: Any, where: str) -> None:
    """Fact 6."""
    if isinstance(part, str):
        return
    if not isinstance(part, dict):
        raise Refusal(f"{where}: Input should be a string or an object", where)
    kind = part.get("type")
    if kind is None:
        if not any(key in part for key in _UNTYPED_PART_KEYS):
            raise Refusal("Missing 'type' field in multimodal part.", where)
        return
    if kind not in PART_TYPES:
        raise Refusal(
            f"Unsupported chat content part type: {kind!r}. Supported types: "
            f"{', '.join(sorted(PART_TYPES))}.",
            "type",
        )
    if kind in ("text", "refusal") and not isinstance(part.get(kind), str | None):
        raise Refusal(f"{where}.{kind}: Input should be a string", where)


def _check_tool_call(call: Any, where: str) -> None:
    """Fact 8."""
    if not isinstance(call, dict):
        raise Refusal(f"{where}: Input should be an object", where)
    function = call.get("function")
    if (
        not isinstance(call.get("id"), str)
        or call.get("type") != "function"
        or not isinstance(function, dict)
        or not isinstance(function.get("name"), str)
        or not isinstance(function.get("arguments"), str)
    ):
        raise Refusal(
            f"{where}: expected {{id, type: 'function', function: {{name, arguments}}}}", where
        )


def _check_messages(messages: Any) -> None:
    """Facts 5 to 9."""
    if not isinstance(messages, list):
        raise Refusal("messages: Field required (a list)", "messages")
    for n, message in enumerate(messages):
        where = f"messages.{n}"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise Refusal(f"{where}.role: Field required", where)
        content = message.get("content")
        if content is None:
            if "content" in message and message["role"] != "assistant":
                raise Refusal(f"{where}.content: Input should be a string or a list", where)
        elif isinstance(content, list):
            for m, part in enumerate(content):
                _check_part(part, f"{where}.content.{m}")
        elif not isinstance(content, str):
            raise Refusal(f"{where}.content: Input should be a string or a list", where)
        calls = message.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list):
                raise Refusal(f"{where}.tool_calls: Input should be a list", where)
            for m, call in enumerate(calls):
                _check_tool_call(call, f"{where}.tool_calls.{m}")
        for key in ("reasoning", "reasoning_content", "name", "tool_call_id"):
            if message.get(key) is not None and not isinstance(message[key], str):
                raise Refusal(f"{where}.{key}: Input should be a string", where)


def _check_tools(body: Mapping[str, Any]) -> None:
    """Facts 10 to 12 (``check_tool_usage``)."""
    tools = body.get("tools")
    if tools is not None:
        if tools == []:
            raise Refusal(
                "`tools` must not be an empty array. Either provide at least one tool or "
                "omit the field entirely.",
                "tools",
            )
        if not isinstance(tools, list):
            raise Refusal("tools: Input should be a list", "tools")
        for n, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if (
                not isinstance(tool, dict)
                or tool.get("type", "function") != "function"
                or not isinstance(function, dict)
                or not isinstance(function.get("name"), str)
            ):
                raise Refusal(
                    f"tools.{n}: Input should be {{type: 'function', function: {{name, ...}}}}",
                    f"tools.{n}",
                )
            if function.get("parameters") is not None and not isinstance(
                function["parameters"], dict
            ):
                raise Refusal(f"tools.{n}.function.parameters: Input should be an object")
    choice = body.get("tool_choice")
    if choice is None or choice == "none":
        return
    if tools is None:
        raise Refusal("When using `tool_choice`, `tools` must be set.", "tool_choice")
    if choice in _TOOL_CHOICE_WORDS:
        return
    if not isinstance(choice, dict):
        raise Refusal(
            f'Invalid value for `tool_choice`: {choice}! Only named tools, "none", "auto" or '
            '"required" are supported.',
            "tool_choice",
        )
    function = choice.get("function")
    if choice.get("type", "function") != "function" or not isinstance(function, dict):
        raise Refusal(f"Invalid value for `function`: `{function}` in `tool_choice`!")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise Refusal(f"Invalid `name` in `function`: `{name}` in `tool_choice`!")
    if name not in {t["function"]["name"] for t in tools}:
        raise Refusal(
            "The tool specified in `tool_choice` does not match any of the specified `tools`",
            "tool_choice",
        )


def _check_options(body: Mapping[str, Any]) -> None:
    """Facts 13 to 18."""
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _EFFORTS:
        raise Refusal(
            f"reasoning_effort: Input should be 'low', 'medium' or 'high' (got {effort!r})",
            "reasoning_effort",
        )
    options = body.get("stream_options")
    if options:
        if not body.get("stream"):
            raise Refusal(
                "Stream options can only be defined when `stream=True`.", "stream_options"
            )
        if not isinstance(options, dict) or not all(
            isinstance(options.get(k), bool | None)
            for k in ("include_usage", "continuous_usage_stats")
        ):
            raise Refusal("stream_options: Input should be a valid StreamOptions", "stream_options")
    top = body.get("top_logprobs")
    if top is not None and (top < 0 or (top > 0 and not body.get("logprobs"))):
        raise Refusal("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs")
    fmt = body.get("response_format")
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in _RESPONSE_FORMATS:
            raise Refusal(f"response_format.type: Input should be one of {_RESPONSE_FORMATS}")
        if kind == "json_schema":
            schema = fmt.get("json_schema")
            if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
                raise Refusal(
                    "When response_format type is 'json_schema', the 'json_schema' field must "
                    "be provided.",
                    "response_format",
                )
    if body.get("continue_final_message") and body.get("add_generation_prompt"):
        raise Refusal(
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
        )


def refusal(body: Any) -> Refusal | None:
    """Why vLLM would refuse the request body ``body`` (``None``: it would accept it)."""
    if not isinstance(body, dict):
        return Refusal("Input should be a valid dictionary or object")
    try:
        _check_messages(body.get("messages"))
        _check_types(body)
        _check_tools(body)
        _check_options(body)
    except Refusal as refused:
        return refused
    return None


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Fact 25: the fake's estimate of a request's prompt tokens."""
    return len(orjson.dumps([body.get("messages"), body.get("tools")])) // 4


def context_refusal(body: Mapping[str, Any], max_model_len: int) -> Refusal | None:
    """Fact 25: the refusal of a request that cannot fit a ``max_model_len`` context."""
    wanted = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    prompt = prompt_tokens(body)
    if prompt + wanted <= max_model_len:
        return None
    return Refusal(
        f"This model's maximum context length is {max_model_len} tokens. However, you "
        f"requested {wanted} output tokens and your prompt contains at least {prompt} input "
        f"tokens, for a total of at least {prompt + wanted} tokens. Please reduce the length "
        "of the input prompt or the number of requested output tokens."
    )


def ignored_fields(body: Mapping[str, Any]) -> set[str]:
    """Fact 1: the top-level fields vLLM accepts without using them."""
    return set(body) - KNOWN_FIELDS


# ------------------------------------------------------------------------------- the server

_PROMPT_TOKENS = 20
_COMPLETION_TOKENS = 7


def _usage(completion: int = _COMPLETION_TOKENS) -> dict[str, Any]:
    return {
        "prompt_tokens": _PROMPT_TOKENS,
        "total_tokens": _PROMPT_TOKENS + completion,
        "completion_tokens": completion,
    }


def _pieces(text: str, n: int = 3) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


class VllmLikeChat:
    """An ASGI Chat upstream that validates and answers like vLLM (see the module docstring).

    ``reasoning_field`` is ``"reasoning"`` (vLLM today, [PCC]) or ``"reasoning_content"``
    (0.10-era, [P10]); it also picks that revision's answer shape. ``envelope`` is
    ``"nested"`` (0.10 and later) or ``"flat"`` (earlier). ``api_key``, when set, is required
    as ``Authorization: Bearer`` (vLLM's ``--api-key``), answered 401 otherwise.
    ``max_model_len``, when set, is the served model's context length (fact 25).
    """

    def __init__(
        self,
        script: Sequence[Turn | Callable[[dict[str, Any]], Turn]] = (Turn(text="OK"),),
        *,
        reasoning_field: str = "reasoning",
        envelope: str = "nested",
        api_key: str | None = None,
        max_model_len: int | None = None,
    ) -> None:
        if reasoning_field not in ("reasoning", "reasoning_content"):
            raise ValueError(f"reasoning_field: {reasoning_field!r}")
        if envelope not in ("nested", "flat"):
            raise ValueError(f"envelope: {envelope!r}")
        for step in script:
            for call in step.calls if isinstance(step, Turn) else ():
                _check_call_id(call)
        self.script = tuple(script)
        self.reasoning_field = reasoning_field
        self.envelope = envelope
        self.api_key = api_key
        self.max_model_len = max_model_len
        self.requests: list[Any] = []
        """Every body POSTed to ``/v1/chat/completions``, parsed (``None`` if not JSON)."""
        self.refusals: list[tuple[int, Refusal]] = []
        """(index in :attr:`requests`, why) for every request answered 400."""
        self.ignored: list[tuple[int, set[str]]] = []
        """(index in :attr:`requests`, fields) for every request with fields vLLM ignores."""
        self._turns = 0
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status, content_type, data = self._answer(
            scope["method"], scope["path"], headers, b"".join(chunks)
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type.encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def _answer(
        self, method: str, path: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, str, bytes]:
        json_type = "application/json"
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, json_type, b'{"error": "Unauthorized"}'
        if method == "GET" and path == "/v1/models":
            card = {
                "id": "vllm-like",
                "object": "model",
                "created": 1700000000,
                "owned_by": "vllm",
                "root": "vllm-like",
                "parent": None,
                "max_model_len": 32768,
                "permission": [],
            }
            return 200, json_type, orjson.dumps({"object": "list", "data": [card]})
        if method != "POST" or path != "/v1/chat/completions":
            return 404, json_type, b'{"detail": "Not Found"}'
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
            refused = refusal(body)
            if refused is None and self.max_model_len is not None:
                refused = context_refusal(body, self.max_model_len)
            if refused is not None:
                self.refusals.append((index, refused))
                kind = "Bad Request" if refused.param else "BadRequestError"
                return 400, json_type, self._error(refused.message, kind, refused.param)
            ignored = ignored_fields(body)
            if ignored:
                self.ignored.append((index, ignored))
            step = self.script[min(self._turns, len(self.script) - 1)]
            self._turns += 1
        turn = step if isinstance(step, Turn) else step(body)
        for call in turn.calls:
            _check_call_id(call)
        if turn.status != 200:
            return turn.status, json_type, self._error("scripted error", "BadRequestError", None)
        model = body.get("model") or "vllm-like"
        completion_id = f"chatcmpl-{next(self._ids):032x}"
        if not body.get("stream"):
            return 200, json_type, orjson.dumps(self._completion(turn, model, completion_id))
        options = body.get("stream_options") or {}
        usage = bool(options.get("include_usage", True)) if options else False
        continuous = usage and bool(options.get("continuous_usage_stats"))
        data = b"".join(self._stream(turn, model, completion_id, usage, continuous))
        return 200, "text/event-stream; charset=utf-8", data

    def _error(self, message: str, kind: str, param: str | None) -> bytes:
        """Fact 4."""
        info = {"message": message, "type": kind, "param": param, "code": 400}
        if self.envelope == "flat":
            return orjson.dumps({"object": "error", **info})
        return orjson.dumps({"error": info})

    def _completion(self, turn: Turn, model: str, completion_id: str) -> dict[str, Any]:
        """Fact 20."""
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in turn.calls
        ]
        message: dict[str, Any] = {
            "role": "assistant",
            "content": turn.text or None,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
            "tool_calls": calls,
            self.reasoning_field: turn.reasoning or None,
        }
        if self.reasoning_field == "reasoning" and not calls:
            del message["tool_calls"]  # [PCC] drops an empty list
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": "tool_calls" if calls else "stop",
            "stop_reason": None,
        }
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [choice],
            "service_tier": None,
            "system_fingerprint": None,
            "usage": {**_usage(), "prompt_tokens_details": None},
            "prompt_logprobs": None,
            "kv_transfer_params": None,
        }

    def _stream(
        self, turn: Turn, model: str, completion_id: str, usage: bool, continuous: bool
    ) -> Iterator[bytes]:
        """Facts 22 and 23."""
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
        }
        produced = 0

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            nonlocal produced
            choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None}
            choice["finish_reason"] = finish
            if finish is not None:
                choice["stop_reason"] = None
            data: dict[str, Any] = {**base, "choices": [choice]}
            if continuous:
                data["usage"] = _usage(produced)
            produced = min(produced + 1, _COMPLETION_TOKENS)
            return b"data: " + orjson.dumps(data) + b"\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for piece in _pieces(turn.reasoning):
            yield chunk({self.reasoning_field: piece})
        for piece in _pieces(turn.text):
            yield chunk({"content": piece})
        for index, call in enumerate(turn.calls):
            pieces = _pieces(call.arguments) or [""]
            head = {
                "id": call.id,
                "type": "function",
                "index": index,
                "function": {"name": call.name, "arguments": pieces[0]},
            }
            yield chunk({"tool_calls": [head]})
            for piece in pieces[1:]:
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls" if turn.calls else "stop")
        if usage:
            last = {**base, "choices": [], "usage": _usage()}
            yield b"data: " + orjson.dumps(last) + b"\n\n"
        yield b"data: [DONE]\n\n"


def _check_call_id(call: Call) -> None:
    """Fact 21: a scripted call must carry an id vLLM could have made."""
    if not call.id.startswith("chatcmpl-tool-"):
        raise ValueError(f"vLLM tool-call ids are chatcmpl-tool-<hex>, not {call.id!r}")


# ------------------------------------------------------------------------------- the bridge

#: The key the gateway sends upstream (the fake requires it, like ``vllm serve --api-key``).
UPSTREAM_KEY = "vllm-upstream-key-51c2"


@attrs.frozen(kw_only=True)
class VllmBridge:
    """A running gateway and the vLLM-like upstream behind it."""

    url: str
    """The gateway's root URL (``http://127.0.0.1:<port>``)."""
    upstream: VllmLikeChat

    @property
    def openai_url(self) -> str:
        """The gateway's URL as OpenAI clients take it (with ``/v1``)."""
        return self.url + "/v1"

    def accepted_bodies(
        self, count: int | None = None, *, tolerated: frozenset[str] = frozenset()
    ) -> list[dict[str, Any]]:
        """Every request the upstream received, after checking that vLLM would have taken
        each one (no refusal) and used every field but those in ``tolerated`` (fields vLLM
        accepts and ignores, fact 1)."""
        upstream = self.upstream
        assert upstream.refusals == [], [(i, r.message) for i, r in upstream.refusals]
        unused = set().union(*(fields for _, fields in upstream.ignored))
        assert unused <= tolerated, f"vLLM would ignore {sorted(unused - tolerated)}"
        bodies = upstream.requests
        if count is not None:
            assert len(bodies) == count, bodies
        return list(bodies)


@contextmanager
def vllm_bridge(
    script: Sequence[Turn | Callable[[dict[str, Any]], Turn]],
    *,
    reasoning_field: str = "reasoning",
    envelope: str = "nested",
    options: MutableMapping[str, Any] | None = None,
    max_model_len: int | None = None,
    max_output_tokens: int | None = None,
) -> Iterator[VllmBridge]:
    """apibridge (a ``chat`` upstream, no retries) in front of a :class:`VllmLikeChat`.

    ``options`` become the upstream's ``options`` (empty: the generic Chat upstream);
    ``max_output_tokens`` the upstream's output cap in the gateway; ``max_model_len`` the
    fake model's context length (fact 25).
    """
    upstream = VllmLikeChat(
        script,
        reasoning_field=reasoning_field,
        envelope=envelope,
        api_key=UPSTREAM_KEY,
        max_model_len=max_model_len,
    )
    with LoopbackServer(upstream) as server:
        config = GatewayConfig.single(
            f"chat={server.url}/v1",
            api_key=UPSTREAM_KEY,
            retries=Retries(attempts=0, backoff=0.05, backoff_max=0.2),
            options=dict(options or {}),
            max_output_tokens=max_output_tokens,
        )
        with LoopbackServer(App(config)) as gateway:
            yield VllmBridge(url=gateway.url, upstream=upstream)
