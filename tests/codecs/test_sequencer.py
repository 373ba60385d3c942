"""The part sequencer (``codecs._sequencer``): interleaved parts in, sequential parts out.

Unit cases for each rule of the module docstring, and a Hypothesis property: for any
interleaving of several parts' events, the output never interleaves, keeps each part's own
events in order, orders the parts by first opening and accumulates to the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from hypothesis import given
from hypothesis import strategies as st

from apibridge.codecs._sequencer import PartSequencer
from apibridge.errors import ApiError
from apibridge.model import (
    ContentPart,
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartDelta,
    PartStart,
    PartStop,
    Ping,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
    accumulate,
)

START = MessageStart(id="msg_1", model="m")


def call(index: int) -> PartStart:
    return PartStart(index=index, part=ToolCallPart(id=f"call_{index}", name="f", arguments=""))


def args(index: int, value: str) -> PartDelta:
    return PartDelta(index=index, field="arguments", value=value)


def run(events: Iterable[Event]) -> list[Event]:
    """Every event fed to one sequencer, the outputs joined."""
    sequencer = PartSequencer()
    return [out for event in events for out in sequencer.feed(event)]


# ------------------------------------------------------------------------------ unit cases


def test_sequential_parts_pass_on_at_once() -> None:
    events: list[Event] = [
        START,
        PartStart(index=0, part=TextPart(text="")),
        PartDelta(index=0, field="text", value="hi"),
        PartStop(index=0),
        call(1),
        args(1, "{}"),
        PartStop(index=1),
        MessageDelta(stop_reason="tool_use"),
        MessageStop(),
    ]
    sequencer = PartSequencer()
    for event in events:
        assert sequencer.feed(event) == [event]


def test_parallel_calls_are_held_until_the_current_one_stops() -> None:
    sequencer = PartSequencer()
    assert sequencer.feed(call(0)) == [call(0)]
    assert sequencer.feed(call(1)) == []
    assert sequencer.feed(args(0, '{"a"')) == [args(0, '{"a"')]
    assert sequencer.feed(args(1, '{"b"')) == []
    assert sequencer.feed(args(0, ":1}")) == [args(0, ":1}")]
    assert sequencer.feed(args(1, ":2")) == []
    assert sequencer.feed(PartStop(index=0)) == [
        PartStop(index=0),
        call(1),
        args(1, '{"b"'),
        args(1, ":2"),
    ]
    assert sequencer.feed(args(1, "}")) == [args(1, "}")]  # part 1 is current now
    assert sequencer.feed(PartStop(index=1)) == [PartStop(index=1)]


def test_a_held_part_that_stopped_comes_out_whole() -> None:
    final = ToolCallPart(id="call_1", name="f", arguments='{"b":2}')
    sequencer = PartSequencer()
    sequencer.feed(call(0))
    sequencer.feed(call(1))
    sequencer.feed(call(2))
    assert sequencer.feed(args(1, "{")) == []
    assert sequencer.feed(PartStop(index=1, part=final)) == []
    assert sequencer.feed(args(2, "[")) == []
    assert sequencer.feed(PartStop(index=0)) == [
        PartStop(index=0),
        call(1),
        args(1, "{"),
        PartStop(index=1, part=final),  # the final part is kept: it is authoritative
        call(2),
        args(2, "["),
    ]
    assert sequencer.feed(args(2, "]")) == [args(2, "]")]


def test_only_the_parts_up_to_the_next_unfinished_one_are_released() -> None:
    sequencer = PartSequencer()
    for index in range(3):
        sequencer.feed(call(index))
    sequencer.feed(PartStop(index=2))
    assert sequencer.feed(PartStop(index=0)) == [PartStop(index=0), call(1)]
    assert sequencer.feed(args(1, "x")) == [args(1, "x")]
    assert sequencer.feed(PartStop(index=1)) == [PartStop(index=1), call(2), PartStop(index=2)]


def test_message_stop_ends_every_part_in_order_of_opening() -> None:
    final = ToolCallPart(id="call_2", name="f", arguments="{}")
    sequencer = PartSequencer()
    for index in range(3):
        sequencer.feed(call(index))
    sequencer.feed(args(1, "{"))
    sequencer.feed(PartStop(index=2, part=final))
    assert sequencer.feed(MessageStop()) == [
        PartStop(index=0),
        call(1),
        args(1, "{"),
        PartStop(index=1),
        call(2),
        PartStop(index=2, part=final),
        MessageStop(),
    ]


def test_flush_ends_every_part_and_leaves_nothing_held() -> None:
    sequencer = PartSequencer()
    sequencer.feed(call(0))
    sequencer.feed(call(1))
    sequencer.feed(args(1, "{}"))
    assert sequencer.flush() == [PartStop(index=0), call(1), args(1, "{}"), PartStop(index=1)]
    assert sequencer.flush() == []
    assert sequencer.feed(args(0, "late")) == []  # both parts are stopped now
    assert sequencer.feed(MessageStop()) == [MessageStop()]


def test_flush_with_no_part_is_empty() -> None:
    assert PartSequencer().flush() == []


def test_a_repeated_start_is_ignored() -> None:
    sequencer = PartSequencer()
    assert sequencer.feed(call(0)) == [call(0)]
    assert sequencer.feed(PartStart(index=0, part=TextPart(text="other"))) == []
    sequencer.feed(call(1))
    assert sequencer.feed(call(1)) == []  # held: still one start
    assert sequencer.feed(PartStop(index=0)) == [PartStop(index=0), call(1)]
    sequencer.feed(PartStop(index=1))
    assert sequencer.feed(call(0)) == []  # even once the index is stopped


def test_events_of_unknown_or_stopped_parts_are_ignored() -> None:
    sequencer = PartSequencer()
    assert sequencer.feed(args(5, "x")) == []
    assert sequencer.feed(PartStop(index=5)) == []
    sequencer.feed(call(0))
    sequencer.feed(call(1))
    sequencer.feed(PartStop(index=1))
    assert sequencer.feed(args(1, "after its stop")) == []
    assert sequencer.feed(PartStop(index=1)) == []
    assert sequencer.feed(PartStop(index=0)) == [PartStop(index=0), call(1), PartStop(index=1)]
    assert sequencer.feed(args(0, "after its stop")) == []
    assert sequencer.feed(PartStop(index=0)) == []
    assert sequencer.feed(MessageStop()) == [MessageStop()]


def test_message_events_pass_on_while_parts_are_held() -> None:
    delta = MessageDelta(stop_reason="tool_use", usage=Usage(output_tokens=3))
    sequencer = PartSequencer()
    sequencer.feed(call(0))
    sequencer.feed(call(1))
    sequencer.feed(args(1, "{}"))
    assert sequencer.feed(Ping()) == [Ping()]
    assert sequencer.feed(delta) == [delta]
    assert sequencer.feed(START) == [START]
    assert sequencer.feed(PartStop(index=0)) == [PartStop(index=0), call(1), args(1, "{}")]


def test_a_stream_error_drops_the_held_parts() -> None:
    error = StreamError(error=ApiError.of("api_error", "boom"))
    sequencer = PartSequencer()
    sequencer.feed(call(0))
    sequencer.feed(call(1))
    sequencer.feed(args(1, "{}"))
    # No PartStop for the current part: the encoder decides what to do with it.
    assert sequencer.feed(error) == [error]
    assert sequencer.feed(args(0, "x")) == []
    assert sequencer.feed(PartStop(index=1)) == []
    assert sequencer.feed(call(1)) == []
    assert sequencer.feed(MessageStop()) == [MessageStop()]


def test_a_stream_error_with_no_part_passes_on() -> None:
    error = StreamError(error=ApiError.of("api_error", "boom"))
    assert run([START, error]) == [START, error]


# -------------------------------------------------------------------------------- property

_TEXT = st.text(alphabet='ab{}"é', max_size=3)


@st.composite
def _part_events(draw: st.DrawFn) -> list[Event]:
    """One part's own events, in order, with a placeholder index (fixed at opening)."""
    kind = draw(st.sampled_from(["text", "tool", "thinking"]))
    start: ContentPart
    field: Literal["text", "arguments", "thinking"]
    if kind == "text":
        start, field = TextPart(text=draw(_TEXT)), "text"
    elif kind == "tool":
        start, field = ToolCallPart(id="call", name="f", arguments=draw(_TEXT)), "arguments"
    else:
        start, field = ThinkingPart(text=draw(_TEXT)), "thinking"
    events: list[Event] = [PartStart(index=-1, part=start)]
    events += [
        PartDelta(index=-1, field=field, value=value) for value in draw(st.lists(_TEXT, max_size=4))
    ]
    stop = draw(st.sampled_from(["never", "plain", "final"]))
    if stop == "plain":
        events.append(PartStop(index=-1))
    elif stop == "final":  # a final value that differs from what the deltas said
        events.append(PartStop(index=-1, part=TextPart(text="final")))
    return events


