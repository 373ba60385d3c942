"""Stored Responses: ``previous_response_id``, ``GET|DELETE /v1/responses/{id}``, input items.

Theory of operation
-------------------
A Responses client may send only its newest input plus ``previous_response_id``; the
conversation so far lives server-side. apibridge keeps it in the :class:`~apibridge.store.Store`
(key ``responses:<tenant>:<id>``), in the Responses wire format the client itself used, one
entry per turn, linked to the turn before:

``{"response": <the response object the client received>, "input": [<this turn's new input
items>], "previous": <the previous turn's id, or null>, "upstream_id": <the upstream's id>}``

Each turn's items are stored once, so a conversation takes storage linear in its length (an
entry holding the whole conversation so far made it quadratic: a 30-turn chain of 100 KiB
turns took 91 MiB in Redis, now 5.9 MiB; ``benchmarks/store_growth.py``). An entry written
before turns were linked holds the whole input and no ``previous``: it reads as a first
turn holding all of it.

* **Resolving** (:meth:`ResponseHistory.expand`): before the request is decoded, the chain
  of turns that ends at ``previous_response_id`` is read back to its first turn, and each
  turn's input and output items are put in front of the new input, oldest first;
  ``previous_response_id`` is removed, so the codec decodes one complete conversation and the
  canonical request carries the whole history to any upstream. Resolving at the wire level
  keeps adjacency exactly as the client would have sent it (a stored ``function_call`` sits
  right before the new ``function_call_output``). As in OpenAI's API, the earlier request's
  ``instructions`` are not carried over. An id this gateway does not know goes on unchanged to
  a Responses upstream (which may know it) and is a 404 for any other upstream.
  A chain that lost a turn (expired, or evicted from a full store) is a 404 that says so,
  never a conversation with a hole.
* **Saving** (:meth:`ResponseHistory.save`): after the answer, unless the client sent
  ``store: false``, the new input items and the response object are stored under the
  response's id, linked to the previous turn, and every earlier turn of the chain gets a
  fresh ``store_ttl`` (a continued conversation keeps its history while it lives). For a
  stream the response object is the Responses stream encoder's ``final_response`` (the
  object of the ``response.completed`` or ``response.incomplete`` event it wrote for the
  client), so the stored id is the one the client saw from first event to last, and nothing
  re-reads the bytes the encoder just produced.
* **Ids**: every response a Responses client gets from the gateway carries an id the gateway
  minted (:func:`new_response_id`: ``resp_`` and 192 random bits), never the upstream's: an
  upstream with a small id space (Ollama's ``chatcmpl-NNN``) would otherwise make two
  clients' stored responses share a key. The handler renames the canonical answer (or the
  stream's ``MessageStart``) before encoding, so the item ids the encoder derives from the
  response id (``msg_…``, ``fc_…``) are as unguessable; the upstream's own id is kept only
  as data (``upstream_id`` in the stored value). A stored value is written only under an id
  that is not taken (:meth:`ResponseHistory.save` refuses to overwrite).
* **Tenants**: every key holds the tenant of the client that stored it (a digest of its
  client key, :mod:`~apibridge._gateway._tenant`), and every lookup is made in the asking
  client's tenant only: another client's response is a 404 like one that never existed, for
  ``previous_response_id`` (then, as an unknown id, sent on to a Responses upstream, which
  never knows a minted id), ``GET``, ``DELETE`` and the input items alike.
* **Depth**: a stored value holds the response object one level down, and the response
  object echoes the request's fields other than ``input`` (``tools``, ``metadata``, ``text``
  …) at their own depth, so a turn to be stored whose other fields nest as deep as JSON is
  read (:data:`~apibridge._json.MAX_DEPTH`, 1,024 levels) would be written but could never be
  read back. :meth:`~ResponseHistory.expand` refuses it (:func:`check_storable`) before the
  upstream call, with the client's 400 naming the limit (1,023 levels outside ``input``;
  ``store: false`` lifts it); ``input`` items sit no deeper in the stored value than in the
  request.
* **Reading**: ``GET`` returns the stored response object; ``DELETE`` forgets it: its entry
  becomes a tombstone holding only the items later turns of its conversation need (as the
  whole-conversation entries of old held them), answered 404 to ``GET``, ``DELETE``,
  ``input_items`` and ``previous_response_id`` alike, and gone ``store_ttl`` after that;
  ``GET …/input_items`` lists the input items (the whole conversation's input up to that
  turn, as the client could have sent it in one request; newest first unless ``order=asc``,
  ``limit`` 1 to 100, ``after`` an item id), each with the ``id``/``status`` the list
  format requires.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import attrs

from apibridge._json import MAX_DEPTH, nests_deeper
from apibridge.errors import ApiError, GatewayError, InvalidPayload
from apibridge.store import Store

__all__ = [
    "MintedId",
    "NewTurn",
    "ResponseHistory",
    "check_storable",
    "input_items",
    "new_response_id",
]

_PREFIX = "responses:"
_ID_PREFIX: Mapping[str, str] = {"message": "msg_", "function_call": "fc_"}

#: the most turns one conversation is read back through (a guard against a loop of links).
MAX_TURNS = 100_000

#: random bytes in a minted response id (192 bits: ``resp_`` and 48 hex digits, OpenAI's shape).
ID_BYTES = 24


def new_response_id() -> str:
    """A fresh, unguessable Responses id: ``resp_`` and :data:`ID_BYTES` random bytes in hex."""
    return "resp_" + secrets.token_hex(ID_BYTES)


@attrs.define
class MintedId:
    """The id the gateway gives one Responses answer, the tenant it is stored for, and the
    upstream's own id (data only)."""

    tenant: str
    id: str = attrs.field(factory=new_response_id)
    #: the id the upstream gave its answer (``None`` until known, or when it gave none).
    upstream: str | None = None


