"""A large request body costs about three times its size in memory at the worst moment, not
five.

A 24 MiB request goes through the ASGI app in a fresh process (``memory_probe.py``) to a real
loopback upstream in this one, which counts the bytes it receives. At the worst moment the
gateway holds the body, orjson's copy of it while parsing and the parsed text: three times
the body. It used to hold more, and longer (4.8 times): the chunks it read and their join,
the raw body for the whole request beside its parsed form and the upstream's bytes, and two
copies of those bytes on their way to the socket (joined to the request head, then what the
socket did not take at once). Now the body is gathered in one ``bytearray``, emptied once
parsed, and a large upstream body is written in slices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import WRITERS, Answer, base_url, lifespan, serve_asgi

from apibridge import _json

PROBE = Path(__file__).with_name("memory_probe.py")
MIB = 24
#: the most a request may add to resident memory at its worst, in multiples of its body
BOUND = 3.5

pytestmark = pytest.mark.skipif(
    not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's /proc/self/clear_refs"
)


class CountingUpstream:
    """An upstream that reads each request's body to its end, keeps only its size, and
    answers "ok" in its format."""

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.received: list[int] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        with self.lock:
            self.received.append(size)
        body = _json.dumps(WRITERS[self.format][0]("memory-model", Answer(text="ok")))
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def counting() -> Iterator[dict[str, tuple[CountingUpstream, str]]]:
    apps = {fmt: CountingUpstream(fmt) for fmt in ("anthropic", "chat", "responses")}
    with (
        serve_asgi(apps["anthropic"]) as a,
        serve_asgi(apps["chat"]) as c,
        serve_asgi(apps["responses"]) as r,
    ):
        roots = {"anthropic": a, "chat": c, "responses": r}
        yield {fmt: (app, base_url(fmt, roots[fmt])) for fmt, app in apps.items()}


@pytest.mark.parametrize(
    ("fmt", "upstream"), [("chat", "chat"), ("anthropic", "responses"), ("responses", "anthropic")]
)
def test_request_body_peak_memory_is_bounded(
    counting: dict[str, tuple[CountingUpstream, str]], fmt: str, upstream: str
) -> None:
    app, url = counting[upstream]
    app.received.clear()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(PROBE), upstream, url, fmt, str(MIB)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["status"] == 200
    size = result["size"]
    assert len(app.received) == 2  # the warm-up and the large request
    assert app.received[1] > MIB * 1024 * 1024  # the text reached the upstream whole
    ratio = result["peak"] / size
    assert ratio <= BOUND, f"a {size} byte body took {result['peak']} bytes ({ratio:.2f}x)"
