"""Keys out of error messages: the one rule every error path applies before a client sees it.

An upstream may quote the key it was sent ("Incorrect API key provided: sk-…"), or a masked
form of it (OpenAI's ``sk-proj-****abcd``), in an error body, an in-band stream error or a
200 answer that is an error. :func:`redact` replaces every given secret, and anything shaped
like a key (masked or not), with ``[redacted]``; :func:`redact_error` does it to an
:class:`~apibridge.errors.ApiError`'s message. The transports apply it to what they decode,
and the gateway applies it once more to every error it answers with or writes in-band, with
every key it knows (each upstream's, the clients', the admin's), so an error from any
transport or decoder is covered. :func:`redact_url` hides a URL's password, for log lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs

from apibridge.errors import ApiError

__all__ = ["MASKED_KEY", "REDACTED", "redact", "redact_error", "redact_url"]

#: what a secret is replaced with.
REDACTED: Final = "[redacted]"

#: anything shaped like an OpenAI or Anthropic key, masked (``sk-proj-****abcd``) or not, or
#: like a Google API key (``AIza`` and 35 more); even a masked key is nobody's business.
MASKED_KEY: Final = re.compile(r"\b(?:(?:sk|key)-[A-Za-z0-9_*.\-]{6,}|AIza[A-Za-z0-9_\-]{35})")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets`` and anything shaped like a key replaced."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return MASKED_KEY.sub(REDACTED, text)


def redact_error(error: ApiError, secrets: Iterable[str] = ()) -> ApiError:
    """``error`` with :func:`redact` applied to its message and ``param`` (the upstream's
    words); the same object when there was nothing to replace."""
    secrets = tuple(secrets)
    message = redact(error.message, secrets)
    param = None if error.param is None else redact(error.param, secrets)
    if message == error.message and param == error.param:
        return error
    return attrs.evolve(error, message=message, param=param)


#: query parameters that hold a secret (``key``: Google's API key in REST URLs).
_SECRET_PARAMETERS: Final = frozenset({"password", "key", "api_key", "apikey"})


def redact_url(url: str) -> str:
    """``url`` with its password hidden, for logs: ``redis://:secret@host`` becomes
    ``redis://:***@host`` (a ``password``, ``key``, ``api_key`` or ``apikey`` query parameter
    likewise: ``?key=***``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMETERS for k, _ in pairs):
            pairs = [(k, "***" if k.lower() in _SECRET_PARAMETERS else v) for k, v in pairs]
            query = urlencode(pairs, safe="*", quote_via=quote)
    if "://" in url:  # urlunsplit would turn unix:///path into unix:/path
        out = f"{parts.scheme}://{netloc}{parts.path}"
    else:
        out = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    out += f"?{query}" if query else ""
    return out + (f"#{parts.fragment}" if parts.fragment else "")
