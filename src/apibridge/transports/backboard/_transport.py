"""The backboard transport: stateless client conversations on backboard's stateful threads.

Theory of operation
===================

Each client request carries a whole transcript; a backboard thread keeps one server-side.
For every request the transport *plans a turn* (:meth:`BackboardTransport._plan`; the turn
and its encoding are in :mod:`apibridge.transports.backboard._turn`):

1. **Tool results** in the newest user turn whose call ids backboard itself issued (and that
   the store maps to a waiting run) go to that run, all in one ``submit-tool-outputs`` call,
   with the key that owns the thread. Calls the client left unanswered get an error output,
   so the run can go on; text next to the results is appended to the last output.
2. Otherwise the **thread** is found by an explicit conversation id (the
   ``x-backboard-conversation-id`` / ``x-conversation-id`` header, or ``metadata``
   ``conversation_id``) or by the digest of the whole prior transcript (see
   :mod:`apibridge.transports.backboard._state`). On a hit only the new turn is sent.
3. On a miss, a **new thread** (from a lazily warmed pool, or created) receives the prior
   history replayed, flattened by the codec, together with the new turn. New conversations
   rotate over the keys; a key that fails for its own reasons (auth, billing, rate limit) is
   counted against, skipped after repeated failures, and the next key is tried.

After a complete answer the thread's new transcript digest is stored, and the tool calls of
the answer are mapped (backboard's own ids) to their run. Every setting of a turn
(``system_prompt``, ``tools``, ``thinking`` …) is sent again on every turn, because backboard
keeps them per turn only.

Streams are read with a keep-alive timer (:mod:`apibridge.transports.backboard._stream_reader`):
silence longer than ``keepalive`` yields a ``Ping`` (starting the message first if needed); a
``run_ended`` is followed by at most ``end_grace`` seconds of waiting for a resumed run before
the message is closed. Events are held back until
the first content part, so a failure before it (including in-stream ``error``/``run_failed``
with a retryable message) is retried on a fresh thread with the history replayed (the old
thread may hold a half-finished turn), or raised as an :class:`UpstreamError` so that the
client gets a real error status. A client that goes away (the event generator is closed or
cancelled) while the run is active gets its run cancelled upstream.

Models listed in ``fallback_tool_models`` get their tools described in the prompt instead
(:mod:`apibridge.transports.backboard._tool_prompt`), and their answers parsed for calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import anyio
import attrs
import httpx

from apibridge._exchange import Exchange
from apibridge.codecs import backboard as codec
from apibridge.errors import ApiError, InvalidPayload, UpstreamError
from apibridge.model import (
    Event,
    Message,
    MessageStop,
    Ping,
    Response,
    StreamError,
    ToolCallPart,
    ToolResultPart,
    accumulate,
)
from apibridge.store import Store, StoreUnavailable
from apibridge.transports._protocol import NO_FORWARDING, Forwarding
from apibridge.transports.backboard._api import KEY_FAULT_KINDS, BackboardAPI
from apibridge.transports.backboard._fallback import FallbackStream, parse_response
from apibridge.transports.backboard._settings import BackboardSettings, settings_from_config
from apibridge.transports.backboard._state import (
    KeyRing,
    ThreadRef,
    ThreadState,
    ToolRoute,
    fingerprint,
    transcript_digest,
)
from apibridge.transports.backboard._stream_reader import read_events
from apibridge.transports.backboard._turn import (
    Turn,
    answer_fields,
    encode_turn,
    tool_payload,
    turn_start,
)

__all__ = ["CONVERSATION_HEADERS", "BackboardTransport"]

#: Client headers that name a conversation explicitly, in order of preference.
CONVERSATION_HEADERS: tuple[str, ...] = ("x-backboard-conversation-id", "x-conversation-id")


class BackboardTransport:
    """Carries exchanges to backboard.io (see the module docstring).

    Args:
        settings: the upstream's settings.
        client: the httpx client to send with (the caller owns and closes it).
        store: where conversation → thread maps, tool-call routes and key health live.
    """

    def __init__(
        self, settings: BackboardSettings, *, client: httpx.AsyncClient, store: Store
    ) -> None:
        self.settings = settings
        self.api = BackboardAPI(settings, client)
        self.state = ThreadState(store, settings.name, settings.thread_ttl)
        self.keys = KeyRing(
            settings.api_keys, store, settings.name, settings.key_failures, settings.key_cooldown
        )
        self.store = store
        # Per event loop: a WSGI driver may run each request in a loop of its own.
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._warming: dict[tuple[int, str], asyncio.Task[None]] = {}

    @classmethod
    def from_config(
        cls, upstream_config: Any, *, client: httpx.AsyncClient, store: Store
    ) -> BackboardTransport:
        """The transport for an :class:`apibridge.config.UpstreamConfig` of format backboard."""
        return cls(settings_from_config(upstream_config), client=client, store=store)

    async def aclose(self) -> None:
        """Stop warming the thread pool (the httpx client belongs to the caller)."""
        tasks = [t for t in self._warming.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._warming.clear()

    # ------------------------------------------------------------------------- planning

    def _conversation_id(self, exchange: Exchange, forwarding: Forwarding) -> str | None:
        for name in CONVERSATION_HEADERS:
            value = forwarding.headers.get(name)
            if value:
                return value
        metadata = exchange.request.metadata or {}
        value = metadata.get("conversation_id")
        return value if isinstance(value, str) and value else None

    async def _plan(
        self,
        exchange: Exchange,
        forwarding: Forwarding,
        *,
        stream: bool,
        conversation_id: str | None,
    ) -> Turn:
        original = exchange.request.model
        routed = self.settings.route_model(original)
        request = attrs.evolve(exchange.request, model=routed, stream=stream)
        fallback = self.settings.uses_fallback_tools(original) or (
            self.settings.uses_fallback_tools(routed)
        )
        if fallback and any(t.namespace is not None for t in request.tools):
            # Tools described in the prompt are matched by their plain names; the calls parsed
            # from the text cannot say which namespace they belong to.
            exchange.ctx.lose(
                "tools[].namespace",
                "backboard models without native tools have no tool namespaces",
                "members described and called under their own names",
            )
        turn = Turn(
            exchange=exchange,
            request=request,
            conversation_id=conversation_id or self._conversation_id(exchange, forwarding),
            fallback=fallback,
            tenant=forwarding.tenant,
            declared=frozenset(t.name for t in request.tools if t.kind == "function"),
            new_turn_start=turn_start(request.messages),
        )
        new = request.messages[turn.new_turn_start :]
        results = [p for m in new for p in m.content if isinstance(p, ToolResultPart)]
        if results and not fallback:
            route = await self.state.route_of([r.call_id for r in results], turn.tenant)
            key = self.keys.key_of(route.key) if route is not None else None
            ref = await self.state.thread(route.thread_id) if route is not None else None
            if route is not None and key is not None and ref is not None:
                claimed = await self.state.claim(ref)
                if claimed is not None:
                    turn.mode, turn.route, turn.key = "tool_outputs", route, key
                    turn.ref, turn.old_tip = claimed, ref.tip
                    return turn
        prior = request.messages[: turn.new_turn_start]
        found: ThreadRef | None = None
        if turn.conversation_id is not None:
            found = await self.state.by_conversation(turn.conversation_id, turn.tenant)
        elif prior:
            digest = transcript_digest(exchange.request, prior, turn.tenant)
            found = await self.state.by_digest(digest)
        key = self.keys.key_of(found.key) if found is not None else None
        if found is not None and key is not None:
            claimed = await self.state.claim(found)
            if claimed is not None:
                turn.mode, turn.ref, turn.old_tip, turn.key = "message", claimed, found.tip, key
        return turn

    # ------------------------------------------------------------------------- threads

    def _lock(self, name: str) -> asyncio.Lock:
        slot = (id(asyncio.get_running_loop()), name)
        if slot not in self._locks:
            self._locks[slot] = asyncio.Lock()
        return self._locks[slot]

    async def _assistant(self, key: str, *, fresh: bool = False) -> str:
        """This key's assistant: remembered, found by name, or created (never one per start)."""
        fp, name = fingerprint(key), self.settings.assistant_name
        if not fresh:
            known = await self.state.assistant(fp, name)
            if known is not None:
                return known
        async with self._lock("assistant:" + fp):
            if not fresh:
                known = await self.state.assistant(fp, name)
                if known is not None:
                    return known
            found = await self.api.find_assistant(key, name)
            if found is None:
                found = await self.api.create_assistant(key, name, self.settings.assistant_prompt)
            await self.state.set_assistant(fp, name, found)
            return found

    async def _new_thread(self, key: str) -> ThreadRef:
        """A thread for a new conversation on ``key``: from the pool, or created."""
        fp = fingerprint(key)
        assistant_id = await self._assistant(key)
        thread_id = await self.state.take_pooled(fp, assistant_id)
        if thread_id is None:
            try:
                thread_id = await self.api.create_thread(key, assistant_id)
            except UpstreamError as exc:
                if exc.error.kind != "not_found":
                    raise
                # The remembered assistant was deleted upstream: find or create it again.
                assistant_id = await self._assistant(key, fresh=True)
                thread_id = await self.api.create_thread(key, assistant_id)
        self._warm(key, assistant_id)
        return ThreadRef(thread_id=thread_id, assistant_id=assistant_id, key=fp)

    def _warm(self, key: str, assistant_id: str) -> None:
        """Refill the key's thread pool in the background (lazily, on first use; no start-up
        hook, so it works under any ASGI or WSGI server)."""
        if self.settings.pool_size <= 0:
            return
        slot = (id(asyncio.get_running_loop()), fingerprint(key))
        running = self._warming.get(slot)
        if running is not None and not running.done():
            return
        self._warming[slot] = asyncio.get_running_loop().create_task(
            self._fill_pool(key, assistant_id)
        )

    async def _fill_pool(self, key: str, assistant_id: str) -> None:
        fp = fingerprint(key)
        try:
            while await self.state.pooled_count(fp) < self.settings.pool_size:
                thread_id = await self.api.create_thread(key, assistant_id)
                await self.state.add_pooled(fp, thread_id, assistant_id)
        except (UpstreamError, StoreUnavailable):
            pass  # the pool only saves time: a request creates its own thread when it is empty

    # ------------------------------------------------------------------------- sending

    async def _send(self, turn: Turn, *, stream: bool) -> Any:
        """Send ``turn``: the answer body, or the open SSE response when ``stream``."""
        if turn.mode == "new":
            return await self._send_new(turn, stream=stream)
        assert turn.ref is not None
        assert turn.key is not None
        try:
            if turn.mode == "tool_outputs":
                assert turn.route is not None
                payload = tool_payload(turn, self.settings)
                call = self.api.stream_tool_outputs if stream else self.api.submit_tool_outputs
                result = await call(turn.key, turn.ref.thread_id, turn.route.run_id, payload)
            else:
                fields = {
                    **encode_turn(turn, self.settings, whole=False),
                    "thread_id": turn.ref.thread_id,
                }
                send = self.api.stream_message if stream else self.api.send_message
                result = await send(turn.key, fields)
        except UpstreamError as exc:
            if exc.error.kind in KEY_FAULT_KINDS:
                # The thread stays with its key (another account cannot see it), but the
                # failure counts, so new conversations avoid a key that keeps failing.
                await self.keys.failed(turn.key)
            raise
        turn.accepted = True
        return result

    async def _send_new(self, turn: Turn, *, stream: bool) -> Any:
        """Send a new conversation's first turn, trying the keys in rotation order."""
        fields = encode_turn(turn, self.settings, whole=True)
        failure: UpstreamError | None = None
        for key in await self.keys.order():
            try:
                ref = await self._new_thread(key)
                send = self.api.stream_message if stream else self.api.send_message
                result = await send(key, {**fields, "thread_id": ref.thread_id})
            except UpstreamError as exc:
                if exc.error.kind not in KEY_FAULT_KINDS:
                    raise
                # This key's account refused: count it, and let the next key try.
                await self.keys.failed(key)
                failure = exc
                continue
            turn.ref, turn.key, turn.accepted = ref, key, True
            await self.state.save(attrs.evolve(ref, tip=None))
            return result
        assert failure is not None
        raise failure

    async def _fresh_thread(self, turn: Turn) -> None:
        """Switch ``turn`` to a new thread with the whole history (after a failed attempt)."""
        if turn.ref is not None:
            await self.state.release(turn.ref, None)
        turn.mode, turn.ref, turn.old_tip, turn.route, turn.key = "new", None, None, None, None
        turn.accepted = False

    def _may_retry(self, error: ApiError, attempt: int) -> bool:
        return attempt < self.settings.retries and self.api.retryable(error)

    @staticmethod
    def _thread_lost(turn: Turn, error: ApiError, attempt: int) -> bool:
        """Whether the thread or run this turn relied on is gone upstream (deleted, expired,
        or the run no longer waits for outputs): then the history is replayed, once."""
        if attempt > 0 or turn.mode == "new" or turn.accepted:
            return False
        if error.kind == "not_found":
            return True
        return turn.mode == "tool_outputs" and "tool outputs" in error.message.lower()

    async def _abandon(self, turn: Turn) -> None:
        """The turn failed: give its thread back (reusable only if nothing reached it)."""
        if turn.ref is not None and turn.mode != "new":
            await self.state.release(turn.ref, None if turn.accepted else turn.old_tip)

    async def _remember(self, turn: Turn, response: Response, run_id: str | None) -> None:
        """After an answer: the thread's new tip, and where the answer's tool calls go."""
        assert turn.ref is not None
        assert turn.key is not None
        answer = Message(role="assistant", content=response.content)
        messages = (*turn.request.messages, answer)
        digest = transcript_digest(turn.exchange.request, messages, turn.tenant)
        await self.state.advance(turn.ref, digest, turn.conversation_id, turn.tenant)
        if turn.route is not None:
            await self.state.forget_calls(turn.route, turn.tenant)
        calls = tuple(p.id for p in response.content if isinstance(p, ToolCallPart))
        if calls and not turn.fallback and run_id:
            await self.state.remember_calls(
                ToolRoute(
                    thread_id=turn.ref.thread_id, run_id=run_id, key=turn.ref.key, call_ids=calls
                ),
                turn.tenant,
            )
        await self.keys.succeeded(turn.key)

    # ------------------------------------------------------------------------- complete

    async def complete(
        self,
        exchange: Exchange,
        forwarding: Forwarding = NO_FORWARDING,
        *,
        conversation_id: str | None = None,
    ) -> Response:
        """See :meth:`apibridge.transports.Transport.complete`.

        ``conversation_id`` names the conversation explicitly (else the headers, metadata or
        transcript digest do).
        """
        turn = await self._plan(exchange, forwarding, stream=False, conversation_id=conversation_id)
        attempt = 0
        try:
            while True:
                try:
                    body = await self._send(turn, stream=False)
                    response = self._decode(turn, body)
                    break
                except UpstreamError as exc:
                    if self._thread_lost(turn, exc.error, attempt):
                        attempt += 1  # replay the history into a new thread
                    elif not (turn.accepted and self._may_retry(exc.error, attempt)):
                        raise
                    else:
                        await anyio.sleep(self.api.delay(attempt))
                        attempt += 1
                    await self._fresh_thread(turn)
            run_id = answer_fields(body).get("run_id")
            await self._remember(turn, response, run_id if isinstance(run_id, str) else None)
            return response
        except BaseException:
            with anyio.CancelScope(shield=True):  # also when the client left (cancelled)
                await self._abandon(turn)
            raise

    def _decode(self, turn: Turn, body: Any) -> Response:
        try:
            response = turn.exchange.decode_response(body)
        except InvalidPayload as exc:
            raise UpstreamError(
                ApiError.of(
                    "bad_gateway",
                    f"backboard sent an invalid answer: {exc}",
                    source_format="backboard",
                )
            ) from None
        if turn.fallback:
            response = parse_response(response, turn.declared)
        return response

    # ------------------------------------------------------------------------- stream

    async def stream(
        self,
        exchange: Exchange,
        forwarding: Forwarding = NO_FORWARDING,
        *,
        conversation_id: str | None = None,
    ) -> AsyncIterator[Event]:
        """See :meth:`apibridge.transports.Transport.stream` (and :meth:`complete` for
        ``conversation_id``). Tool names are restored by the exchange's stream decoder."""
        turn = await self._plan(exchange, forwarding, stream=True, conversation_id=conversation_id)
        attempt = 0
        shown: list[Event] = []  # what reached the consumer
        decoder: codec.StreamDecoder | None = None
        finished = False
        try:
            while True:
                try:
                    response = await self._send(turn, stream=True)
                except UpstreamError as exc:
                    if not self._thread_lost(turn, exc.error, attempt):
                        raise
                    attempt += 1  # replay the history into a new thread
                    await self._fresh_thread(turn)
                    continue
                events_in = exchange.stream_decoder()
                assert isinstance(events_in.wire, codec.StreamDecoder)
                decoder = events_in.wire
                adapter = FallbackStream(turn.declared) if turn.fallback else None
                held: list[Event] = []
                retry: ApiError | None = None
                events = read_events(response, events_in, self.settings)
                try:
                    async for raw in events:
                        for event in adapter.feed(raw) if adapter is not None else [raw]:
                            if shown:
                                shown.append(event)
                                yield event
                                continue
                            if isinstance(event, StreamError):
                                if self._may_retry(event.error, attempt):
                                    retry = event.error
                                    break
                                raise UpstreamError(event.error)
                            if isinstance(event, Ping) and not held:
                                held.extend(decoder.begin())
                            held.append(event)
                            if isinstance(event, Ping | MessageStop) or decoder.produced_content:
                                for item in held:
                                    shown.append(item)
                                    yield item
                                held = []
                        if retry is not None:
                            break
                finally:
                    await events.aclose()
                if retry is None:
                    break
                # a stalled or broken attempt's run may still be going: stop it first
                await self._cancel_run(turn, decoder)
                decoder = None
                await anyio.sleep(self.api.delay(attempt, retry.retry_after))
                attempt += 1
                await self._fresh_thread(turn)
            if shown and isinstance(shown[-1], MessageStop):
                finished = True
                response_value = accumulate(shown)
                await self._remember(turn, response_value, decoder.run_id if decoder else None)
        finally:
            if not finished:
                await self._stopped(turn, decoder)

    async def _stopped(self, turn: Turn, decoder: codec.StreamDecoder | None) -> None:
        """The stream ended without an answer (failure, or the client left): clean up."""
        with anyio.CancelScope(shield=True):
            await self._cancel_run(turn, decoder)
            await self._abandon(turn)

    async def _cancel_run(self, turn: Turn, decoder: codec.StreamDecoder | None) -> None:
        """Cancel the run ``decoder`` was reading when it has not ended."""
        with anyio.CancelScope(shield=True):
            run_id = decoder.run_id if decoder is not None and not decoder.done else None
            if run_id is not None and turn.ref is not None and turn.key is not None:
                await self.api.cancel_run(turn.key, turn.ref.thread_id, run_id)

    # ------------------------------------------------------------------------- extras

    async def count_tokens(
        self, exchange: Exchange, forwarding: Forwarding = NO_FORWARDING
    ) -> int | None:
        """backboard has no token-counting endpoint: ``None`` (the caller estimates)."""
        return None

    async def list_models(self) -> Sequence[Mapping[str, Any]]:
        """Every backboard LLM as ``{"id": "provider/name", ...}`` (cached ``models_ttl``)."""
        cache = f"backboard:{self.settings.name}:models"
        cached = await self.store.get(cache)
        if isinstance(cached, list):
            return cached
        models: list[dict[str, Any]] | None = None
        for key in await self.keys.order():
            try:
                models = await self.api.list_models(key)
                break
            except UpstreamError:
                continue
        if models is None:
            return []
        out = []
        for model in models:
            name, provider = model.get("name"), model.get("provider")
            if not isinstance(name, str) or not isinstance(provider, str):
                continue
            out.append(
                {
                    "id": f"{provider}/{name}",
                    "object": "model",
                    "created": 0,
                    "owned_by": provider,
                    "display_name": model.get("display_name") or name,
                    "context_window": model.get("context_limit"),
                    "max_output_tokens": model.get("max_output_tokens"),
                    "supports_tools": model.get("supports_tools"),
                }
            )
        await self.store.set(cache, out, ttl=self.settings.models_ttl)
        return out
