"""Start ``apibridge serve`` for a recipe's check program, and stop it afterwards.

The recipes' programs (``claude_code_check.py``, ``codex_check.py``, ``agents_sdk_app.py``,
``backboard_app.py``) either talk to a gateway you already run (``--gateway URL``) or start
one themselves with ``serve``: the same ``apibridge serve`` command the recipe's page
gives, on ``127.0.0.1`` and a free port, in a child process that inherits your environment
(so ``APIBRIDGE_UPSTREAM_KEY``, ``BBD_API_KEY`` … reach it as they would from your shell).
The process is stopped when the ``with`` block ends, whatever happens inside it.
``check_main`` is the command line the check programs share.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, start_timeout: float = 30
) -> Iterator[str]:
    """Run ``apibridge serve ARGS --host 127.0.0.1 --port N``; yield its root URL.

    ``env`` replaces the inherited environment when given. Waits for ``GET /health`` to
    answer, and fails with the server's own output if it exits or does not answer within
    ``start_timeout`` seconds.
    """
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "apibridge", "serve", *args]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    # the log goes to a file, not a pipe: a long log never blocks the server
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            env=dict(os.environ if env is None else env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(process, log, root, start_timeout)
            yield root
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_until_up(
    process: subprocess.Popen[bytes], log: IO[bytes], root: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(root + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"apibridge serve did not start:\n{output}")
        time.sleep(0.1)


def check_main(
    check: Callable[..., Any],
    argv: Sequence[str] | None,
    *,
    description: str,
    gateway_help: str,
    model: str,
    prompt: str,
    max_output_tokens: int | None = None,
) -> int:
    """A check program's command line: ``--gateway URL`` (a gateway you run) or ``--upstream
    SPEC`` (start one in front of it; ``scripted=echo``, which needs nothing, by default), then
    ``check(root, model, prompt, turns=N)``."""
    parser = argparse.ArgumentParser(description=description)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--gateway", help=gateway_help)
    where.add_argument(
        "--upstream",
        default="scripted=echo",
        help="start `apibridge serve --upstream SPEC` for the check (default: scripted=echo)",
    )
    parser.add_argument("--model", default=model)
    parser.add_argument("--prompt", default=prompt)
    parser.add_argument("--turns", type=int, default=4)
    if max_output_tokens is not None:
        parser.add_argument("--max-output-tokens", type=int, default=max_output_tokens)
    args = parser.parse_args(argv)
    if args.gateway:
        check(args.gateway, args.model, args.prompt, turns=args.turns)
        return 0
    flags = ["--upstream", args.upstream]
    if max_output_tokens is not None:
        flags += ["--max-output-tokens", str(args.max_output_tokens)]
    with serve(flags) as root:
        check(root, args.model, args.prompt, turns=args.turns)
    return 0