def input_items(body: Mapping[str, Any]) -> list[Any]:
    """The request's ``input`` as a list of items (a string is one user message)."""
    value = body.get("input")
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list):
        return list(value)
    raise InvalidPayload("input: expected a string or an array of items")


#: the deepest a stored turn's fields other than ``input`` may nest: its stored value holds
#: them one level further down, and no JSON reader here takes more than MAX_DEPTH levels.
MAX_STORED_DEPTH = MAX_DEPTH - 1


def check_storable(body: Mapping[str, Any]) -> None:
    """Refuse (400) a request to be stored that could not be read back (see the module
    docstring): its fields other than ``input`` nest deeper than :data:`MAX_STORED_DEPTH`."""
    if nests_deeper({k: v for k, v in body.items() if k != "input"}, MAX_STORED_DEPTH):
        raise InvalidPayload(
            f"invalid JSON: nested deeper than {MAX_STORED_DEPTH} levels outside input, the "
            f"most apibridge stores for previous_response_id (send store: false to go on "
            f"without storing it)"
        )


@attrs.frozen
class NewTurn:
    """What :meth:`ResponseHistory.save` stores after the answer: this turn's input items,
    the turn it continues, and the ids of the whole chain before it (to refresh their TTL)."""

    items: list[Any]
    previous: str | None = None
    chain: tuple[str, ...] = ()


