"""Gemini content parts ⇄ canonical content parts, both directions (requests and answers).

Theory of operation
-------------------
A Gemini ``Part`` holds one datum (``text``, ``inlineData``, ``fileData``, ``functionCall``,
``functionResponse``, ``executableCode``, ``codeExecutionResult``, ``toolCall``,
``toolResponse``) plus metadata (``thought``, ``thoughtSignature``, ``videoMetadata``,
``mediaResolution``, ``partMetadata`` …). Decoding maps the datum:

* ``text`` → :class:`TextPart`; with ``thought: true`` → :class:`ThinkingPart` (its signature,
  if any, in ``extras["gemini"]["_signature"]``; one without a signature is marked
  ``_thought`` so that a Gemini trip sends it back);
* ``inlineData`` → :class:`ImagePart` (``image/*``) or :class:`DocumentPart` (else; filename:
  ``displayName``), base64 made standard (the SDK's is URL-safe); ``fileData``: with ``url``;
* ``functionCall`` → :class:`ToolCallPart` (its own id, else a made one: ``_wire.made_id``);
* ``functionResponse`` → :class:`ToolResultPart`: ``{"output": x}`` gives ``x`` as text
  (JSON text when not a string), ``{"error": x}`` an error result, any other object its JSON
  text; ``parts`` (media) become image and document parts of the result. A JSON text is
  marked (``_json``) so that the encoder sends the value back as it came;
* ``executableCode``, ``codeExecutionResult``, ``toolCall``, ``toolResponse`` and any datum this
  version does not know → :class:`ServerToolPart` (``source_format`` ``gemini``, ``raw`` the
  whole part): carried to Gemini as it came, reported lost by the other formats.

A text's ``thoughtSignature`` (on it, or alone right after it) stays on the text, an ordinary
field of ``extras["gemini"]`` that other formats report lost (a thinking block after the text
would end a Claude client's answer). On another part it becomes a *carrier* (``_signatures``):
a thinking part with no text before the call it signed, after the media it signed (``_after``),
or alone (``_alone``). Other metadata rides in the part's ``extras["gemini"]``.

Another model's reasoning reaches a Gemini client (``answer=True``) as a thought part whose
``thoughtSignature`` is the base64 reasoning envelope (``_signatures``); in a request's history
it decodes back into that model's own part, so that it returns to its upstream exactly.

Encoding reverses this: a carrier folds into the call after it, else into the part before it,
else is an empty text part. Thinking without a Gemini signature is not sent (a loss), nor are
made call ids. A tool result's ``name`` is its call's, which the caller looks up.

Function calls without ids are tracked by ``_calls.Calls`` over one request's history: a call
gets an id made from its position (message, call), and a ``functionResponse`` without an id
is paired with the first unanswered call of the same name (Gemini answers calls in order).
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any, Final

from apibridge import _json
from apibridge.codecs._context import (
    Context,
    expect_list,
    expect_obj,
    expect_str,
    opt_bool,
    opt_str,
    part_words,
)
from apibridge.codecs._custom_tools import wrap_input
from apibridge.codecs.envelope import (
    gemini_signature,
)
from apibridge.codecs.gemini._calls import Calls, call_names
from apibridge.codecs.gemini._signatures import (
    ALONE,
    TEXT_SIGNATURE,
    answer_signature,
    carrier,
    fold,
    foreign_thought,
    is_carrier,
    opened_signature,
    signature_of,
    signed_text,
    signs_text,
    std_base64,
)
from apibridge.codecs.gemini._wire import FORMAT, field, is_made_id, made_id, snake
from apibridge.errors import InvalidPayload
from apibridge.model import (
    ContentPart,
    DocumentPart,
    Extras,
    ImagePart,
    RedactedThinkingPart,
    RefusalPart,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "TEXT_SIGNATURE",
    "Calls",
    "answer_signature",
    "call_names",
    "carrier",
    "decode_part",
    "decode_parts",
    "encode_parts",
    "is_carrier",
    "opened_signature",
    "signature_of",
    "std_base64",
]

#: the data fields of a part apibridge maps (camelCase), in the order they are looked for.
_MAPPED: Final = (
    "text",
    "functionCall",
    "functionResponse",
    "inlineData",
    "fileData",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
)

#: a part's fields that describe its datum rather than being one (kept in extras as they came).
_METADATA: Final = frozenset(
    {
        "thought",
        "thoughtSignature",
        "videoMetadata",
        "partMetadata",
        "mediaResolution",
        "mediaProcessing",
        "speechMetadata",
        "documentMetadata",
        "spreadsheetMetadata",
        "audioMetadata",
    }
)
_METADATA_KEYS: Final = _METADATA | frozenset(snake(k) for k in _METADATA)

#: server-side data kinds → the canonical tool they belong to.
_SERVER_TOOLS: Final[Mapping[str, str]] = {
    "executableCode": "code_execution",
    "codeExecutionResult": "code_execution",
}


# ------------------------------------------------------------------------------ call ids


# ------------------------------------------------------------------------------ decoding


def _datum(obj: Mapping[str, Any]) -> str | None:
    """The camelCase name of the part's datum field, or ``None`` when it has none."""
    for name in _MAPPED:
        if field(obj, name) is not None:
            return name
    for key in obj:
        if key not in _METADATA_KEYS:
            return key
    return None


