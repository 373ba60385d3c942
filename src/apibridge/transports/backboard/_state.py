"""What the backboard transport remembers between requests, kept in a :class:`Store`.

Theory of operation
===================

Clients are stateless (they send the whole transcript every time); backboard threads are
stateful. The transport therefore keeps, in the project's ``Store`` (memory by default, Redis
to share between processes), under keys namespaced by the upstream's name:

``thread:<id>``     the thread's record: its assistant, the *fingerprint* of the key that
                    created it (never the key) and its ``tip``: the digest of the transcript
                    the thread holds right now;
``digest:<d>``      transcript digest → thread id (written after each answer);
``conv:<t>:<id>``   explicit conversation id (header or metadata) of tenant ``t`` → thread id;
``call:<t>:<id>``   backboard's own tool-call id, for tenant ``t`` → ``(thread, run, key, all
                    call ids of the run)``, so that tool results find their run;
``key:<fp>``        a key's health: consecutive failures and when it may be used again;
``assistant:<fp>``  the assistant id found or created for that key;
``pool:<fp>``       threads created ahead of need for that key;
``turn``            the rotation counter that spreads new conversations over the keys.

The digest of a transcript (:func:`transcript_digest`) covers the system prompt, the client's
user identity when it sends one, and every user and assistant turn: text, tool calls (id,
name, arguments with keys sorted) and tool results. Message boundaries and reasoning are left
out on purpose, because clients re-split turns and drop reasoning when they send a
transcript back. A thread is reused only while its ``tip`` equals the digest of the prior
transcript: a conversation that branched (an edited or regenerated turn) or two identical
conversations never write into one thread; they get a new thread with the history replayed.

Everything a client names or replays is scoped to its *tenant* (the gateway's digest of its
client key, :attr:`apibridge.transports.Forwarding.tenant`): the conversation ids and the
tool-call routes by key, the transcript digest by covering the tenant. A client naming
another client's conversation id, replaying its transcript or answering its tool calls finds
nothing and starts a thread of its own.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from apibridge import _json
from apibridge.errors import InvalidPayload
from apibridge.model import (
    DocumentPart,
    ImagePart,
    Message,
    RefusalPart,
    Request,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from apibridge.store import Store

__all__ = ["KeyRing", "ThreadRef", "ThreadState", "ToolRoute", "fingerprint", "transcript_digest"]


#: Prefix of a claimed thread's tip (a turn is under way on it).
_BUSY = "busy:"


def _busy(tip: str | None) -> bool:
    return tip is not None and tip.startswith(_BUSY)


def fingerprint(key: str) -> str:
    """A short, stable name for an API key that reveals nothing about it."""
    return hashlib.sha256(b"apibridge-backboard-key\0" + key.encode()).hexdigest()[:16]


def _canonical_arguments(arguments: str) -> Any:
    try:
        return _json.loads(arguments)
    except InvalidPayload:
        return arguments


def _blob(part: ImagePart | DocumentPart) -> str:
    raw = part.data or part.url or getattr(part, "text", None) or part.file_id or ""
    return hashlib.sha256(raw.encode()).hexdigest()


def _atoms(messages: Iterable[Message]) -> list[list[Any]]:
    atoms: list[list[Any]] = []
    for message in messages:
        role = message.role if message.role in ("user", "assistant") else "system"
        for part in message.content:
            atom: list[Any] | None = None
            if isinstance(part, TextPart | RefusalPart):
                text = part.text.strip()
                if text and atoms and atoms[-1][:2] == [role, "text"]:
                    atoms[-1][2] += "\n" + text  # clients re-split text: join neighbours
                elif text:
                    atom = [role, "text", text]
            elif isinstance(part, ToolCallPart):
                atom = [role, "call", part.id, part.name, _canonical_arguments(part.arguments)]
            elif isinstance(part, ToolResultPart):
                atom = [role, "result", part.call_id, part.text.strip(), part.is_error]
            elif isinstance(part, ImagePart | DocumentPart):
                atom = [role, "file", _blob(part)]
            if atom is not None:
                atoms.append(atom)
    return atoms


def transcript_digest(request: Request, messages: Sequence[Message], tenant: str = "") -> str:
    """The digest naming ``messages`` as a conversation of ``request``'s client, of
    ``tenant``."""
    user = request.user
    if user is None and request.metadata is not None:
        value = request.metadata.get("user_id")
        user = value if isinstance(value, str) else None
    scope = {
        "system": "\n\n".join(p.text for p in request.system),
        "user": user,
        "tenant": tenant,
    }
    payload = _json.dumps([scope, _atoms(messages)], sort_keys=True)
    return hashlib.sha256(payload).hexdigest()


@attrs.frozen(kw_only=True)
class ThreadRef:
    """A backboard thread and what it is tied to: its assistant and its key's fingerprint."""

    thread_id: str
    assistant_id: str
    key: str
    tip: str | None = None