class ResponseHistory:
    """Responses conversation state in a :class:`~apibridge.store.Store`."""

    def __init__(self, store: Store, *, ttl: float | None = None) -> None:
        self.store = store
        self.ttl = ttl

    async def expand(
        self, body: Mapping[str, Any], *, upstream_format: str, tenant: str
    ) -> tuple[dict[str, Any], NewTurn]:
        """``body`` with its stored history put in front; also what to store later. A body
        to be stored that could not be read back is refused first (:func:`check_storable`)."""
        if body.get("store") is not False:
            check_storable(body)  # before the upstream call: it could not be read back
        items = input_items(body)
        previous = body.get("previous_response_id")
        if previous is None:
            return dict(body), NewTurn(items)
        if not isinstance(previous, str):
            raise InvalidPayload("previous_response_id: expected a string")
        last = await self.store.get(_key(tenant, previous))
        if not _live(last):
            if upstream_format == "responses":
                return dict(body), NewTurn(items)  # the upstream itself may have stored it
            raise GatewayError(
                ApiError.of(
                    "not_found",
                    f"previous_response_id: no stored response {previous!r} "
                    "(expired, deleted, or stored with store=false)",
                    param="previous_response_id",
                )
            )
        chain, history = await self._history(tenant, previous, last)
        if chain is None:
            raise GatewayError(
                ApiError.of(
                    "not_found",
                    f"previous_response_id: the conversation before {previous!r} is no "
                    "longer stored (expired or evicted)",
                    param="previous_response_id",
                )
            )
        expanded = {k: v for k, v in body.items() if k != "previous_response_id"}
        expanded["input"] = [*history, *items]
        return expanded, NewTurn(items, previous, chain)

    async def _history(
        self, tenant: str, response_id: str, entry: Any, *, with_output: bool = True
    ) -> tuple[tuple[str, ...] | None, list[Any]]:
        """The items of the conversation up to and including turn ``response_id`` (whose
        stored ``entry`` is at hand), oldest first, and the ids of its turns; ``None`` as the
        ids when a turn is missing. ``with_output=False`` leaves out the last turn's
        output (the input items of that turn's request)."""
        turns: list[Any] = []
        ids: list[str] = []
        current: str | None = response_id
        while current is not None:
            if not isinstance(entry, dict) or len(turns) >= MAX_TURNS or current in ids:
                return None, []
            turns.append(entry)
            ids.append(current)
            link = entry.get("previous")
            current = link if isinstance(link, str) else None
            if current is not None:
                entry = await self.store.get(_key(tenant, current))
        history: list[Any] = []
        for position, turn in enumerate(reversed(turns)):
            history += turn.get("input") or []
            if with_output or position < len(turns) - 1:
                history += _output(turn)
        ids.reverse()
        return tuple(ids), history

    async def save(
        self,
        response: Mapping[str, Any],
        turn: NewTurn,
        *,
        tenant: str,
        upstream_id: str | None = None,
    ) -> bool:
        """Store ``response`` (a Responses object, under the id the gateway minted for it) with
        this turn's input items, linked to the previous turn, and the upstream's own id; give
        the earlier turns a fresh TTL. Never over an entry already stored under that id:
        ``False`` then (ids are minted at random, so that means a bug)."""
        response_id = response.get("id")
        if not isinstance(response_id, str) or not response_id:
            return False
        key = _key(tenant, response_id)
        if await self.store.get(key) is not None:
            return False
        value = {
            "response": dict(response),
            "input": turn.items,
            "previous": turn.previous,
            "upstream_id": upstream_id,
        }
        await self.store.set(key, value, ttl=self.ttl)
        expire = getattr(self.store, "expire", None)
        if expire is not None:  # a store without it keeps each turn for its own TTL
            for earlier in turn.chain:
                await expire(_key(tenant, earlier), self.ttl)
        return True

    async def get(self, response_id: str, *, tenant: str) -> dict[str, Any]:
        """``tenant``'s stored response object, or a 404 :class:`GatewayError`."""
        return dict((await self._stored(response_id, tenant))["response"])

    async def delete(self, response_id: str, *, tenant: str) -> dict[str, Any]:
        """Forget one of ``tenant``'s stored responses (a tombstone keeps what later turns
        need, see the module docstring); the deletion confirmation body."""
        stored = await self._stored(response_id, tenant)
        tombstone = {
            "deleted": True,
            "input": stored.get("input") or [],
            "output": _output(stored),
            "previous": stored.get("previous"),
        }
        await self.store.set(_key(tenant, response_id), tombstone, ttl=self.ttl)
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    async def list_input_items(
        self, response_id: str, query: str, *, tenant: str
    ) -> dict[str, Any]:
        """The ``input_items`` list page for ``query`` (``limit``, ``order``, ``after``)."""
        stored = await self._stored(response_id, tenant)
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            limit = int(params.get("limit", "20"))
        except ValueError:
            raise InvalidPayload("limit: expected an integer") from None
        if not 1 <= limit <= 100:
            raise InvalidPayload("limit: must be between 1 and 100")
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise InvalidPayload("order: expected asc or desc")
        chain, everything = await self._history(tenant, response_id, stored, with_output=False)
        if chain is None:
            raise GatewayError(
                ApiError.of(
                    "not_found",
                    f"the conversation before {response_id!r} is no longer stored "
                    "(expired or evicted)",
                )
            )
        items = [_listed(item, response_id, i) for i, item in enumerate(everything)]
        if order == "desc":
            items.reverse()
        after = params.get("after")
        if after is not None:
            ids = [item.get("id") for item in items]
            if after not in ids:
                raise InvalidPayload(f"after: no input item {after!r}")
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }

    async def _stored(self, response_id: str, tenant: str) -> dict[str, Any]:
        stored = await self.store.get(_key(tenant, response_id))
        if not isinstance(stored, dict) or not _live(stored):
            raise self._missing(response_id)
        return stored

    @staticmethod
    def _missing(response_id: str) -> GatewayError:
        return GatewayError(ApiError.of("not_found", f"no stored response with id {response_id!r}"))


def _live(entry: Any) -> bool:
    """Whether ``entry`` is a stored response (not absent, not a tombstone)."""
    return isinstance(entry, dict) and not entry.get("deleted") and "response" in entry


def _output(entry: Mapping[str, Any]) -> list[Any]:
    """The output items of a stored turn (a live one's response, or a tombstone's)."""
    if "output" in entry:
        return list(entry["output"] or [])
    response = entry.get("response")
    return list(response.get("output") or []) if isinstance(response, dict) else []


def _key(tenant: str, response_id: str) -> str:
    """The store key of ``tenant``'s response ``response_id``."""
    return f"{_PREFIX}{tenant}:{response_id}"


def _listed(item: Any, response_id: str, index: int) -> Any:
    """``item`` as the input-items list shows it: typed, with an ``id`` and a ``status``."""
    if not isinstance(item, dict):
        return item
    out = dict(item)
    kind = out.setdefault("type", "message")
    if kind == "message" and isinstance(out.get("content"), str):
        text_type = "output_text" if out.get("role") == "assistant" else "input_text"
        part: dict[str, Any] = {"type": text_type, "text": out["content"]}
        if text_type == "output_text":
            part["annotations"] = []
        out["content"] = [part]
    if "id" not in out:
        digest = hashlib.sha256(f"{response_id}:{index}".encode()).hexdigest()[:32]
        out["id"] = _ID_PREFIX.get(kind, "item_") + digest
    if kind in ("function_call", "function_call_output", "message"):
        out.setdefault("status", "completed")
    return out
