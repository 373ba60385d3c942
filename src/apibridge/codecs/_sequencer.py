"""Canonical events → the same events with parts one after another: the part sequencer.

Theory of operation
-------------------
Canonical parts may interleave (parallel tool calls in a Chat stream: deltas of part 0 and
part 1 alternate), but some wire formats can only write one block or item at a time. A
:class:`PartSequencer` sits in front of such a stream encoder and re-orders the events so that
parts never interleave; the encoder then only ever sees, per part, ``PartStart``, its
``PartDelta`` events and its ``PartStop``, before the next part starts. It is pure and
push-style: :meth:`PartSequencer.feed` takes one event and returns the events to pass on now.

* The part opened first that is not finished is *current*: its events pass on at once.
* Every other part is *held*: its ``PartStart``, ``PartDelta`` and ``PartStop`` events are kept,
  in their own order, until it becomes current.
* When the current part stops, the held parts are released in order of opening: a held part
  that already stopped comes out whole; the first that has not becomes current (its events so
  far come out, later ones pass on at once) and the parts opened after it stay held.
* ``MessageStop`` (and an explicit :meth:`PartSequencer.flush`) releases every held part in
  order, adding a ``PartStop(index)`` (no final part: the deltas are its value) to each part
  never stopped, the current one first; then ``MessageStop`` passes on.
* ``MessageStart``, ``MessageDelta`` and ``Ping`` pass on at once, even while parts are held.
* ``StreamError`` ends a failed stream: held parts are dropped (a failed answer is not
  completed), the current part is forgotten *without* a ``PartStop`` (the encoder knows which
  part it was writing: Anthropic leaves its block open, Responses its item, neither says it
  finished), and the error passes on. Later events of those parts are ignored.

Like :func:`apibridge.model.accumulate` and the encoders it feeds, the sequencer tolerates a
sloppy stream: a ``PartStart`` for an index already seen is ignored (the first one wins), a
``PartDelta`` or ``PartStop`` for an index never opened or already stopped is ignored, and a
``PartStop`` that carries a final ``part`` is passed on with it (the final value is
authoritative). Indexes are remembered for the sequencer's lifetime: use one per message.
Work per event is constant, except at a release, which passes on the released events.
"""

from __future__ import annotations

from typing import TypeAlias

from apibridge.model import Event, MessageStop, PartDelta, PartStart, PartStop, StreamError

__all__ = ["PartSequencer"]

_PartEvent: TypeAlias = PartStart | PartDelta | PartStop


class PartSequencer:
    """Canonical events in, the same events with parts never interleaved out.

    ``feed(event)`` returns the events to pass on now; ``flush()`` ends every part (see the
    module docstring).
    """

    __slots__ = ("_current", "_held", "_open", "_seen")

    def __init__(self) -> None:
        #: every index a ``PartStart`` opened (duplicates are ignored)
        self._seen: set[int] = set()
        #: indexes opened and not yet stopped (current or held)
        self._open: set[int] = set()
        #: the part whose events pass on at once
        self._current: int | None = None
        #: the other parts' events, by index, in order of opening (empty while none is current)
        self._held: dict[int, list[_PartEvent]] = {}

    def feed(self, event: Event) -> list[Event]:
        """The events to pass on after ``event`` (possibly none, possibly several)."""
        if isinstance(event, PartStart):
            return self._start(event)
        if isinstance(event, PartDelta | PartStop):
            if event.index not in self._open:
                return []  # never opened, or already stopped: ignored
            if event.index != self._current:
                if isinstance(event, PartStop):
                    self._open.discard(event.index)
                self._held[event.index].append(event)
                return []
            if isinstance(event, PartDelta):
                return [event]
            self._open.discard(event.index)
            self._current = None
            return [event, *self._release()]
        if isinstance(event, MessageStop):
            return [*self.flush(), event]
        if isinstance(event, StreamError):
            self._held.clear()
            self._open.clear()
            self._current = None
        return [event]

    def flush(self) -> list[Event]:
        """Every part still current or held, in order of opening, each ended by a ``PartStop``."""
        out: list[Event] = []
        while self._current is not None:
            out += self.feed(PartStop(index=self._current))
        return out

    def _start(self, event: PartStart) -> list[Event]:
        if event.index in self._seen:
            return []  # the first start of an index wins
        self._seen.add(event.index)
        self._open.add(event.index)
        if self._current is None:  # nothing is held either: the part passes on at once
            self._current = event.index
            return [event]
        self._held[event.index] = [event]
        return []

    def _release(self) -> list[Event]:
        """The held parts, in order, up to and including the first one not stopped yet (which
        becomes current)."""
        out: list[Event] = []
        while self._held:
            index = next(iter(self._held))
            out += self._held.pop(index)
            if index in self._open:
                self._current = index
                break
        return out
