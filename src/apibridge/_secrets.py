"""Keys out of error messages: the one rule every error path applies before a client sees it.

An upstream may quote the key it was sent ("Incorrect API key provided: sk-…"), or a masked
form of it (OpenAI's ``sk-proj-****abcd``), in an error body, an in-band stream error or a
200 answer that is an error. :func:`redact` replaces every given secret, and anything shaped
like a key (masked or not), with ``[redacted]``; :func:`redact_error` does it to an
:class:`~apibridge.errors.ApiError`'s message. The transports apply it to what they decode,
and the gateway applies it once more to every error it answers with or writes in-band, with
every key it knows (each upstream's, the clients', the admin's), so an error from any
transport or decoder is covered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import attrs

from apibridge.errors import ApiError

__all__ = ["MASKED_KEY", "REDACTED", "redact", "redact_error"]

#: what a secret is replaced with.
REDACTED: Final = "[redacted]"

#: anything shaped like an OpenAI or Anthropic key, masked (``sk-proj-****abcd``) or not;
#: even a masked key is nobody's business.
MASKED_KEY: Final = re.compile(r"\b(?:sk|key)-[A-Za-z0-9_*.\-]{6,}")


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
