"""What the Responses stream writers share: the frame counter, the output items, the open message.

An :class:`ItemStream` numbers the frames (``sequence_number`` from 0 by 1), keeps the output
items written so far (each replaced by its final form at ``output_item.done``: the terminal
event's ``output``) and the message item open now, which consecutive text parts share
(:mod:`~apibridge.codecs.responses._item_writers` has the writers). A :class:`DeltaFrame` is the
frame of one kind of delta event of one part, serialised once so that a delta costs one
``dumps`` of its value. When the stream fails, :meth:`ItemStream.cut_message` leaves the open
message item open and puts it in the output as ``incomplete``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apibridge._json import dumps
from apibridge._sse import encode_frame
from apibridge.codecs._context import Context, str_or_none
from apibridge.codecs.responses._items import ItemIds, new_message

__all__ = ["DeltaFrame", "ItemStream", "Message"]


class Message:
    """The message item being written."""

    __slots__ = ("content", "fields", "item_id", "output_index")

    def __init__(self, item_id: str, output_index: int, fields: dict[str, Any] | None) -> None:
        self.item_id = item_id
        self.output_index = output_index
        self.fields = fields
        self.content: list[dict[str, Any]] = []


class DeltaFrame:
    """The frame of one kind of delta event of one part, made once: ``event: kind``, then
    ``{"type": kind, "sequence_number": n, **fields, "delta": value, **after}``, with the pieces
    around ``n`` and ``value`` already serialised (compact JSON concatenates exactly)."""

    __slots__ = ("after", "fields", "head", "kind", "middle", "tail")

    def __init__(self, kind: str, fields: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        self.kind, self.fields, self.after = kind, fields, after
        self.head = b'event: %b\ndata: {"type":%b,"sequence_number":' % (kind.encode(), dumps(kind))
        # ``{…,"delta":""}`` without its last ``""}``: the fields and the key, ready for the value
        self.middle = b"," + dumps({**fields, "delta": ""})[1:-3]
        self.tail = (b"," + dumps(after)[1:-1] if after else b"") + b"}\n\n"


class ItemStream:
    """What the writers share: the frame counter, the output items, the open message item."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ids = ItemIds(None)  # the response's, once the stream has started
        #: the output items so far, each replaced by its final form at ``.done``
        self.output: list[dict[str, Any]] = []
        self.msg: Message | None = None
        self._seq = 0

    def emit(self, kind: str, **fields: Any) -> bytes:
        """One frame: ``event: kind`` and the payload with the next ``sequence_number``."""
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return encode_frame(dumps(payload), event=kind)

    def emit_delta(self, template: DeltaFrame, value: str) -> bytes:
        """``emit(template.kind, **template.fields, delta=value, **template.after)``: the same
        bytes, put together from the template's pieces (the hot path: one ``dumps`` of the
        value and no dict per delta)."""
        try:
            encoded = dumps(value)
        except ValueError:  # a lone surrogate: left to the general path, which fails as ever
            return self.emit(template.kind, **template.fields, delta=value, **template.after)
        seq = self._seq
        self._seq = seq + 1
        return b"%b%d%b%b%b" % (template.head, seq, template.middle, encoded, template.tail)

    def add_item(self, item: dict[str, Any]) -> bytes:
        """``output_item.added`` for ``item``, the next output item."""
        position = len(self.output)
        self.output.append(item)
        return self.emit("response.output_item.added", output_index=position, item=item)

    def item_done(self, position: int, item: dict[str, Any]) -> list[bytes]:
        """``output_item.done``: ``item`` is the final form of output item ``position``."""
        self.output[position] = item
        return [self.emit("response.output_item.done", output_index=position, item=item)]

    def open_message(self, fields: Mapping[str, Any] | None) -> list[bytes]:
        """A new message item (``fields``: the ``_item`` hint of its first part)."""
        position = len(self.output)
        base = new_message("assistant", fields, self.ids, position)
        item_id = str_or_none(base.get("id"))
        item_id = item_id or self.ids.make("msg_", position)
        self.msg = Message(
            item_id=item_id,
            output_index=position,
            fields=dict(fields) if fields is not None else None,
        )
        added: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        return [self.add_item(added)]

    def cut_message(self) -> None:
        """The stream failed: the open message item stays open (no event); the output has it
        as far as it got, with status ``incomplete``."""
        msg, self.msg = self.msg, None
        if msg is None:
            return
        self.output[msg.output_index] = {
            **new_message("assistant", None, self.ids, msg.output_index),
            **(msg.fields or {}),
            "id": msg.item_id,
            "status": "incomplete",
            "content": [c for c in msg.content if c],
        }

    def close_message(self) -> list[bytes]:
        """``output_item.done`` for the open message item, if any."""
        msg, self.msg = self.msg, None
        if msg is None:
            return []
        # Output messages always have these; the hint (which may be partial) overrides them.
        item = {
            **new_message("assistant", None, self.ids, msg.output_index),
            **(msg.fields or {}),
            "id": msg.item_id,
            "content": [c for c in msg.content if c],
        }
        return self.item_done(msg.output_index, item)
