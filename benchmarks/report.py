"""Tables, targets, ``docs/benchmarks.md`` and its plot, from one run's results."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.codec import Case
from benchmarks.gateway import GatewayResults, Target

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "img" / "benchmarks.png"
HEADER = "# apibridge benchmarks"
X = "\N{MULTIPLICATION SIGN}"  # written so, the sign would trip ruff's RUF001

# ---------------------------------------------------------------------- formatting


def us(seconds: float | None) -> str:
    """Microseconds, with as many digits as mean something."""
    if seconds is None:
        return "—"
    value = seconds * 1e6
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def ms(seconds: float | None) -> str:
    return (
        "—"
        if seconds is None
        else f"{seconds * 1e3:+.2f}"
        if seconds < 0
        else (f"{seconds * 1e3:.2f}")
    )


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}{X}"


def table(head: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# ---------------------------------------------------------------------- codec tables


class CodecView:
    """Look-ups over the codec cases of one run."""

    def __init__(
        self, cases: list[Case], litellm: dict[str, str], *, compiled: bool = False
    ) -> None:
        self.cases = cases
        self.litellm = litellm  # impl → version label, e.g. {"litellm-pinned": "LiteLLM 1.83.0"}
        self.by_key = {(c.section, c.label, c.source, c.target, c.impl): c for c in cases}
        #: apibridge's builds timed in this run, the one users get from a plain install first
        self.builds = {"apibridge": "pure Python"}
        if compiled:
            self.builds["apibridge-compiled"] = "compiled"

    def get(self, section: str, label: str, source: str, target: str, impl: str) -> Case | None:
        return self.by_key.get((section, label, source, target, impl))

    def median(self, *key: str) -> float | None:
        case = self.get(*key)
        return case.median if case else None

    def apibridge_cases(self, section: str, impl: str = "apibridge") -> list[Case]:
        return [c for c in self.cases if c.section == section and c.impl == impl]

    def rows(self, section: str, per_event: bool = False) -> str:
        unit = " µs" + ("/event" if per_event else "")
        compiled = len(self.builds) > 1
        head = ["payload", "direction"]
        head += (
            [f"apibridge {build}{unit}" for build in self.builds.values()]
            if compiled
            else ["apibridge" + unit]
        )
        head += ["JSON floor"] + [f"÷ floor{self.suffix(b)}" for b in self.builds.values()]
        for name in self.litellm.values():
            head += [name] + [f"÷ {name}{self.suffix(b)}" for b in self.builds.values()]
        rows = []
        for case in self.apibridge_cases(section):
            mine = [
                self.get(section, case.label, case.source, case.target, impl)
                for impl in self.builds
            ]
            times = [c.median if c and not c.error else None for c in mine]
            base = self.median(section, case.label, case.source, "-", "floor")
            row = [case.label, f"{case.source} → {case.target}"]
            row += [
                us(c.median) if c and not c.error else f"error: {(c.error if c else '?')[:60]}"
                for c in mine
            ]
            row += [us(base)] + [ratio(t, base) for t in times]
            for impl in self.litellm:
                other = self.get(section, case.label, case.source, case.target, impl)
                if other is None:
                    row += ["—"] * (1 + len(times))
                elif other.error:
                    row += ["n/a"] + ["—"] * len(times)
                else:
                    row += [us(other.median)] + [ratio(t, other.median) for t in times]
            rows.append(row)
        return table(head, rows)

    def suffix(self, build: str) -> str:
        return f" ({build})" if len(self.builds) > 1 else ""

    def worst(
        self, section: str, against: str, impl: str = "apibridge"
    ) -> tuple[float, str] | None:
        """The largest ratio of apibridge (``impl``) to ``against`` (an impl) in ``section``."""
        found = []
        for case in self.apibridge_cases(section, impl):
            key = "-" if against == "floor" else case.target
            other = self.get(section, case.label, case.source, key, against)
            if case.median and other and other.median:
                found.append(
                    (case.median / other.median, f"{case.label}, {case.source} → {case.target}")
                )
        return max(found) if found else None


def profile_tables(profiles: dict[str, Any]) -> str:
    """Per profiled case: Python calls per conversion and the functions with most own time."""
    parts = []
    for key, found in profiles.items():
        per = "event" if key.startswith("stream") else "conversion"
        events = found.get("events", 1)
        parts.append(
            f"**{key}**: {found['calls'] / events:,.0f} Python function calls per {per}; "
            "the 12 with the most own time:"
        )
        rows = [
            [f"`{where}`", f"{calls / events:,.1f}", us(own / events), us(cumulative / events)]
            for own, calls, cumulative, where in found["top"]
        ]
        head = ["function", f"calls per {per}", f"own µs per {per}", "cumulative µs"]
        parts.append(table(head, rows))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------- gateway tables


def gateway_tables(results: GatewayResults) -> tuple[str, str]:
    direct = results.targets[0]
    rows = []
    for target in results.targets:
        p50 = percentile(target.latencies, 0.5)
        p99 = percentile(target.latencies, 0.99)
        t50 = percentile(target.ttfb, 0.5)
        t99 = percentile(target.ttfb, 0.99)
        if target is direct:
            added = ["—", "—", "—", "—"]
        else:
            added = [
                ms(p50 - percentile(direct.latencies, 0.5)),
                ms(p99 - percentile(direct.latencies, 0.99)),
                ms(t50 - percentile(direct.ttfb, 0.5)),
                ms(t99 - percentile(direct.ttfb, 0.99)),
            ]
        rows.append(
            [
                target.name,
                ms(p50),
                ms(p99),
                added[0],
                added[1],
                ms(t50),
                ms(t99),
                added[2],
                added[3],
                str(len(target.latencies)),
            ]
        )
    latency = table(
        [
            "target",
            "p50 ms",
            "p99 ms",
            "added p50",
            "added p99",
            "TTFB p50",
            "TTFB p99",
            "added TTFB p50",
            "added TTFB p99",
            "requests",
        ],
        rows,
    )
    head = ["server (one core)"] + [f"{c} in flight" for c in results.concurrencies]
    head += ["best", "at 256 ÷ best", "server CPU µs/request", "server busy"]
    rows = []
    for target in results.targets[1:]:
        values = {c: sum(v) / len(v) for c, v in target.rps.items()}
        best = max(values.values()) if values else None
        at_256 = values.get(256)
        per_request = [x for v in target.cpu_per_request.values() for x in v]
        busy = [x for v in target.busy.values() for x in v]
        rows.append(
            [target.name]
            + [f"{values[c]:,.0f}" if c in values else "—" for c in results.concurrencies]
            + [f"{best:,.0f}" if best else "—", f"{at_256 / best:.0%}" if at_256 and best else "—"]
            + [
                f"{statistics.median(per_request) * 1e6:,.0f}" if per_request else "—",
                f"{statistics.median(busy):.0%}" if busy else "—",
            ]
        )
    note = (
        "requests/s, mean of the passes; server CPU µs/request and server busy (its CPU "
        "seconds per second, 100% = the whole core): medians over the passes"
    )
    if results.load_generator:
        note += f"; load generator: {results.load_generator}"
    return latency, table(head, rows) + "\n\n" + note


def find(results: GatewayResults, prefix: str) -> Target | None:
    return next((t for t in results.targets if t.name.startswith(prefix)), None)


# ---------------------------------------------------------------------- targets


def targets(
    view: CodecView | None, results: GatewayResults | None, process: dict[str, Any] | None
) -> str:
    rows: list[list[str]] = []

    def add(name: str, goal: str, value: str, met: bool | None, where: str = "") -> None:
        rows.append(
            [
                name,
                goal,
                value + (f" ({where})" if where else ""),
                "—" if met is None else ("met" if met else "**not met**"),
            ]
        )

    if view is not None:
        pinned = next(iter(view.litellm), None)
        for impl, build in reversed(view.builds.items()):  # the compiled build first
            tag = view.suffix(build)
            for section in ("request", "response", "stream"):
                worst = view.worst(section, pinned, impl) if pinned else None
                if worst:
                    add(
                        f"codec {section} ÷ {view.litellm[pinned]} (worst){tag}",
                        f"≤ 0.5{X}",
                        f"{worst[0]:.2f}{X}",
                        worst[0] <= 0.5,
                        worst[1],
                    )
            for section in ("request", "response", "error"):
                worst = view.worst(section, "floor", impl)
                if worst:
                    add(
                        f"codec {section} ÷ JSON floor (worst){tag}",
                        f"≤ 3{X}",
                        f"{worst[0]:.1f}{X}",
                        worst[0] <= 3,
                        worst[1],
                    )
            events = [
                (c.median, f"{c.source} → {c.target}")
                for c in view.apibridge_cases("stream", impl)
                if c.median
            ]
            if events:
                value, where = max(events)
                add(
                    f"stream, µs per event (worst){tag}",
                    "≤ 8 µs",
                    f"{value * 1e6:.1f} µs",
                    value <= 8e-6,
                    where,
                )
    if results is not None:
        direct, mine = results.targets[0], find(results, "apibridge, anthropic")
        if mine:
            p50 = percentile(mine.latencies, 0.5) - percentile(direct.latencies, 0.5)
            p99 = percentile(mine.latencies, 0.99) - percentile(direct.latencies, 0.99)
            add(
                "gateway added latency p50, concurrency 1",
                "≤ 0.5 ms",
                f"{p50 * 1e3:.2f} ms",
                p50 <= 0.5e-3,
            )
            add(
                "gateway added latency p99, concurrency 1",
                "≤ 1 ms",
                f"{p99 * 1e3:.2f} ms",
                p99 <= 1e-3,
            )
            values = {c: sum(v) / len(v) for c, v in mine.rps.items()}
            if values:
                best = max(values.values())
                add(
                    "translated requests/s on one core (best)",
                    "≥ 2,000",
                    f"{best:,.0f}",
                    best >= 2000,
                )
                if 256 in values:
                    add(
                        "throughput at 256 in flight ÷ best",
                        "≥ 90 %",
                        f"{values[256] / best:.0%}",
                        values[256] / best >= 0.9,
                    )
            t99 = percentile(mine.ttfb, 0.99) - percentile(direct.ttfb, 0.99)
            add(
                "added time to first byte p99 (streamed)",
                "≤ 2 ms",
                f"{t99 * 1e3:.2f} ms",
                t99 <= 2e-3,
            )
    if process:
        if "import apibridge" in process:
            value = process["import apibridge"]
            add("import apibridge", "≤ 0.5 s", f"{value * 1e3:.0f} ms", value <= 0.5)
        rss = process.get("rss", {})
        if "apibridge idle" in rss:
            value = rss["apibridge idle"] / 1024
            add("idle RSS of apibridge serve", "≤ 60 MiB", f"{value:.1f} MiB", value <= 60)
        if "apibridge per stream" in rss:
            value = rss["apibridge per stream"]
            add("RSS per open stream", "≤ 64 KiB", f"{value:.1f} KiB", value <= 64)
        if "soak after" in rss:
            growth = (rss["soak after"] - rss["soak middle"]) / 1024
            add(
                "RSS in a soak (second half's growth)",
                "flat (≤ 1 MiB)",
                f"{growth:+.1f} MiB",
                growth <= 1,
            )
    return table(["target", "goal", "measured", "status"], rows)


# ---------------------------------------------------------------------- process table


def process_table(process: dict[str, Any]) -> str:
    rows = []
    for module in ("apibridge", "apibridge.asgi"):
        key = f"import {module}"
        if key in process:
            rows.append(
                [f"`import {module}` (fresh interpreter, median)", f"{process[key] * 1e3:.0f} ms"]
            )
    rss = process.get("rss", {})
    for key, label in (
        ("apibridge idle", "idle RSS, `apibridge serve` (started, no request yet)"),
        ("forwarder idle", "idle RSS, bare forwarder (started, no request yet)"),
        ("apibridge warm", "RSS, `apibridge serve` after 16 streams"),
        ("forwarder warm", "RSS, bare forwarder after 16 streams"),
    ):
        if key in rss:
            rows.append([label, f"{rss[key] / 1024:.1f} MiB"])
    for name in ("apibridge", "forwarder"):
        if f"{name} per stream" in rss:
            rows.append(
                [
                    f"RSS per open stream, {name} ({rss[f'{name} streams']} open)",
                    f"{rss[f'{name} per stream']:.1f} KiB",
                ]
            )
    if "soak before" in rss:
        rows.append(
            [
                f"RSS across a soak of {rss['soak requests']:,} requests "
                f"({rss['soak seconds']:.0f} s, 16 in flight, every 4th streamed): "
                "before → middle → after",
                f"{rss['soak before'] / 1024:.1f} → {rss['soak middle'] / 1024:.1f} → "
                f"{rss['soak after'] / 1024:.1f} MiB",
            ]
        )
    return table(["measure", "value"], rows)


# ---------------------------------------------------------------------- machine


def machine(versions: dict[str, str]) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    found = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "OS": f"{platform.system()} {platform.release()}",
        "commit": commit,
        "load average at the end (1 min)": f"{os.getloadavg()[0]:.2f}",
    }
    found.update(versions)
    return found


# ---------------------------------------------------------------------- the page


def plot(view: CodecView | None, results: GatewayResults | None) -> bool:
    """Draw ``docs/img/benchmarks.png``; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    if view is not None:
        labels = list(dict.fromkeys(c.label for c in view.apibridge_cases("request")))
        pairs = [
            (build, impl, name)
            for build in view.builds.items()
            for impl, name in view.litellm.items()
        ]
        width = 0.8 / max(1, len(pairs))
        for number, ((mine_impl, build), impl, name) in enumerate(pairs):
            values = []
            for label in labels:
                mine = view.median("request", label, "anthropic", "chat", mine_impl)
                other = view.median("request", label, "anthropic", "chat", impl)
                values.append(mine / other if mine and other else 0)
            positions = [i + number * width for i in range(len(labels))]
            bars = left.bar(positions, values, width, label=f"{build} ÷ {name}")
            left.bar_label(bars, fmt="%.2f" + X, fontsize=7)
        left.axhline(0.5, color="green", linestyle="--", label=f"target ≤ 0.5{X}")
        left.axhline(1.0, color="grey", linewidth=0.8)
        left.set_xticks(
            [i + width * (len(pairs) - 1) / 2 for i in range(len(labels))],
            [label.replace(" coding agent", "\ncoding agent") for label in labels],
            fontsize=8,
        )
        left.set_ylabel("apibridge time ÷ LiteLLM time")
        left.set_title("Anthropic request → Chat request, bytes in → bytes out")
        left.legend(fontsize=8)
    if results is not None:
        for target in results.targets[1:]:
            xs = sorted(target.rps)
            right.plot(
                xs,
                [sum(target.rps[c]) / len(target.rps[c]) for c in xs],
                marker="o",
                label=target.name,
            )
        right.axhline(2000, color="green", linestyle="--", label="target ≥ 2,000 translated")
        right.set_xscale("log", base=2)
        right.set_xticks(list(results.concurrencies), [str(c) for c in results.concurrencies])
        right.set_xlabel("requests in flight")
        right.set_ylabel("requests/s (server on one core)")
        right.set_ylim(bottom=0)
        right.set_title("Gateway throughput")
        right.legend(fontsize=8)
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT, dpi=110)
    plt.close(figure)
    return True


