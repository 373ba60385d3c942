"""Gemini content parts ⇄ canonical parts (``codecs/gemini/_parts.py``): every datum both
ways, thought signatures and their carriers, made call ids and result pairing, and what cannot
be carried reported. Written parts are checked with the SDK's ``types.Content``."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from google.genai import types

from apibridge.codecs._context import Context
from apibridge.codecs.envelope import dialect_extras, dialect_seal, open_envelope
from apibridge.codecs.gemini._parts import (
    Calls,
    carrier,
    decode_part,
    decode_parts,
    encode_parts,
    is_carrier,
)
from apibridge.codecs.gemini._wire import is_made_id, made_id
from apibridge.errors import InvalidPayload, UnsupportedFeature
from apibridge.model import (
    DocumentPart,
    ImagePart,
    RedactedThinkingPart,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

SIG = base64.b64encode(b"\x01\x02signature-bytes\xff").decode()
SIG2 = base64.b64encode(b"another one").decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(40))).decode()
PDF = base64.b64encode(b"%PDF-1.4 hello").decode()


def sdk_valid(role: str, parts: list[dict[str, Any]]) -> types.Content:
    """The SDK's own reading of a content we wrote (raises when it is not valid)."""
    return types.Content.model_validate({"role": role, "parts": parts})


def trip(role: str, parts: list[dict[str, Any]]) -> tuple[list[Any], list[dict[str, Any]], Context]:
    calls = Calls()
    decoded = decode_parts(parts, "contents[0].parts", calls=calls, turn=0)
    ctx = Context()
    encoded = encode_parts(decoded, ctx, "contents[0].parts", names=calls.names)
    sdk_valid(role, encoded)
    return decoded, encoded, ctx


# ------------------------------------------------------------------------------ decoding


def test_text_and_thought_parts() -> None:
    parts = decode_parts(
        [
            {"text": "hello"},
            {"text": "pondering", "thought": True, "thoughtSignature": SIG},
            {"text": "summary only", "thought": True},
        ],
        "p",
    )
    assert parts[0] == TextPart(text="hello")
    assert isinstance(parts[1], ThinkingPart)
    assert parts[1].text == "pondering"
    assert parts[1].extras == {"gemini": {"_signature": SIG}}
    assert isinstance(parts[2], ThinkingPart)
    assert parts[2].extras == {"gemini": {"_thought": True}}
    assert not is_carrier(parts[1])
    assert not is_carrier(parts[2])


def test_signature_on_a_call_is_a_carrier_before_it_and_stays_on_a_text() -> None:
    call = decode_part(
        {"functionCall": {"name": "read", "args": {"p": "a"}}, "thoughtSignature": SIG}, "p"
    )
    assert [type(p) for p in call] == [ThinkingPart, ToolCallPart]
    assert is_carrier(call[0])
    assert call[0].extras["gemini"]["_signature"] == SIG
    # a text's signature stays on the text: a thinking block after it would end a Claude
    # client's answer (Claude Code reports the last block); other formats report it lost
    text = decode_part({"text": "done", "thoughtSignature": SIG}, "p")
    assert text == [TextPart(text="done", extras={"gemini": {"thoughtSignature": SIG}})]
    alone_after_text = decode_parts(
        [{"text": "done"}, {"text": "", "thoughtSignature": SIG}], "parts"
    )
    signed = {"thoughtSignature": SIG, "_signature_alone": True}  # written back alone
    assert alone_after_text == [TextPart(text="done", extras={"gemini": signed})]
    alone = decode_part({"text": "", "thoughtSignature": SIG}, "p")
    assert len(alone) == 1
    assert is_carrier(alone[0])
    assert alone[0].extras["gemini"]["_alone"]


def test_function_call_ids_own_random_and_positional() -> None:
    own = decode_part({"functionCall": {"id": "abc", "name": "f", "args": {}}}, "p")[0]
    assert isinstance(own, ToolCallPart)
    assert own.id == "abc"
    assert own.arguments == "{}"
    random1 = decode_part({"functionCall": {"name": "f"}}, "p")[0]
    random2 = decode_part({"functionCall": {"name": "f"}}, "p")[0]
    assert isinstance(random1, ToolCallPart)
    assert isinstance(random2, ToolCallPart)
    assert is_made_id(random1.id)
    assert random1.id != random2.id
    history = [{"functionCall": {"name": "f", "args": {"x": 1}}}] * 2
    first = decode_parts(history, "p", calls=Calls(), turn=3)
    again = decode_parts(history, "p", calls=Calls(), turn=3)
    assert [p.id for p in first] == [p.id for p in again] == [made_id("3_0"), made_id("3_1")]