_OTHER: Sequence[Event] = (Ping(), MessageDelta(stop_reason="end_turn"), MessageDelta())


@st.composite
def _interleaved(draw: st.DrawFn) -> list[Event]:
    """Several parts' events, interleaved at random (each part's own order kept), message
    events among them; indexes count 0, 1 … in order of opening."""
    parts = draw(st.lists(_part_events(), max_size=4))
    others = draw(st.lists(st.sampled_from(_OTHER), max_size=3))
    turns = [p for p, events in enumerate(parts) for _ in events] + [-1] * len(others)
    turns = draw(st.permutations(turns))
    cursors = [0] * len(parts)
    index: dict[int, int] = {}
    stream: list[Event] = [START]
    for turn in turns:
        if turn < 0:
            stream.append(others.pop())
            continue
        event = parts[turn][cursors[turn]]
        cursors[turn] += 1
        index.setdefault(turn, len(index))  # a part's first event is its start
        assert isinstance(event, PartStart | PartDelta | PartStop)
        stream.append(_at(event, index[turn]))
    return stream


def _at(event: PartStart | PartDelta | PartStop, index: int) -> Event:
    if isinstance(event, PartStart):
        return PartStart(index=index, part=event.part)
    if isinstance(event, PartDelta):
        return PartDelta(index=index, field=event.field, value=event.value)
    return PartStop(index=index, part=event.part)


