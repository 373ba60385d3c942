"""A timing worker: one process per contestant, driven over stdin/stdout (JSON lines).

Run as a script (``python benchmarks/_worker.py``), never imported from the package, because
it also runs under the LiteLLM venvs, where apibridge is not installed: it imports apibridge or
LiteLLM only for the cases it is asked to prepare. Each contestant lives in its own process so
that LiteLLM's large import (and the garbage collector's cost of walking it) never slows the
others down.

Commands, one JSON object a line; one JSON answer a line:

- ``{"op": "prepare", "id": ..., "impl": ..., "kind": ..., "source": ..., "target": ...,
  "path": ..., "events": n}``: build the bytes-in → bytes-out closure, check it runs, and
  answer ``{"ok": true, "seconds": <one call>, "out": <bytes written>}`` or
  ``{"ok": false, "error": "..."}``.
- ``{"op": "time", "id": ..., "n": calls}``: call it ``n`` times; answer ``{"seconds": total}``.
- ``{"op": "versions"}``: the versions of what this process imports.

``impl`` is ``apibridge``, ``floor`` (orjson loads + dumps of the same bytes: what any
translator pays at least) or ``litellm`` (LiteLLM's Anthropic ⇄ Chat adapter, the one behind
its ``/v1/messages`` route).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

Fn = Callable[[], bytes]


def frames_of(data: bytes) -> list[bytes]:
    """An SSE stream as the list of its events, each a chunk as the network would deliver."""
    return [part + b"\n\n" for part in data.split(b"\n\n") if part.strip()]


# ------------------------------------------------------------------------ the floor


def floor(kind: str, data: bytes) -> Fn:
    if kind == "stream":
        frames = frames_of(data)

        def run_stream() -> bytes:
            out = []
            for frame in frames:
                start = frame.find(b"data: ")
                payload = frame[start + 6 : -2]
                if payload != b"[DONE]":
                    out.append(orjson.dumps(orjson.loads(payload)))
            return b"".join(out)

        return run_stream
    return lambda: orjson.dumps(orjson.loads(data))


# ------------------------------------------------------------------------ apibridge


def apibridge_case(kind: str, source: str, target: str, data: bytes) -> Fn:
    import apibridge

    dumps, loads = orjson.dumps, orjson.loads
    if kind == "request":
        convert_request = apibridge.convert_request
        return lambda: dumps(convert_request(loads(data), source=source, target=target, losses=[]))
    if kind == "response":
        convert_response = apibridge.convert_response
        return lambda: dumps(convert_response(loads(data), source=source, target=target, losses=[]))
    if kind == "error":
        convert_error = apibridge.convert_error
        return lambda: dumps(convert_error(loads(data), 429, source=source, target=target)[1])
    if kind == "stream":
        frames = frames_of(data)
        convert_stream = apibridge.convert_stream
        return lambda: b"".join(convert_stream(frames, source=source, target=target, losses=[]))
    raise ValueError(kind)


# ------------------------------------------------------------------------ LiteLLM


def _default(value: Any) -> Any:
    """orjson's fallback for LiteLLM's pydantic objects."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump()
    return str(value)


def litellm_frames(frames: list[bytes]) -> list[bytes]:
    """The stream as LiteLLM's own client would hand it to the wrapper.

    LiteLLM's stream wrapper (``CustomStreamWrapper``) folds the usage-only chunk
    (``"choices": []``) into the last chunk, and the Anthropic wrapper fails on a chunk
    without choices; so the usage moves onto the finishing chunk here, before timing, and
    ``[DONE]`` goes. This favours LiteLLM slightly: one event fewer to convert.
    """
    out: list[bytes] = []
    for frame in frames:
        payload = frame[6:-2]
        if payload == b"[DONE]":
            continue
        chunk = orjson.loads(payload)
        if not chunk.get("choices") and chunk.get("usage") and out:
            previous = orjson.loads(out[-1][6:-2])
            previous["usage"] = chunk["usage"]
            out[-1] = b"data: " + orjson.dumps(previous) + b"\n\n"
            continue
        out.append(frame)
    return out