@attrs.frozen(kw_only=True)
class ToolRoute:
    """Where the outputs of a tool call go: the run that waits for them."""

    thread_id: str
    run_id: str
    key: str
    call_ids: tuple[str, ...]


@attrs.define
class ThreadState:
    """Conversation → thread maps and tool-call routes of one upstream (see module doc)."""

    store: Store
    namespace: str
    ttl: float

    def _key(self, *parts: str) -> str:
        return ":".join(("backboard", self.namespace, *parts))

    async def _thread(self, thread_id: str) -> ThreadRef | None:
        raw = await self.store.get(self._key("thread", thread_id))
        if not isinstance(raw, dict):
            return None
        return ThreadRef(
            thread_id=thread_id, assistant_id=raw["assistant"], key=raw["key"], tip=raw.get("tip")
        )

    async def save(self, ref: ThreadRef) -> None:
        """Store ``ref`` (its tip included)."""
        value = {"assistant": ref.assistant_id, "key": ref.key, "tip": ref.tip}
        await self.store.set(self._key("thread", ref.thread_id), value, ttl=self.ttl)

    async def by_digest(self, digest: str) -> ThreadRef | None:
        """The thread holding exactly the transcript ``digest`` names, if any."""
        thread_id = await self.store.get(self._key("digest", digest))
        if not isinstance(thread_id, str):
            return None
        ref = await self._thread(thread_id)
        return ref if ref is not None and ref.tip == digest else None

    async def by_conversation(self, conversation_id: str, tenant: str) -> ThreadRef | None:
        """The thread of a conversation ``tenant`` named explicitly, if any."""
        thread_id = await self.store.get(self._key("conv", tenant, conversation_id))
        return await self._thread(thread_id) if isinstance(thread_id, str) else None

    async def claim(self, ref: ThreadRef) -> ThreadRef | None:
        """Take ``ref`` for one turn: its tip becomes a marker no digest equals, so a second
        request for the same conversation meanwhile gets a thread of its own. ``None`` when
        another request holds the thread or moved it on."""
        current = await self._thread(ref.thread_id)
        if current is None or current.tip != ref.tip or _busy(current.tip):
            return None
        claimed = attrs.evolve(ref, tip=_BUSY + uuid.uuid4().hex)
        await self.save(claimed)
        return claimed

    async def advance(
        self, ref: ThreadRef, digest: str, conversation_id: str | None, tenant: str
    ) -> None:
        """The thread now holds the transcript ``digest`` names (after an answer)."""
        await self.save(attrs.evolve(ref, tip=digest))
        await self.store.set(self._key("digest", digest), ref.thread_id, ttl=self.ttl)
        if conversation_id is not None:
            key = self._key("conv", tenant, conversation_id)
            await self.store.set(key, ref.thread_id, ttl=self.ttl)

    async def release(self, ref: ThreadRef, tip: str | None) -> None:
        """Give a claimed thread back with ``tip`` (the old one when nothing was sent, ``None``
        when the thread may hold a half-finished turn and must not be reused by digest)."""
        await self.save(attrs.evolve(ref, tip=tip))

    async def remember_calls(self, route: ToolRoute, tenant: str) -> None:
        """Remember the run that waits for ``tenant``'s outputs of ``route.call_ids``."""
        value = {
            "thread": route.thread_id,
            "run": route.run_id,
            "key": route.key,
            "calls": list(route.call_ids),
        }
        for call_id in route.call_ids:
            await self.store.set(self._key("call", tenant, call_id), value, ttl=self.ttl)

    async def route_of(self, call_ids: Sequence[str], tenant: str) -> ToolRoute | None:
        """The one run waiting for all of ``tenant``'s ``call_ids``; ``None`` if unknown or
        split."""
        routes = set()
        found: dict[str, Any] | None = None
        for call_id in call_ids:
            raw = await self.store.get(self._key("call", tenant, call_id))
            if not isinstance(raw, dict):
                return None
            routes.add((raw["thread"], raw["run"]))
            found = raw
        if found is None or len(routes) != 1:
            return None
        return ToolRoute(
            thread_id=found["thread"],
            run_id=found["run"],
            key=found["key"],
            call_ids=tuple(found["calls"]),
        )

    async def forget_calls(self, route: ToolRoute, tenant: str) -> None:
        """The run got its outputs: its call ids route nowhere any more."""
        for call_id in route.call_ids:
            await self.store.delete(self._key("call", tenant, call_id))

    async def thread(self, thread_id: str) -> ThreadRef | None:
        """The record of ``thread_id``, if known."""
        return await self._thread(thread_id)

    # -- assistants and the thread pool, per key fingerprint

    async def assistant(self, fp: str, name: str) -> str | None:
        """The assistant id remembered for key ``fp`` and assistant ``name``."""
        value = await self.store.get(self._key("assistant", fp, name))
        return value if isinstance(value, str) else None

    async def set_assistant(self, fp: str, name: str, assistant_id: str) -> None:
        """Remember the assistant of key ``fp``."""
        await self.store.set(self._key("assistant", fp, name), assistant_id, ttl=self.ttl)

    async def take_pooled(self, fp: str, assistant_id: str) -> str | None:
        """A thread created ahead of need for key ``fp`` (``None`` when the pool is empty)."""
        pool = await self.store.get(self._key("pool", fp))
        if not isinstance(pool, list):
            return None
        while pool:
            entry = pool.pop(0)
            if isinstance(entry, list) and len(entry) == 2 and entry[1] == assistant_id:
                await self.store.set(self._key("pool", fp), pool, ttl=self.ttl)
                return str(entry[0])
        await self.store.set(self._key("pool", fp), pool, ttl=self.ttl)
        return None

    async def pooled_count(self, fp: str) -> int:
        """How many threads wait in key ``fp``'s pool."""
        pool = await self.store.get(self._key("pool", fp))
        return len(pool) if isinstance(pool, list) else 0

    async def add_pooled(self, fp: str, thread_id: str, assistant_id: str) -> None:
        """Put a fresh thread in key ``fp``'s pool."""
        pool = await self.store.get(self._key("pool", fp))
        pool = pool if isinstance(pool, list) else []
        pool.append([thread_id, assistant_id])
        await self.store.set(self._key("pool", fp), pool, ttl=self.ttl)