def test_results_pair_with_calls_by_name_and_order() -> None:
    calls = Calls()
    model = decode_parts(
        [
            {"functionCall": {"name": "read", "args": {"p": "a"}}},
            {"functionCall": {"name": "list", "args": {}}},
            {"functionCall": {"name": "read", "args": {"p": "b"}}},
        ],
        "contents[1].parts",
        calls=calls,
        turn=1,
    )
    user = decode_parts(
        [
            {"functionResponse": {"name": "list", "response": {"output": "x"}}},
            {"functionResponse": {"name": "read", "response": {"output": "A"}}},
            {"functionResponse": {"name": "read", "response": {"output": "B"}}},
        ],
        "contents[2].parts",
        calls=calls,
        turn=2,
    )
    ids = [p.id for p in model if isinstance(p, ToolCallPart)]
    results = [p for p in user if isinstance(p, ToolResultPart)]
    assert [r.call_id for r in results] == [ids[1], ids[0], ids[2]]
    assert [r.text for r in results] == ["x", "A", "B"]
    assert calls.names == {ids[0]: "read", ids[1]: "list", ids[2]: "read"}


def test_results_with_ids_and_orphans() -> None:
    calls = Calls()
    decode_parts([{"functionCall": {"id": "c1", "name": "f"}}], "p", calls=calls, turn=1)
    (paired,) = decode_parts(
        [{"functionResponse": {"id": "c1", "name": "f", "response": {"output": "ok"}}}],
        "p",
        calls=calls,
        turn=2,
    )
    assert isinstance(paired, ToolResultPart)
    assert paired.call_id == "c1"
    (orphan,) = decode_parts(
        [{"functionResponse": {"name": "f", "response": {"output": "late"}}}],
        "p",
        calls=calls,
        turn=3,
    )
    assert isinstance(orphan, ToolResultPart)
    assert is_made_id(orphan.call_id)


@pytest.mark.parametrize(
    ("response", "text", "is_error"),
    [
        ({"output": "plain"}, "plain", False),
        ({"output": {"rows": [1, 2]}}, '{"rows":[1,2]}', False),
        ({"error": "no such file"}, "no such file", True),
        ({"error": {"code": 2}}, '{"code":2}', True),
        ({"temperature": 21, "unit": "C"}, '{"temperature":21,"unit":"C"}', False),
        ({}, "{}", False),
    ],
)
def test_function_response_shapes(response: dict[str, Any], text: str, is_error: bool) -> None:
    raw = {"functionResponse": {"id": "c", "name": "f", "response": response}}
    (part,) = decode_part(raw, "p")
    assert isinstance(part, ToolResultPart)
    assert part.text == text
    assert part.is_error is is_error
    out = encode_parts([part], Context(), "p", names={"c": "f"})
    assert out == [raw]  # the same shape goes back


def test_media_parts() -> None:
    urlsafe = base64.urlsafe_b64encode(b"\xfb\xff\xfe" * 10).decode()
    parts = decode_parts(
        [
            {"inlineData": {"mimeType": "image/png", "data": PNG}},
            {"inlineData": {"mimeType": "application/pdf", "data": PDF, "displayName": "a.pdf"}},
            {"inlineData": {"mimeType": "image/jpeg", "data": urlsafe}},
            {"fileData": {"mimeType": "image/webp", "fileUri": "gs://b/x.webp"}},
            {"file_data": {"mime_type": "video/mp4", "file_uri": "https://y/v.mp4"}},
        ],
        "p",
    )
    assert parts[0] == ImagePart(media_type="image/png", data=PNG)
    assert parts[1] == DocumentPart(media_type="application/pdf", data=PDF, filename="a.pdf")
    assert isinstance(parts[2], ImagePart)
    assert parts[2].data is not None
    assert base64.b64decode(parts[2].data, validate=True) == b"\xfb\xff\xfe" * 10
    assert parts[3] == ImagePart(url="gs://b/x.webp", media_type="image/webp")
    assert parts[4] == DocumentPart(url="https://y/v.mp4", media_type="video/mp4")