def litellm_case(kind: str, source: str, target: str, data: bytes) -> Fn:
    """LiteLLM's adapter: Anthropic request → Chat, Chat answer → Anthropic, streamed too."""
    import importlib

    try:  # 1.83
        package = "litellm.llms.anthropic.experimental_pass_through.adapters"
        transformation = importlib.import_module(package + ".transformation")
    except ImportError:  # later releases moved it
        package = "litellm.llms.anthropic.messages.adapters"
        transformation = importlib.import_module(package + ".transformation")
    streaming = importlib.import_module(package + ".streaming_iterator")
    adapter = transformation.AnthropicAdapter()
    dumps, loads = orjson.dumps, orjson.loads
    if (kind, source, target) == ("request", "anthropic", "chat"):

        def run_request() -> bytes:
            translated = adapter.translate_completion_input_params(loads(data))
            return dumps(translated, default=_default)

        return run_request
    if (kind, source, target) == ("response", "chat", "anthropic"):
        from litellm import ModelResponse

        def run_response() -> bytes:
            response = ModelResponse(**loads(data))
            return dumps(adapter.translate_completion_output_params(response), default=_default)

        return run_response
    if (kind, source, target) == ("stream", "chat", "anthropic"):
        from litellm.types.utils import ModelResponseStream

        frames = litellm_frames(frames_of(data))

        def chunks() -> Any:
            for frame in frames:
                yield ModelResponseStream(**loads(frame[6:-2]))

        def run_stream() -> bytes:
            wrapper = streaming.AnthropicStreamWrapper(
                completion_stream=chunks(), model="bench-model"
            )
            return b"".join(wrapper.anthropic_sse_wrapper())

        return run_stream
    raise LookupError(f"LiteLLM has no {kind} {source} → {target}")


# ------------------------------------------------------------------------ the loop


def profile(fn: Fn, n: int, top: int) -> dict[str, Any]:
    """cProfile over ``n`` calls: Python calls per call, and the ``top`` functions by own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if path == __file__:
            continue  # the harness's own closure
        where = path.rsplit("/src/", 1)[-1].rsplit("site-packages/", 1)[-1]
        rows.append((own / n, calls / n, cumulative / n, f"{where}:{line}({name})"))
    rows.sort(reverse=True)
    total_calls = sum(row[1] for row in rows)
    return {"calls": total_calls, "top": rows[:top]}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("apibridge", "orjson", "litellm"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    with contextlib.suppress(ImportError):  # not in the LiteLLM venvs
        from apibridge.codecs import COMPILED

        found["compiled"] = "yes" if COMPILED else "no"
    return found


def main() -> None:
    cases: dict[str, Fn] = {}
    out = sys.stdout
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        answer: dict[str, Any]
        if op == "prepare":
            try:
                with open(command["path"], "rb") as handle:
                    data = handle.read()
                impl, kind = command["impl"], command["kind"]
                if impl == "floor":
                    fn = floor(kind, data)
                elif impl == "apibridge":
                    fn = apibridge_case(kind, command["source"], command["target"], data)
                else:
                    fn = litellm_case(kind, command["source"], command["target"], data)
                written = len(fn())
                for _ in range(2):
                    fn()
                start = time.perf_counter()
                fn()
                cases[command["id"]] = fn
                answer = {"ok": True, "seconds": time.perf_counter() - start, "out": written}
            except Exception as exc:  # reported in the table, not fatal
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        elif op == "time":
            fn = cases[command["id"]]
            n = command["n"]
            gc.collect()
            start = time.perf_counter()
            for _ in range(n):
                fn()
            answer = {"seconds": time.perf_counter() - start}
        elif op == "profile":
            answer = {"rows": profile(cases[command["id"]], command["n"], command["top"])}
        elif op == "versions":
            answer = versions()
        else:
            answer = {"error": f"unknown op {op}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
