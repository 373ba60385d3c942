"""Log records as JSON lines, for log collectors (``apibridge serve --log-format json``).

Each record becomes one line holding one JSON object: ``time`` (UTC, ISO 8601 with
milliseconds), ``level``, ``logger`` and ``message``, then the record's structured fields.
The access log (``apibridge.access``) gives its fields under the record attribute ``access``
(see :mod:`apibridge._gateway._access_log`), so an access line reads::

    {"time": "2026-12-05T04:01:02.345Z", "level": "INFO", "logger": "apibridge.access",
     "message": "...", "request_id": "req_…", "method": "POST", "path": "/v1/messages",
     "status": 200, "duration_ms": 12.3, "client": "anthropic", "upstream": "local",
     "model": "claude-sonnet-4-5", "stream": true, "tokens_in": 12, "tokens_out": 40}

``request_id`` is the ``x-request-id`` / ``request-id`` header of the answer. Strings are JSON
escaped (every control character and every non-ASCII character as ``\\uXXXX``), so no value
a client sends can split or forge a line. No key is in any field: the gateway logs none.

To use it where apibridge is mounted in another server, name the class in the logging
configuration::

    logging.config.dictConfig({
        "version": 1,
        "formatters": {"json": {"()": "apibridge.jsonlog.JsonFormatter"}},
        "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {"apibridge": {"handlers": ["out"], "level": "INFO"}},
    })
"""

from __future__ import annotations

import logging
import time
from typing import Any

from apibridge._json import dumps_ascii

__all__ = ["JsonFormatter"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z"
        line: dict[str, Any] = {
            "time": stamp,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "access", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return dumps_ascii(line)