def test_server_side_and_unknown_parts_ride_whole() -> None:
    code = {"executableCode": {"language": "PYTHON", "code": "print(1)"}, "thoughtSignature": SIG}
    result = {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}}
    future = {"hologram": {"id": "h1", "depth": 3}}
    parts = decode_parts([code, result, future], "p")
    assert all(isinstance(p, ServerToolPart) and p.source_format == "gemini" for p in parts)
    assert [p.kind for p in parts if isinstance(p, ServerToolPart)] == [
        "executableCode",
        "codeExecutionResult",
        "hologram",
    ]
    assert parts[0].tool == "code_execution"
    assert parts[2].id == "h1"
    assert encode_parts(parts, Context(), "p") == [code, result, future]


def test_snake_case_parts_are_read() -> None:
    parts = decode_parts(
        [
            {"text": "t", "thought": True, "thought_signature": SIG},
            {"function_call": {"name": "f", "args": {"a": 1}}, "thought_signature": SIG2},
            {"inline_data": {"mime_type": "image/png", "data": PNG}},
        ],
        "p",
    )
    assert isinstance(parts[0], ThinkingPart)
    assert parts[0].extras["gemini"]["_signature"] == SIG
    assert is_carrier(parts[1])
    assert isinstance(parts[2], ToolCallPart)
    assert parts[2].arguments == '{"a":1}'
    assert isinstance(parts[3], ImagePart)
    assert parts[3].media_type == "image/png"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "a part needs a datum"),
        ({"text": 3}, "p.text: expected a string"),
        ({"functionCall": {"args": {}}}, "p.functionCall.name: missing"),
        ({"functionCall": {"name": "f", "args": [1]}}, "p.functionCall.args: expected an object"),
        ({"functionResponse": {"name": "f", "response": "x"}}, "response: expected an object"),
        ({"inlineData": {"mimeType": "image/png"}}, "p.inlineData.data: missing"),
        ({"text": "a", "thoughtSignature": 5}, "p.thoughtSignature: expected a string"),
        ("text", "p: expected an object"),
    ],
)
def test_bad_parts_are_clear_errors(raw: Any, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        decode_part(raw, "p")


# ------------------------------------------------------------------------------ round trips


ROUND_TRIPS: list[tuple[str, list[dict[str, Any]]]] = [
    ("user", [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]),
    ("user", [{"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/a.pdf"}}]),
    (
        "model",
        [
            {"text": "let me think", "thought": True, "thoughtSignature": SIG},
            {"text": "I will read it."},
            {"functionCall": {"name": "read", "args": {"path": "a"}}, "thoughtSignature": SIG2},
            {"functionCall": {"name": "read", "args": {"path": "b"}}},
        ],
    ),
    ("model", [{"text": "The answer is 4.", "thoughtSignature": SIG}]),
    ("model", [{"text": "one"}, {"text": "two", "thoughtSignature": SIG}]),
    # a signed text right before a call: the carrier must go back to the text
    (
        "model",
        [
            {"text": "x", "thoughtSignature": SIG},
            {"functionCall": {"id": "id-1", "name": "f", "args": {}}},
        ],
    ),
    # a signed text and a signed call in a row
    (
        "model",
        [
            {"text": "x", "thoughtSignature": SIG},
            {"functionCall": {"id": "id-1", "name": "f", "args": {}}, "thoughtSignature": SIG2},
        ],
    ),
    ("model", [{"text": "answer"}, {"text": "", "thoughtSignature": SIG}]),
    (
        "model",
        [
            {"text": "media", "videoMetadata": {"fps": 2}},
            {
                "inlineData": {"mimeType": "image/png", "data": PNG},
                "thoughtSignature": SIG,
                "mediaResolution": {"level": "MEDIA_RESOLUTION_HIGH"},
            },
        ],
    ),
    (
        "user",
        [
            {
                "functionResponse": {
                    "id": "c9",
                    "name": "shot",
                    "response": {"output": "see image"},
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}],
                }
            }
        ],
    ),
]


