"""``python -m benchmarks``: apibridge's speed beside its baselines, in one run.

    python -m benchmarks [--quick] [--only codec|stream|gateway|process] [--write-docs]

Sections (all by default):

- ``codec``: requests between the client formats (and to backboard), responses and errors,
  µs per call, beside the JSON floor and LiteLLM's adapter (pinned and newest);
- ``stream``: µs per streamed event, every upstream → client format;
- ``gateway``: ``apibridge serve`` on one core beside calling the mock upstream directly, a
  bare forwarder and LiteLLM's proxy: added latency, time to first byte, requests/s;
- ``process``: import time, idle RSS, RSS per open stream, RSS across a soak.

Prints markdown tables (figures and ratios to the baselines of the same run); with
``--write-docs`` also rewrites ``docs/benchmarks.md`` and ``docs/img/benchmarks.png``.
``--quick`` is a seconds-long smoke: tiny counts, no newest-LiteLLM venv, a few requests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/__main__.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import codec, payloads, report
from benchmarks.progress import done, log, progress

SECTIONS = ("codec", "stream", "gateway", "process")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only this section (repeatable)"
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="rewrite docs/benchmarks.md and docs/img/benchmarks.png",
    )
    parser.add_argument(
        "--litellm-newest",
        default=codec.LITELLM_NEWEST,
        metavar="VERSION",
        help=f"the newest LiteLLM to compare (default {codec.LITELLM_NEWEST}; 'none' to skip)",
    )
    parser.add_argument(
        "--no-litellm-proxy",
        action="store_true",
        help="do not try LiteLLM's proxy in the gateway section",
    )
    parser.add_argument(
        "--compiled",
        default="auto",
        metavar="auto|none|DIR",
        help="also time the mypyc-compiled codecs: build them into .bench/ (auto, the default; "
        "skipped by --quick), skip them (none), or take a tree `python hatch_build.py DIR` wrote",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures here")
    return parser.parse_args(argv)


def run_codec(
    args: argparse.Namespace, sections: set[str], raw: dict[str, Any], versions: dict[str, str]
) -> report.CodecView:
    """The codec and stream sections: workers, cases, interleaved rounds."""
    wanted = set()
    if "codec" in sections:
        wanted |= {"request", "response", "error"}
    if "stream" in sections:
        wanted.add("stream")
    progress("codec: writing the payloads")
    directory = Path(tempfile.mkdtemp(prefix="apibridge-bench-"))
    index = payloads.write_all(directory, quick=args.quick, sections=frozenset(wanted))
    core = None if args.quick else 1  # a smoke run starts faster on both cores
    workers: dict[str, codec.Worker] = {
        "apibridge": codec.Worker("apibridge", sys.executable, core)
    }
    labels: dict[str, str] = {}
    compiled_path = compiled_tree(args, raw)
    if compiled_path is not None:
        workers["apibridge-compiled"] = codec.Worker(
            "apibridge-compiled", sys.executable, core, path=compiled_path
        )
    pinned = codec.litellm_pinned_version()
    if pinned:
        workers["litellm-pinned"] = codec.Worker("litellm-pinned", sys.executable, core)
        labels["litellm-pinned"] = f"LiteLLM {pinned}"
    else:
        raw["notes"].append(
            "LiteLLM (pinned): not installed in this venv (pip install -e '.[test]')"
        )
    if args.quick or args.litellm_newest == "none":
        raw["notes"].append("LiteLLM newest: skipped" + (" (--quick)" if args.quick else ""))
    elif args.litellm_newest != pinned:
        python = codec.litellm_newest_python(args.litellm_newest, log=log)
        if python:
            workers["litellm-newest"] = codec.Worker("litellm-newest", python)
            labels["litellm-newest"] = f"LiteLLM {args.litellm_newest}"
        else:
            raw["notes"].append(f"LiteLLM {args.litellm_newest}: its venv could not be made")
    for name, worker in workers.items():
        found = worker.ask(op="versions")
        if name == "apibridge":
            versions.update({k: v for k, v in found.items() if k not in {"litellm", "compiled"}})
        if name == "apibridge-compiled" and found.get("compiled") != "yes":
            raw["notes"].append("the compiled tree imported the pure-Python codecs: ignored")
            worker.close()
            compiled_path = None
    if compiled_path is None:
        workers.pop("apibridge-compiled", None)
    else:
        versions["apibridge compiled"] = "yes (mypyc: codecs, exchange, JSON and SSE helpers)"
    cases = codec.plan(index, wanted, list(labels), compiled=compiled_path is not None)
    rounds, batch = (2, 0.0005) if args.quick else (11, 0.006)
    try:
        codec.run(cases, workers, rounds=rounds, batch_seconds=batch)
        raw["profiles"] = profiles(cases, workers["apibridge"], quick=args.quick)
    finally:
        for worker in workers.values():
            worker.close()
    for impl, label in labels.items():
        versions[label.split()[0] + (" (pinned)" if impl == "litellm-pinned" else " (newest)")] = (
            label.split()[1]
        )
    for case in cases:
        if case.error and not case.impl.startswith("apibridge"):
            continue
        if case.error:
            raw["notes"].append(
                f"{case.impl} {case.section} {case.source} → {case.target} "
                f"({case.label}) failed: {case.error}"
            )
    raw["codec"] = [
        {
            k: getattr(c, k)
            for k in (
                "section",
                "label",
                "source",
                "target",
                "impl",
                "events",
                "n",
                "times",
                "error",
            )
        }
        for c in cases
    ]
    return report.CodecView(cases, labels, compiled=compiled_path is not None)


def compiled_tree(args: argparse.Namespace, raw: dict[str, Any]) -> Path | None:
    """Where the mypyc-compiled apibridge is, per ``--compiled`` (None: not timed)."""
    if args.compiled == "none" or (args.compiled == "auto" and args.quick):
        raw["notes"].append(
            "apibridge compiled (mypyc): not timed"
            + (" (--quick)" if args.quick and args.compiled == "auto" else "")
        )
        return None
    if args.compiled != "auto":
        return Path(args.compiled)
    from benchmarks import compiled

    progress("codec: building the mypyc-compiled codecs (a few minutes, then cached)")
    path, note = compiled.ensure()
    if path is None:
        raw["notes"].append(f"apibridge compiled (mypyc): not timed: {note}")
    return path


# What the profile section looks at: the headline direction, and the costliest stream.
PROFILED = (
    ("request", "anthropic", "chat"),
    ("stream", "chat", "responses"),
)


def profiles(cases: list[codec.Case], worker: codec.Worker, *, quick: bool) -> dict[str, Any]:
    """cProfile of apibridge on the profiled directions, one entry per payload."""
    found: dict[str, Any] = {}
    for case in cases:
        if case.impl != "apibridge" or case.error or case.median is None:
            continue
        if (case.section, case.source, case.target) not in PROFILED:
            continue
        progress(f"codec: profiling {case.section} {case.label}")
        n = max(1, case.n * (1 if quick else 3))
        key = f"{case.section}, {case.source} → {case.target}, {case.label}"
        found[key] = worker.ask(op="profile", id=case.id, n=n, top=12)["rows"]
        found[key]["events"] = case.events
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sections = set(args.only or SECTIONS)
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    raw: dict[str, Any] = {"notes": []}
    load = os.getloadavg()[0]
    versions: dict[str, str] = {"load average at the start (1 min)": f"{load:.2f}"}
    if load > 0.5:
        raw["notes"].append(
            f"the machine was busy when the run started (load average {load:.2f} on "
            f"{os.cpu_count()} cores): other processes shared the cores, so absolute figures "
            "are inflated and noisy; the ratios, measured side by side, suffer less"
        )
    out: dict[str, str] = {}
    view = None
    results = None
    process: dict[str, Any] = {}
    print(report.HEADER + (" (quick)" if args.quick else ""))
    print()
    if sections & {"codec", "stream"}:
        view = run_codec(args, sections, raw, versions)
        if "codec" in sections:
            out["Requests, µs per call"] = view.rows("request")
            out["Responses, µs per call"] = view.rows("response")
            out["Errors, µs per call"] = view.rows("error")
        if "stream" in sections:
            out["Streams, µs per upstream event"] = view.rows("stream", per_event=True)
        if raw.get("profiles"):
            out["Profile of apibridge (cProfile; its overhead inflates the times)"] = (
                report.profile_tables(raw["profiles"])
            )
    if sections & {"gateway", "process"}:
        from benchmarks import gateway

        if "process" in sections:
            for module, value in gateway.import_times(args.quick).items():
                process[f"import {module}"] = value
        if "gateway" in sections or "process" in sections:
            results = gateway.run_gateway(
                quick=args.quick,
                proxy=not args.no_litellm_proxy,
                load="gateway" in sections,
                memory_too="process" in sections,
            )
            raw["notes"] += results.notes
            process["rss"] = results.rss
            raw["gateway"] = {
                t.name: {"latencies": t.latencies, "ttfb": t.ttfb, "rps": t.rps}
                for t in results.targets
            }
        if "gateway" in sections:
            latency, rps = report.gateway_tables(results)
            out["Gateway: latency at concurrency 1 and time to first byte, ms"] = latency
            out["Gateway: throughput"] = rps
        else:
            results = None
        if "process" in sections:
            out["Process"] = report.process_table(process)
            raw["process"] = process
    done()
    out = {"Targets of issue 10": report.targets(view, results, process), **out}
    for title, body in out.items():
        print(f"## {title}\n\n{body}\n")
    for note in raw["notes"]:
        print(f"note: {note}")
    info = report.machine(versions)
    print("\n" + "; ".join(f"{k}: {v}" for k, v in info.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, **raw}, indent=1))
    if args.write_docs:
        has_plot = report.plot(view, results)
        if not has_plot:
            log("matplotlib is missing (pip install -e '.[bench]'): the plot was not redrawn")
        report.DOCS.write_text(
            report.page(info, out, raw["notes"], has_plot or report.PLOT.exists())
        )
        log(
            f"wrote {report.DOCS.relative_to(report.ROOT)}"
            + (f" and {report.PLOT.relative_to(report.ROOT)}" if has_plot else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