@attrs.define
class KeyRing:
    """The upstream's keys: rotation for new conversations, health, cool-down.

    A key that failed ``threshold`` times in a row (authentication, permission, billing,
    rate limit) sits out for ``cooldown`` seconds, then is tried again; one success resets it.
    Health lives in the store, so several processes share what they learnt.
    """

    keys: tuple[str, ...]
    store: Store
    namespace: str
    threshold: int
    cooldown: float

    def _key(self, *parts: str) -> str:
        return ":".join(("backboard", self.namespace, *parts))

    def key_of(self, fp: str) -> str | None:
        """The key whose fingerprint is ``fp`` (``None`` if it is no longer configured)."""
        return next((k for k in self.keys if fingerprint(k) == fp), None)

    async def order(self) -> list[str]:
        """Keys to try for a new conversation: the next in turn first, resting keys last."""
        turn = await self.store.get(self._key("turn"))
        turn = turn if isinstance(turn, int) else 0
        await self.store.set(self._key("turn"), turn + 1, ttl=365 * 24 * 3600.0)
        rotated = [self.keys[(turn + i) % len(self.keys)] for i in range(len(self.keys))]
        now = time.time()
        ready: list[tuple[float, str]] = []
        resting: list[tuple[float, str]] = []
        for key in rotated:
            health = await self.store.get(self._key("key", fingerprint(key)))
            until = health.get("until", 0) if isinstance(health, dict) else 0
            (resting if until > now else ready).append((until, key))
        resting.sort()
        return [k for _, k in ready] + [k for _, k in resting]

    async def failed(self, key: str) -> None:
        """Count a failure of ``key``; enough in a row make it rest."""
        name = self._key("key", fingerprint(key))
        health = await self.store.get(name)
        failures = (health.get("failures", 0) if isinstance(health, dict) else 0) + 1
        until = time.time() + self.cooldown if failures >= self.threshold else 0
        await self.store.set(
            name, {"failures": failures, "until": until}, ttl=max(self.cooldown * 10, 3600.0)
        )

    async def succeeded(self, key: str) -> None:
        """``key`` works: forget its failures."""
        await self.store.delete(self._key("key", fingerprint(key)))

    async def resting(self, key: str) -> bool:
        """Whether ``key`` is sitting out its cool-down."""
        health = await self.store.get(self._key("key", fingerprint(key)))
        return isinstance(health, dict) and health.get("until", 0) > time.time()