@pytest.mark.parametrize(("role", "parts"), ROUND_TRIPS)
def test_gemini_parts_round_trip_exactly(role: str, parts: list[dict[str, Any]]) -> None:
    calls = Calls()
    if role == "user" and any("functionResponse" in p for p in parts):
        calls.call("c9", "shot", "0_0")
    decoded = decode_parts(parts, "p", calls=calls, turn=0)
    ctx = Context()
    encoded = encode_parts(decoded, ctx, "p", names=calls.names)
    assert encoded == parts
    assert ctx.losses == []
    sdk_valid(role, encoded)


def test_made_ids_are_not_sent_and_results_take_the_call_name() -> None:
    decoded, encoded, ctx = trip(
        "model", [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG}]
    )
    (call,) = [p for p in decoded if isinstance(p, ToolCallPart)]
    assert is_made_id(call.id)
    assert encoded == [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG}]
    result = ToolResultPart(call_id=call.id, content=(TextPart(text="r"),))
    out = encode_parts([result], ctx, "p", names={call.id: "f"})
    assert out == [{"functionResponse": {"name": "f", "response": {"output": "r"}}}]


def test_carriers_back_from_an_envelope_fold_into_the_call() -> None:
    """A carrier that travelled through a Claude signature comes back without ``_after``: it
    signs the call after it (Gemini signs the first call of a step)."""
    sealed = dialect_seal(carrier(SIG).extras)
    assert sealed is not None
    envelope = open_envelope(sealed)
    assert envelope is not None
    back = ThinkingPart(signature=None, extras=dialect_extras(envelope))
    parts = [
        TextPart(text="Reading."),
        back,
        ToolCallPart(id="toolu_1", name="read", arguments='{"p":"a"}'),
    ]
    out = encode_parts(parts, Context(), "p")
    assert out == [
        {"text": "Reading."},
        {
            "functionCall": {"id": "toolu_1", "name": "read", "args": {"p": "a"}},
            "thoughtSignature": SIG,
        },
    ]
    sdk_valid("model", out)


def test_lone_carriers_become_signature_parts() -> None:
    out = encode_parts([carrier(SIG), carrier(SIG2, after=True)], Context(), "p")
    assert out == [{"text": "", "thoughtSignature": SIG}, {"text": "", "thoughtSignature": SIG2}]


# ------------------------------------------------------------------------------ losses


def test_what_gemini_cannot_hold_is_reported() -> None:
    ctx = Context()
    parts = [
        ThinkingPart(text="claude thinking", signature="EqQBCkYIBxgC"),
        ThinkingPart(text="chat reasoning"),
        RedactedThinkingPart(data="abc"),
        ImagePart(file_id="file-123"),
        TextPart(text="cached", cache_control={"type": "ephemeral"}),
        ServerToolPart(
            kind="web_search_call", raw={"type": "web_search_call"}, source_format="responses"
        ),
        ImagePart(url="https://x/y.png", detail="low"),
        TextPart(text="t", extras={"chat": {"logprobs": []}}),
    ]
    out = encode_parts(parts, ctx, "contents[1].parts")
    assert out == [
        {"text": "cached"},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://x/y.png"}},
        {"text": "t"},
    ]
    fields = [loss.field for loss in ctx.losses]
    assert fields == [
        "contents[1].parts[0]",
        "contents[1].parts[1]",
        "contents[1].parts[2]",
        "contents[1].parts[3]",
        "contents[1].parts[4].cache_control",
        "contents[1].parts[5]",
        "contents[1].parts[6].detail",
        "contents[1].parts[7].logprobs",
    ]
    with pytest.raises(UnsupportedFeature):
        encode_parts(parts[:1], Context(strict=True), "p")