def _rest(obj: Mapping[str, Any], consumed: Sequence[str]) -> dict[str, Any]:
    """The part's fields outside ``consumed`` (camelCase names, either spelling skipped)."""
    skip = set(consumed) | {snake(name) for name in consumed}
    return {k: v for k, v in obj.items() if k not in skip}


def _wrap(fields: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {FORMAT: dict(fields)} if fields else {}


def decode_parts(
    raw: Any,
    where: str,
    *,
    calls: Calls | None = None,
    turn: int | None = None,
) -> list[ContentPart]:
    """A ``Content``'s ``parts`` as canonical parts. With ``calls`` (a request's history) call
    ids are made from ``turn`` and the call's rank and results paired; without (an answer) a
    call without an id gets a random one."""
    out: list[ContentPart] = []
    rank = 0
    items = raw if isinstance(raw, tuple) else expect_list(raw, where)  # () for no content
    for i, item in enumerate(items):
        position = f"{turn}_{rank}" if turn is not None else None
        decoded = decode_part(item, f"{where}[{i}]", calls=calls, position=position)
        for part in decoded:
            if isinstance(part, ToolCallPart | ToolResultPart):
                rank += 1
        if len(decoded) == 1 and out and signs_text(decoded[0], out[-1]):
            # a signature alone right after a text (Gemini 3 ends answers so) signs that text
            last = out[-1]
            assert isinstance(last, TextPart)
            out[-1] = signed_text(last, signature_of(decoded[0]))
            continue
        out.extend(decoded)
    return out


def decode_part(
    raw: Any, where: str, *, calls: Calls | None = None, position: str | None = None
) -> list[ContentPart]:
    """One Gemini part as canonical parts: its datum, and a carrier for a signature it bore
    (before a function call, after anything else). ``position`` names the part's place in a
    request's history (made ids); ``None`` in an answer."""
    obj = expect_obj(raw, where)
    signature = opt_str(field(obj, "thoughtSignature"), f"{where}.thoughtSignature")
    thought = opt_bool(field(obj, "thought"), f"{where}.thought")
    name = _datum(obj)
    if thought and name in (None, "text"):
        text = opt_str(field(obj, "text"), f"{where}.text") or ""
        hints = _rest(obj, ("text", "thought", "thoughtSignature"))
        envelope = opened_signature(signature)
        if envelope is not None:
            return [foreign_thought(text, envelope, hints)]
        if signature is not None:
            hints["_signature"] = signature
        else:
            hints["_thought"] = True
        return [ThinkingPart(text=text, extras={FORMAT: hints})]
    only_signature = not _rest(obj, ("text", "thoughtSignature")) and not field(obj, "text")
    if name is None or (name == "text" and only_signature and signature is not None):
        # a signature alone (Gemini ends some answers so): the carrier alone
        if signature is not None and only_signature:
            return [carrier(signature, alone=True)]
        if not _rest(obj, ("thoughtSignature",)):
            raise InvalidPayload(
                f"{where}: a part needs a datum (text, inlineData, functionCall …)"
            )
        return _unknown(obj, name)
    consumed = (name, "thoughtSignature") if not thought else (name, "thought", "thoughtSignature")
    if name == "functionCall":
        part: ContentPart = _call(obj, where, calls, position)
        return [part] if signature is None else [carrier(signature), part]
    if name == "text":
        # a text's signature stays on it (``TEXT_SIGNATURE``, an ordinary field: Gemini does not
        # require it back, and a format without a place for it reports it lost), never a
        # thinking block after the text, which would end a Claude client's answer
        part = TextPart(
            text=expect_str(field(obj, "text"), f"{where}.text"), extras=_wrap(_rest(obj, (name,)))
        )
        return [part]
    elif name == "functionResponse":
        part = _result(obj, where, calls, position)
    elif name in ("inlineData", "fileData"):
        part = _media(obj, name, where, _rest(obj, consumed))
    else:
        return _unknown(obj, name)
    return [part] if signature is None else [part, carrier(signature, after=True)]


def _unknown(obj: Mapping[str, Any], name: str | None) -> list[ContentPart]:
    """A part whose datum is server-side or unknown: carried whole (signature included)."""
    kind = name or "part"
    inner = field(obj, kind)
    ident = field(inner, "id") if isinstance(inner, Mapping) else None
    return [
        ServerToolPart(
            kind=kind,
            raw=dict(obj),
            source_format=FORMAT,
            tool=_SERVER_TOOLS.get(kind),
            id=ident if isinstance(ident, str) else None,
        )
    ]


def _call(
    obj: Mapping[str, Any], where: str, calls: Calls | None, position: str | None
) -> ToolCallPart:
    here = f"{where}.functionCall"
    call = expect_obj(field(obj, "functionCall"), here)
    name = expect_str(call.get("name"), f"{here}.name")
    ident = opt_str(call.get("id"), f"{here}.id")
    args = call.get("args")
    if args is None:
        args = {}
    arguments = _json.dumps_str(expect_obj(args, f"{here}.args"))
    if calls is not None:
        call_id = calls.call(ident, name, position or "0_0")
    else:
        call_id = ident if ident else made_id(position)
    fields = _rest(obj, ("functionCall", "thoughtSignature"))
    nested = {k: v for k, v in call.items() if k not in ("name", "id", "args")}
    if nested:
        fields["functionCall"] = nested
    return ToolCallPart(id=call_id, name=name, arguments=arguments, extras=_wrap(fields))


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else _json.dumps_str(value)


def _result(
    obj: Mapping[str, Any], where: str, calls: Calls | None, position: str | None
) -> ToolResultPart:
    here = f"{where}.functionResponse"
    result = expect_obj(field(obj, "functionResponse"), here)
    name = expect_str(result.get("name"), f"{here}.name")
    ident = opt_str(result.get("id"), f"{here}.id")
    response = result.get("response")
    response = {} if response is None else expect_obj(response, f"{here}.response")
    hints: dict[str, Any] = {}
    is_error = False
    if set(response) == {"output"}:
        value = response["output"]
    elif set(response) == {"error"}:
        value, is_error = response["error"], True
    else:
        value = dict(response)
        hints["_json"] = "response"
    if not isinstance(value, str) and "_json" not in hints:
        hints["_json"] = "value"
    content: list[TextPart | ImagePart | DocumentPart] = [TextPart(text=_json_text(value))]
    media = field(result, "parts")
    if media is not None:
        for i, item in enumerate(expect_list(media, f"{here}.parts")):
            entry = expect_obj(item, f"{here}.parts[{i}]")
            kind = "inlineData" if field(entry, "inlineData") is not None else "fileData"
            content.append(_media(entry, kind, f"{here}.parts[{i}]", _rest(entry, (kind,))))
    if calls is not None:
        call_id = calls.result(ident, name, position or "0_0")
    else:
        call_id = ident if ident else made_id(position)
    hints.update(_rest(obj, ("functionResponse", "thoughtSignature")))
    nested = {k: v for k, v in result.items() if k not in ("name", "id", "response", "parts")}
    if nested:
        hints["functionResponse"] = nested
    return ToolResultPart(
        call_id=call_id, content=tuple(content), is_error=is_error, extras=_wrap(hints)
    )


def _media(
    obj: Mapping[str, Any], name: str, where: str, fields: dict[str, Any]
) -> ImagePart | DocumentPart:
    here = f"{where}.{name}"
    inner = expect_obj(field(obj, name), here)
    media = opt_str(field(inner, "mimeType"), f"{here}.mimeType")
    label = opt_str(field(inner, "displayName"), f"{here}.displayName")
    nested = _rest(inner, ("mimeType", "displayName", "data", "fileUri"))
    if nested:
        fields[name] = nested
    image = media is not None and media.startswith("image/")
    if image and label is not None:
        fields["_display_name"] = label
    if name == "inlineData":
        data = std_base64(expect_str(field(inner, "data"), f"{here}.data"))
        if image:
            return ImagePart(media_type=media, data=data, extras=_wrap(fields))
        return DocumentPart(media_type=media, data=data, filename=label, extras=_wrap(fields))
    uri = expect_str(field(inner, "fileUri"), f"{here}.fileUri")
    if image:
        return ImagePart(url=uri, media_type=media, extras=_wrap(fields))
    return DocumentPart(url=uri, media_type=media, filename=label, extras=_wrap(fields))


# ------------------------------------------------------------------------------ encoding


def _finish(out: dict[str, Any], extras: Extras, ctx: Context, where: str) -> dict[str, Any]:
    """``out`` with the part's own Gemini fields put back; other formats' fields reported."""
    own = extras.get(FORMAT)
    if own:
        for key, value in own.items():
            if key.startswith("_"):
                continue
            current = out.get(key)
            if isinstance(current, dict) and isinstance(value, Mapping):
                out[key] = {**value, **current}
            else:
                out.setdefault(key, value)
    ctx.lose_extras(extras, FORMAT, where)
    return out


def _marker(part: Any, ctx: Context, where: str) -> None:
    if getattr(part, "cache_control", None) is not None:
        ctx.lose(
            f"{where}.cache_control",
            "Gemini has no prompt-cache markers (it caches implicitly, or by cachedContent)",
        )


def encode_parts(
    parts: Sequence[ContentPart],
    ctx: Context,
    where: str,
    *,
    names: Mapping[str, str] | None = None,
    answer: bool = False,
    result_media: bool = True,
) -> list[dict[str, Any]]:
    """Canonical parts as Gemini parts, carriers folded into their neighbours; ``names`` maps
    call ids to function names (a tool result's ``name``). Parts Gemini cannot hold are
    reported and left out. ``answer``: the parts of an answer to a Gemini client, where
    another model's reasoning is a thought part signed with its envelope
    (:func:`answer_signature`) rather than left out. ``result_media`` false (models before
    Gemini 3, whose function responses hold no media): a tool result's images and documents
    go after the turn's other parts instead, reported."""
    out: list[dict[str, Any]] = []
    beside: list[dict[str, Any]] = []  # media of tool results, when results cannot hold them
    pending: str | None = None  # a carrier's signature waiting for the call that follows it
    for i, part in enumerate(parts):
        if is_carrier(part):
            if pending is not None:
                out.append({"text": "", "thoughtSignature": pending})
            following = parts[i + 1] if i + 1 < len(parts) else None
            pending = fold(part, out, following)
            continue
        encoded = encode_part(part, ctx, f"{where}[{i}]", names=names, answer=answer)
        if pending is not None:
            if encoded is not None and "functionCall" in encoded:
                encoded.setdefault("thoughtSignature", pending)
            else:
                out.append({"text": "", "thoughtSignature": pending})
            pending = None
        if encoded is not None:
            out.append(encoded)
            if isinstance(part, TextPart) and part.extras.get(FORMAT, {}).get(ALONE):
                signature = encoded.pop(TEXT_SIGNATURE, None)
                if signature is not None:
                    out.append({"text": "", TEXT_SIGNATURE: signature})
            response = encoded.get("functionResponse")
            if not result_media and isinstance(response, dict) and "parts" in response:
                ctx.lose(
                    f"{where}[{i}].content",
                    "this model's function responses hold no images or documents (Gemini 3's do)",
                    "sent after the function responses",
                )
                beside.extend(response.pop("parts"))
    if pending is not None:
        out.append({"text": "", "thoughtSignature": pending})
    return out + beside


def encode_part(
    part: ContentPart,
    ctx: Context,
    where: str,
    *,
    names: Mapping[str, str] | None = None,
    answer: bool = False,
) -> dict[str, Any] | None:
    """One canonical part (not a carrier) as a Gemini part, or ``None`` with a loss
    (``answer``: see :func:`encode_parts`)."""
    if isinstance(part, TextPart):
        _marker(part, ctx, where)
        if part.citations:
            ctx.lose(f"{where}.citations", "Gemini parts hold no citations")
        return _finish({"text": part.text}, part.extras, ctx, where)
    if isinstance(part, ThinkingPart):
        return _thinking(part, ctx, where, answer=answer)
    if isinstance(part, ToolCallPart):
        return _encode_call(part, ctx, where)
    if isinstance(part, ToolResultPart):
        return _encode_result(part, ctx, where, names)
    if isinstance(part, ImagePart | DocumentPart):
        return _encode_media(part, ctx, where)
    if isinstance(part, RefusalPart):
        ctx.lose(where, "Gemini has no refusal part", "sent as text")
        return _finish({"text": part.text}, part.extras, ctx, where)
    if isinstance(part, ServerToolPart) and part.source_format == FORMAT:
        return dict(part.raw)
    if isinstance(part, RedactedThinkingPart):
        if answer:
            out = {"text": "", "thought": True, "thoughtSignature": answer_signature(part)}
            return _finish(out, part.extras, ctx, where)
        ctx.lose(where, "Gemini cannot read Anthropic's redacted thinking", "omitted")
        return None
    ctx.lose(where, f"Gemini has no equivalent of {part_words(part)}", "omitted")
    return None


def _thinking(
    part: ThinkingPart, ctx: Context, where: str, *, answer: bool
) -> dict[str, Any] | None:
    signature = gemini_signature(part.extras)
    own = part.extras.get(FORMAT)
    if signature is None and answer:
        signature = answer_signature(part)
    elif signature is None and not (own and own.get("_thought")):
        origin = "encrypted" if part.encrypted_content or part.signature else "unsigned"
        ctx.lose(where, f"{origin} reasoning from another model cannot be replayed to Gemini")
        return None
    text = part.text
    if not text and part.summary:
        text = "\n\n".join(part.summary)
    elif part.summary:
        ctx.lose(f"{where}.summary", "a Gemini thought holds one text", "kept the full text")
    out: dict[str, Any] = {"text": text, "thought": True}
    if signature is not None:
        out["thoughtSignature"] = signature
    return _finish(out, part.extras, ctx, where)


def _encode_call(part: ToolCallPart, ctx: Context, where: str) -> dict[str, Any]:
    call: dict[str, Any] = {"name": part.name}
    if part.id and not is_made_id(part.id):
        call["id"] = part.id
    call["args"] = _args(part, ctx, where)
    _marker(part, ctx, where)
    if part.namespace is not None:
        ctx.lose(f"{where}.namespace", "Gemini has no tool namespaces", "dropped")
    return _finish({"functionCall": call}, part.extras, ctx, where)


def _args(part: ToolCallPart, ctx: Context, where: str) -> dict[str, Any]:
    if part.kind == "custom":
        return wrap_input(part.arguments)
    if not part.arguments.strip():
        return {}
    try:
        value = _json.loads(part.arguments)
    except InvalidPayload:
        ctx.lose(f"{where}.args", "the arguments are not valid JSON", "replaced with {}")
        return {}
    if not isinstance(value, dict):
        ctx.lose(f"{where}.args", "the arguments are not a JSON object", "replaced with {}")
        return {}
    return value


def _encode_result(
    part: ToolResultPart, ctx: Context, where: str, names: Mapping[str, str] | None
) -> dict[str, Any]:
    name = (names or {}).get(part.call_id)
    if name is None:
        ctx.lose(
            f"{where}.name",
            "the result's call is not in the history, so its function name is unknown",
            "sent as the call id",
        )
        name = part.call_id
    own = part.extras.get(FORMAT) or {}
    text = part.text
    shape = own.get("_json")
    value: Any = text
    if shape is not None:
        try:
            value = _json.loads(text)
        except InvalidPayload:
            value, shape = text, None
    if shape == "response" and isinstance(value, dict):
        response: dict[str, Any] = value
    else:
        response = {"error" if part.is_error else "output": value}
    result: dict[str, Any] = {"name": name}
    if not is_made_id(part.call_id):
        result["id"] = part.call_id
    result["response"] = response
    media = []
    for i, item in enumerate(part.content):
        if isinstance(item, TextPart):
            _marker(item, ctx, f"{where}.content[{i}]")
            continue
        encoded = _encode_media(item, ctx, f"{where}.content[{i}]")
        if encoded is not None:
            media.append(encoded)
    if media:
        result["parts"] = media
    _marker(part, ctx, where)
    if part.kind == "tool_search":
        ctx.lose(f"{where}.kind", "Gemini has no tool search", "sent as a function result")
    return _finish({"functionResponse": result}, part.extras, ctx, where)


def _encode_media(
    part: ImagePart | DocumentPart, ctx: Context, where: str
) -> dict[str, Any] | None:
    _marker(part, ctx, where)
    media = part.media_type
    label = part.filename if isinstance(part, DocumentPart) else None
    own = part.extras.get(FORMAT)
    if label is None and own and isinstance(own.get("_display_name"), str):
        label = own["_display_name"]
    if isinstance(part, ImagePart) and part.detail is not None and part.detail != "auto":
        ctx.lose(f"{where}.detail", "Gemini sets media resolution per request, not per image")
    if isinstance(part, DocumentPart):
        for name, value in (("title", part.title), ("context", part.context)):
            if value is not None:
                ctx.lose(f"{where}.{name}", f"Gemini documents have no {name}")
        if part.citations_enabled:
            ctx.lose(f"{where}.citations", "Gemini documents have no citation setting")
    out: dict[str, Any]
    if part.data is not None:
        inner: dict[str, Any] = {"mimeType": media or _sniff(part.data, part)}
        inner["data"] = part.data
        out = {"inlineData": inner}
    elif isinstance(part, DocumentPart) and part.text is not None:
        data = base64.b64encode(part.text.encode()).decode()
        out = {"inlineData": {"mimeType": media or "text/plain", "data": data}}
    elif part.url is not None:
        parsed = _data_url(part.url)
        if parsed is not None:
            out = {"inlineData": {"mimeType": media or parsed[0], "data": parsed[1]}}
        else:
            inner = {}
            guessed = media or mimetypes.guess_type(part.url.split("?", 1)[0])[0]
            if guessed is not None:
                inner["mimeType"] = guessed
            inner["fileUri"] = part.url
            out = {"fileData": inner}
    else:
        kind = "image" if isinstance(part, ImagePart) else "document"
        why = "a file id of another provider" if part.file_id else "no data or URL"
        ctx.lose(where, f"the {kind} has {why}, which Gemini cannot read", "omitted")
        return None
    if label is not None:
        key = "inlineData" if "inlineData" in out else "fileData"
        out[key]["displayName"] = label
    return _finish(out, part.extras, ctx, where)


def _data_url(url: str) -> tuple[str, str] | None:
    """``data:<media>;base64,<data>`` → (media, data)."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, data = url[5:].split(";base64,", 1)
    return (head or "application/octet-stream"), data


#: leading base64 text of common file kinds → media type (for data sent without one).
_MAGIC: Final[Mapping[str, str]] = {
    "/9j/": "image/jpeg",
    "iVBORw0KGgo": "image/png",
    "R0lGOD": "image/gif",
    "UklGR": "image/webp",
    "JVBERi0": "application/pdf",
}


def _sniff(data: str, part: ImagePart | DocumentPart) -> str:
    for prefix, media in _MAGIC.items():
        if data.startswith(prefix):
            return media
    return "image/png" if isinstance(part, ImagePart) else "application/octet-stream"