INTRO = """\
Speed of the codecs, the streams and the gateway, measured side by side with the baselines
**in the same run**: absolute times drift from run to run and machine to machine, the ratios
hold. Rerun it (under 10 minutes, a progress line on stderr) with:

```bash
pip install -e '.[test,bench]'
python -m benchmarks                 # everything; prints the tables
python -m benchmarks --write-docs    # and rewrites this page and its plot
python -m benchmarks --quick --only codec   # a seconds-long smoke (CI runs it)
```

This page was written by `python -m benchmarks --write-docs`; edit `benchmarks/report.py`,
not the page. Which targets are not met, what bounds them and what was tried:
[where the time goes](performance.md).
"""

METHOD = """\
## How it measures

- **Codec**: bytes in → bytes out for every contestant: `orjson.loads`, convert,
  `orjson.dumps`. apibridge through its public functions (`convert_request`,
  `convert_response`, `convert_error`, `convert_stream`, with `losses=[]`). The **JSON floor**
  is `orjson.loads` + `orjson.dumps` of the same input bytes: what any translator pays at
  least. **LiteLLM** is the adapter behind its `/v1/messages` route
  (`litellm.llms.anthropic.experimental_pass_through.adapters`: `AnthropicAdapter`'s
  `translate_completion_input_params`, `translate_completion_output_params` after building the
  `ModelResponse` it needs, and `AnthropicStreamWrapper.anthropic_sse_wrapper` over
  `ModelResponseStream` chunks); it has only those three directions, hence the "—" elsewhere.
  The pinned LiteLLM is the one of the `test` extra; the newest runs from a venv the harness
  makes on demand under `.bench/` (`LITELLM_LOCAL_MODEL_COST_MAP=True` always). Each
  contestant is its own process pinned to core 1; rounds interleave every case (the order
  rotates) and the figure is the median over rounds of the time per call.
- **Builds**: apibridge runs twice, as the pure-Python package (what `pip install` gives) and
  compiled by mypyc (`APIBRIDGE_COMPILE=1`; the harness builds it once per source tree into
  `.bench/compiled-<hash>/` with `python hatch_build.py` and puts it first on `PYTHONPATH` of its
  own worker); the targets table shows both. The profile is of the pure-Python build (cProfile
  cannot see inside compiled functions).
- **Payloads**: a seeded coding-agent conversation (`benchmarks/payloads.py`: system prompt,
  12 tools with JSON Schemas, user text, assistant text with tool calls, some signed thinking
  blocks, tool results with file contents and command output) at 120 and 1,360 messages, a
  1 KB chat turn, and the real Claude Code request of `tests/fixtures/anthropic/`. The Chat and
  Responses forms are apibridge's own translations of the Anthropic one, made before timing.
- **Streams**: a Chat stream of text deltas and one tool call in argument pieces, and its
  Anthropic and Responses translations; each event is fed as its own chunk, as the network
  delivers them. The figure is the time per *upstream* event.
- **Gateway**: `apibridge serve --upstream chat=…` (access log off: `--log-level warning`, so
  that it and the forwarder do the same work) pinned to core 1; the mock upstream (a bare
  asyncio protocol on uvloop, canned bytes) and the load generator on core 0: a bare asyncio
  protocol client on uvloop, or `wrk` for the throughput passes with
  `APIBRIDGE_BENCH_LOADGEN=wrk` (the output names it). The **bare forwarder**
  (`benchmarks/_servers.py`) is a 60-line ASGI app under the same uvicorn options with the
  gateway's default client (httpx over aiohttp) that forwards bytes unchanged. Latency at
  concurrency 1 and time to first byte (to the first `data:` line of a streamed answer) are
  measured in interleaved rounds over keep-alive connections; *added* = the target's
  percentile minus the same percentile calling the mock directly. Throughput: requests/s with
  N requests in flight for a few seconds after a warm-up, two passes in alternating order;
  the server's CPU time over the pass (`/proc/<pid>/stat`) ÷ its requests is its CPU per
  request, and ÷ the pass's seconds how busy its core was (under 100%: something other than
  the server's own work held the figure down).
- **Process**: import time in fresh interpreters; RSS from `/proc/<pid>/status` (VmRSS); RSS
  per open stream = (RSS with N streams open, each past its first event, minus RSS before) ÷ N; the
  soak runs mixed load in two halves and compares the RSS after each.
- **Not measured**: responses and streams *from* a backboard upstream (only requests to it);
  LiteLLM outside its Anthropic adapter's three directions ("—" in the tables). LiteLLM's
  proxy runs with `use_chat_completions_url_for_anthropic_messages: true` (1.83 otherwise
  sends `/v1/messages` for an `openai/` model through the Responses API) and with its own
  uvicorn access log on, as shipped. LiteLLM's stream wrapper fails on the usage-only Chat
  chunk (`"choices": []`), so its input has the usage folded into the finishing chunk, as
  LiteLLM's own client does.
"""


def page(
    machine_info: dict[str, str], sections: dict[str, str], notes: list[str], has_plot: bool
) -> str:
    parts = [HEADER, "", INTRO]
    parts += [
        "## Machine and versions",
        "",
        table(["", ""], [[k, v] for k, v in machine_info.items()]),
        "",
    ]
    if has_plot:
        parts += [
            "![apibridge ÷ LiteLLM per payload size, and gateway throughput per "
            "concurrency](img/benchmarks.png)",
            "",
        ]
    for title, body in sections.items():
        parts += [f"## {title}", "", body, ""]
    if notes:
        parts += ["## What was not measured, and why", ""]
        parts += [f"- {note}" for note in notes] + [""]
    parts += [METHOD]
    return "\n".join(parts)