def test_foreign_media_and_calls_are_written_the_gemini_way() -> None:
    ctx = Context()
    parts = [
        ImagePart(url="data:image/gif;base64,R0lGODlh"),
        ImagePart(data=PNG),  # no media type: sniffed
        DocumentPart(text="plain doc", title="T"),
        ToolCallPart(id="call_1", name="patch", arguments="*** Begin", kind="custom"),
        ToolCallPart(id="call_2", name="f", arguments="not json"),
        ToolResultPart(call_id="call_2", content=(TextPart(text="e"),), is_error=True),
    ]
    out = encode_parts(parts, ctx, "p", names={"call_2": "f"})
    assert out == [
        {"inlineData": {"mimeType": "image/gif", "data": "R0lGODlh"}},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"inlineData": {"mimeType": "text/plain", "data": base64.b64encode(b"plain doc").decode()}},
        {"functionCall": {"id": "call_1", "name": "patch", "args": {"input": "*** Begin"}}},
        {"functionCall": {"id": "call_2", "name": "f", "args": {}}},
        {"functionResponse": {"id": "call_2", "name": "f", "response": {"error": "e"}}},
    ]
    assert [loss.field for loss in ctx.losses] == ["p[2].title", "p[4].args"]
    sdk_valid("model", out[:5])


def test_a_result_whose_call_is_unknown_is_reported() -> None:
    ctx = Context()
    out = encode_parts([ToolResultPart(call_id="toolu_9", content=())], ctx, "p", names={})
    assert out == [
        {"functionResponse": {"id": "toolu_9", "name": "toolu_9", "response": {"output": ""}}}
    ]
    assert [loss.field for loss in ctx.losses] == ["p[0].name"]


# ------------------------------------------------------------------------------ answers


@pytest.mark.parametrize(
    "part",
    [
        ThinkingPart(text="claude thinks", signature="EqQBCkYIBxgCKkBsig+/=="),
        RedactedThinkingPart(data="EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"),
        ThinkingPart(text="", encrypted_content="gAAAAABo-enc/+==", id="rs_68af"),
        ThinkingPart(encrypted_content="gAAAAAB", id="rs_1", summary=("o3 summary",)),
        ThinkingPart(text="deepseek", extras={"chat": {"_think": True}}),
    ],
)
def test_other_models_reasoning_rides_in_the_signature_of_a_thought(part: Any) -> None:
    """An answer to a Gemini client shows another model's reasoning as a thought part whose
    signature holds it (base64: the SDK insists); the client sends it back, URL-safe, and it
    decodes into that model's own part, byte for byte."""
    ctx = Context()
    (wire,) = encode_parts([part], ctx, "candidates[0].content.parts", answer=True)
    assert ctx.losses == []
    assert wire["thought"] is True
    # what google-genai keeps and sends back: bytes, re-encoded URL-safe
    sdk_part = types.Part.model_validate(wire)
    assert isinstance(sdk_part.thought_signature, bytes)
    echoed = base64.urlsafe_b64encode(sdk_part.thought_signature).decode()
    back = decode_part({**wire, "thoughtSignature": echoed}, "p")
    (decoded,) = back
    if isinstance(part, RedactedThinkingPart):
        assert decoded == part
    else:
        assert isinstance(decoded, ThinkingPart)
        assert (decoded.signature, decoded.encrypted_content, decoded.id) == (
            part.signature,
            part.encrypted_content,
            part.id,
        )
        assert decoded.text == (part.text or "\n\n".join(part.summary))
        assert decoded.extras.get("chat") == part.extras.get("chat")


def test_unsigned_reasoning_is_a_plain_thought_in_answers_and_lost_in_requests() -> None:
    part = ThinkingPart(text="plain reasoning")
    assert encode_parts([part], Context(), "p", answer=True) == [
        {"text": "plain reasoning", "thought": True}
    ]
    ctx = Context()
    assert encode_parts([part, RedactedThinkingPart(data="x")], ctx, "p") == []
    assert [loss.field for loss in ctx.losses] == ["p[0]", "p[1]"]


def test_a_gemini_signature_is_not_taken_for_an_envelope() -> None:
    for raw in (b"abr", b"abr0.x", b"\x00" * 12, b"abr1.not base64 json"):
        signature = base64.b64encode(raw).decode()
        (part,) = decode_part({"text": "t", "thought": True, "thoughtSignature": signature}, "p")
        assert isinstance(part, ThinkingPart)
        assert part.extras == {"gemini": {"_signature": signature}}


def test_a_candidate_without_content_has_no_parts() -> None:
    """A candidate stopped by SAFETY has no ``content``: the answer half passes ``()``."""
    assert decode_parts((), "candidates[0].content.parts") == []
    with pytest.raises(InvalidPayload, match="expected an array"):
        decode_parts({"text": "x"}, "candidates[0].content.parts")