def _of(events: Iterable[Event], index: int) -> list[Event]:
    return [
        e for e in events if isinstance(e, PartStart | PartDelta | PartStop) and e.index == index
    ]


@given(_interleaved(), st.booleans())
def test_interleaved_parts_come_out_one_after_another(stream: list[Event], stop: bool) -> None:
    sequencer = PartSequencer()
    out: list[Event] = []
    for event in stream:
        passed = sequencer.feed(event)
        if not isinstance(event, PartStart | PartDelta | PartStop):
            assert passed[-1:] == [event]  # message events pass on at once
        out += passed
    out += sequencer.feed(MessageStop()) if stop else sequencer.flush()

    # (1) parts never interleave: a part starts only once the previous one stopped
    current: int | None = None
    for event in out:
        if isinstance(event, PartStart):
            assert current is None
            current = event.index
        elif isinstance(event, PartDelta | PartStop):
            assert event.index == current
            if isinstance(event, PartStop):
                current = None
    assert current is None

    # (2) each part keeps its own events, in order, ended by a stop if it had none
    opened = [e.index for e in stream if isinstance(e, PartStart)]
    for index in opened:
        own = _of(stream, index)
        if not isinstance(own[-1], PartStop):
            own.append(PartStop(index=index))
        assert _of(out, index) == own

    # (3) parts come out in order of first opening
    assert [e.index for e in out if isinstance(e, PartStart)] == opened

    # (4) the answer is the same
    assert accumulate(out) == accumulate(stream)

    # and a sequential stream goes through unchanged
    assert run(out) == out
