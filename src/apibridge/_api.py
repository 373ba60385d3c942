"""The public conversion functions (see ``apibridge.__init__``)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from apibridge._exchange import Exchange, StreamTranslator, ToolNames
from apibridge.codecs import FORMATS, Context, get_codec
from apibridge.codecs._profiles import ANTHROPIC_PROFILES, CHAT_PROFILES, Profile
from apibridge.codecs.chat._reasoning_dialects import DIALECTS
from apibridge.errors import InvalidPayload, Loss, emit

__all__ = [
    "FORMATS",
    "aconvert_stream",
    "convert_error",
    "convert_request",
    "convert_response",
    "convert_stream",
]


def _report(losses: list[Loss] | None, found: list[Loss]) -> None:
    if losses is None:
        emit(found)
    else:
        losses.extend(found)


#: the server profiles by target format.
_PROFILES: dict[str, Mapping[str, Profile]] = {
    "chat": CHAT_PROFILES,
    "anthropic": ANTHROPIC_PROFILES,
}


def _profile(name: str | None, target: str) -> Profile | None:
    """The server profile ``name`` of ``target``'s format (``None``: none, or ``generic``)."""
    if name is None or name == "generic":
        return None
    table = _PROFILES.get(target, {})
    if name not in table:
        known = ", ".join(["generic", *table]) if table else "none for this format"
        raise ValueError(f"unknown {target} profile {name!r}; the profiles: {known}")
    return table[name]


def convert_request(
    body: Mapping[str, Any],
    *,
    source: str,
    target: str,
    strict: bool = False,
    losses: list[Loss] | None = None,
    cache_breakpoints: bool | None = None,
    reasoning_field: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Translate a request ``body`` from format ``source`` to format ``target``.

    Tool names the target would reject are shortened reversibly (pass the original request
    as ``request=`` to :func:`convert_response` to get them back). With ``strict=True`` any
    field that cannot be carried raises :class:`~apibridge.errors.UnsupportedFeature`;
    otherwise it is reported in ``losses`` (or as a ``ConversionWarning``).

    ``cache_breakpoints`` says whether the target takes prompt-cache markers: Anthropic
    ``cache_control`` ⇄ OpenAI ``prompt_cache_breakpoint`` and top-level ``cache_control`` ⇄
    ``prompt_cache_options.mode: implicit``. The default (``None``) carries them to Anthropic
    and reports them lost for Chat and Responses, whose explicit breakpoints only the OpenAI
    API takes (gpt-5.6 and later); pass ``True`` when the target takes them.

    ``reasoning_field`` is how a Chat target spells reasoning in the assistant history:
    ``"reasoning_content"``, ``"reasoning"``, ``"reasoning_details"`` (OpenRouter) or
    ``"think"`` (``<think>…</think>`` in ``content``). The default (``None``) keeps each
    message's own spelling, ``reasoning_content`` for reasoning from another format.

    ``profile`` fits the request to a server family, as the gateway's ``options.profile``
    does (``"vllm"``, ``"ollama"``, ``"deepseek"`` …; the Chat families for a ``chat``
    target, the Anthropic-compatible servers for an ``anthropic`` one; see the docs' "Upstream
    server profiles"): its reasoning spelling (unless ``reasoning_field`` says otherwise), its
    ``reasoning_effort`` words, and what it refuses, each change reported as a loss.
    """
    fitted = _profile(profile, target)
    if fitted is not None and reasoning_field is None:
        reasoning_field = fitted.reasoning_field
    if reasoning_field is not None and reasoning_field not in DIALECTS:
        raise ValueError(
            f"unknown reasoning_field {reasoning_field!r}; expected one of {', '.join(DIALECTS)}"
        )
    found: list[Loss] = []
    exchange = Exchange.from_client(
        body,
        client=source,
        upstream=target,
        strict=strict,
        losses=found,
        cache_breakpoints=cache_breakpoints,
        reasoning_efforts=None if fitted is None else (fitted.reasoning_efforts or None),
        reasoning_field=reasoning_field,
        profile=fitted,
    )
    result = exchange.upstream_request()
    _report(losses, found)
    return result


def _answer_exchange(
    source: str,
    target: str,
    request: Mapping[str, Any] | None,
    found: list[Loss],
    strict: bool = False,
) -> Exchange:
    """An exchange whose *client* is ``target`` and whose upstream is ``source``."""
    if request is not None:
        return Exchange.from_client(
            request, client=target, upstream=source, strict=strict, losses=found
        )
    from apibridge.model import Request

    ctx = Context(strict=strict, losses=found)
    return Exchange(
        get_codec(target), get_codec(source), Request(model="", messages=()), ToolNames(), ctx
    )


def convert_response(
    body: Mapping[str, Any],
    *,
    source: str,
    target: str,
    request: Mapping[str, Any] | None = None,
    losses: list[Loss] | None = None,
) -> dict[str, Any]:
    """Translate a non-streamed response ``body`` from ``source`` to ``target``.

    ``request`` is the client's original request, in the ``target`` format: with it the
    answer regains the client's tool names and the stop sequence that matched.
    """
    found: list[Loss] = []
    exchange = _answer_exchange(source, target, request, found)
    if not isinstance(body, Mapping):
        raise InvalidPayload("the response body must be a JSON object")
    result = exchange.client_response(body)
    _report(losses, found)
    return result


def convert_stream(
    chunks: Iterable[bytes],
    *,
    source: str,
    target: str,
    request: Mapping[str, Any] | None = None,
    losses: list[Loss] | None = None,
) -> Iterator[bytes]:
    """Translate an SSE byte stream from ``source`` to ``target``, chunk by chunk.

    Chunks may split events, lines and UTF-8 characters anywhere. A stream that ends early
    ends with the target format's in-band error, never a silent truncation. An event over
    :data:`apibridge._sse.MAX_EVENT_SIZE` (8 MiB) raises
    :class:`~apibridge.errors.InvalidPayload`.
    """
    found: list[Loss] = []
    translator = _answer_exchange(source, target, request, found).stream()
    try:
        for chunk in chunks:
            yield from translator.feed(chunk)
        yield from translator.close()
    finally:
        _report(losses, found)


async def aconvert_stream(
    chunks: AsyncIterable[bytes],
    *,
    source: str,
    target: str,
    request: Mapping[str, Any] | None = None,
    losses: list[Loss] | None = None,
) -> AsyncIterator[bytes]:
    """The ``async for`` twin of :func:`convert_stream`."""
    found: list[Loss] = []
    translator: StreamTranslator = _answer_exchange(source, target, request, found).stream()
    try:
        async for chunk in chunks:
            for out in translator.feed(chunk):
                yield out
        for out in translator.close():
            yield out
    finally:
        _report(losses, found)


def convert_error(
    body: Any, status: int, *, source: str, target: str
) -> tuple[int, dict[str, Any]]:
    """Translate an error ``body`` with HTTP ``status`` from ``source`` to ``target``.

    Returns the status the target's client should see and the body in its envelope.
    Unrecognisable bodies (HTML from a proxy, plain text) still become a well-formed error.
    """
    error = get_codec(source).decode_error(body, status)
    return get_codec(target).encode_error(error)
