"""``python -m benchmarks.reliability``: the figures of ``docs/reliability.md``, in one run.

    python -m benchmarks.reliability [--cases N] [--seed S] [--disconnects N] [--soak N]
        [--only fuzz|faults|disconnects|soak] [--json FILE]

Sections (all by default):

- ``fuzz``: ``N`` generated bad requests (default 50,000; Hypothesis) through the real ASGI
  gateway, in-process, in front of scripted upstreams on loopback
  (``tests/gateway/fuzz_requests.py``): answers counted by outcome and endpoint; a crash, a
  5xx of apibridge's own or an error body the client's SDK cannot parse is a failure;
- ``faults``: re-runs the upstream-fault, canary-key and client-disconnect tests
  (``tests/gateway/test_faults.py``, ``test_unfinished_streams.py``, ``test_utf8_faults.py``,
  ``test_key_leaks.py``, ``test_client_disconnect.py``)
  under pytest and prints, for each fault, what each client format sees and how many test
  cases proved it this run;
- ``disconnects``: ``N`` streamed requests (default 1,000) through the gateway under uvicorn in
  its own process, to a loopback upstream that streams slowly, each client leaving at a random
  moment (before the status line or after some events): the time from the client's close to
  the upstream seeing its connection closed (p50/p99/max; the target is p99 < 100 ms), and
  what was left behind (requests in flight, open streams, asyncio tasks, file descriptors of
  the gateway; upstream connections still answering a request), before and after
  (``tests/gateway/disconnects.py``);
- ``soak``: ``N`` mixed requests (default 20,000: whole, streamed, left mid-stream, refused,
  upstream errors) through the same set-up, and the gateway's RSS at the start, after a
  warm-up, half-way and at the end.

Prints markdown; exits 1 if anything failed. The test suite runs the short form
(``tests/gateway/test_reliability.py``: 5,000 requests, and the same fault tests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT / "tests" / "gateway", ROOT / "tests", ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

SECTIONS = ("fuzz", "faults", "disconnects", "soak")
FAULT_FILES = (
    "test_faults.py",
    "test_unfinished_streams.py",
    "test_utf8_faults.py",
    "test_key_leaks.py",
    "test_client_disconnect.py",
)

# fault → (what an Anthropic / Chat / Responses client sees, the tests that prove it). The
# client-visible result is the same shape in every client format, each in its own envelope.
FAULTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "connection refused",
        "HTTP 502, the API's error saying *refused* (whole and streamed)",
        ("test_faults.py::test_refused_connection_is_502",),
    ),
    (
        "reset mid-stream",
        "HTTP 200 then the format's in-band error (`error` event / error chunk / "
        "`response.failed`); never retried once begun",
        (
            "test_faults.py::test_fidelity_9_stream_cut_midway_ends_in_band",
            "test_faults.py::test_stream_cut_through_the_sdks",
        ),
    ),
    (
        "stall before the first byte",
        "HTTP 504 (first-byte timeout), not retried",
        ("test_faults.py::test_slow_answer_hits_the_first_byte_timeout",),
    ),
    (
        "stall mid-stream",
        "in-band error naming the idle timeout",
        ("test_faults.py::test_stalled_stream_hits_the_idle_timeout",),
    ),
    (
        "garbage (not JSON)",
        "HTTP 502 (whole, or stream before its first event); in-band error after it",
        ("test_faults.py::test_invalid_json_from_upstream",),
    ),
    (
        "stream ending without its terminal event (cleanly, or cut inside tool arguments)",
        "HTTP 200 then the in-band error; no open item said finished: Responses items stay "
        "open and `response.failed` lists them `incomplete`, no Chat `finish_reason`, no "
        "Anthropic `content_block_stop` (every upstream format, ASGI and WSGI)",
        (
            "test_unfinished_streams.py::test_stream_ending_without_terminal_event_fails_open_items_in_every_client_format",
            "test_unfinished_streams.py::test_dropped_connection_inside_tool_arguments_fails_the_open_call",
            "test_unfinished_streams.py::test_stream_ending_without_terminal_event_through_wsgi_fails_the_open_call",
        ),
    ),
    (
        "huge line (9 MiB event)",
        "HTTP 502 naming the 8 MiB limit before the first event; in-band error after it",
        ("test_faults.py::test_oversized_upstream_event_is_a_502_in_the_client_format",),
    ),
    (
        "cut UTF-8 (every multi-byte character split at each of its bytes across reads)",
        "the text intact, no U+FFFD (whole and streamed, every upstream format)",
        (
            "test_utf8_faults.py::test_characters_cut_at_every_byte_reach_every_client_format_intact",
        ),
    ),
    (
        "invalid UTF-8 (stray, cut-short, overlong, surrogate bytes)",
        "HTTP 502 saying *not valid UTF-8* (whole, or stream before its first event); "
        "in-band error after it; never silently U+FFFD",
        (
            "test_utf8_faults.py::test_invalid_utf8_in_a_whole_answer_is_a_502_in_the_client_format",
            "test_utf8_faults.py::test_invalid_utf8_in_a_stream_is_a_502_before_the_first_event_and_in_band_after",
        ),
    ),
    (
        "429 with Retry-After ≤ limit",
        "retried; the client gets the answer (HTTP 200)",
        ("test_faults.py::test_429_with_short_retry_after_is_retried",),
    ),
    (
        "429 with a long Retry-After",
        "HTTP 429 with the same `Retry-After`, the upstream's message; not retried",
        (
            "test_faults.py::test_fidelity_9_429_reaches_the_client_with_its_retry_hint",
            "test_faults.py::test_429_through_the_sdk_carries_the_hint",
        ),
    ),
    (
        "500 (no Retry-After)",
        "retried with backoff; the client gets the answer",
        ("test_faults.py::test_500_then_success",),
    ),
    (
        "500 / 529 with a short Retry-After",
        "retried after the upstream's wait; the client gets the answer",
        ("test_faults.py::test_500_and_529_with_a_short_retry_after_are_retried_after_it",),
    ),
    (
        "500 / 529 with a long Retry-After",
        "the same status and `Retry-After`, the upstream's message; not retried",
        (
            "test_faults.py::test_500_and_529_with_a_long_retry_after_reach_the_client_with_the_hint",
        ),
    ),
    (
        "529 overloaded, every try",
        "retried twice, then 529 `overloaded_error` (Anthropic) / 503 or 529 (OpenAI formats)",
        (
            "test_faults.py::test_fidelity_9_529_retried_then_reported",
            "test_faults.py::test_529_through_the_anthropic_sdk",
        ),
    ),
    (
        "in-band overload as first event",
        "retried (nothing reached the client yet); 529/503 after the last try",
        ("test_faults.py::test_in_band_error_as_first_event_is_retried",),
    ),
    (
        "4xx (400/401/403/404)",
        "same status, the client's envelope, not retried, the key scrubbed",
        ("test_faults.py::test_client_errors_are_not_retried",),
    ),
    (
        "Responses `status: failed`",
        "429/500 error for Anthropic and Chat clients; the failed response for Responses",
        (
            "test_faults.py::test_fidelity_9_failed_responses_answer_is_an_error_in_the_clients_format",
            "test_faults.py::test_failed_responses_answer_stays_a_failed_response_for_a_responses_client",
        ),
    ),
    (
        "canary key in an error (HTTP 200 error body, untyped stream error first / mid-stream, "
        "transport errors)",
        "the error in the client's format; the canary and its masked form in no byte sent "
        "and no log line",
        (
            "test_key_leaks.py::test_fidelity_9_error_body_with_status_200_is_that_error_without_the_key",
            "test_key_leaks.py::test_chat_error_body_with_status_200_gets_its_status_from_its_type",
            "test_key_leaks.py::test_untyped_stream_error_as_first_event_is_an_http_error_without_the_key",
            "test_key_leaks.py::test_untyped_stream_error_mid_stream_is_in_band_without_the_key",
            "test_key_leaks.py::test_gateway_scrubs_every_key_it_holds_from_any_transports_errors",
        ),
    ),
    (
        "client disconnects",
        "the upstream stream or call is closed/cancelled (ASGI and WSGI, before or after "
        "the status line; 50 left at random through uvicorn, nothing left behind); the "
        "access-log line is still written",
        (
            "test_client_disconnect.py::test_asgi_stream_closed_when_the_status_line_cannot_be_sent",
            "test_client_disconnect.py::test_50_random_client_disconnects_close_the_upstream_and_leave_nothing_behind",
            "test_client_disconnect.py::test_wsgi_stream_closed_when_the_iterable_is_closed_unstarted",
            "test_client_disconnect.py::test_asgi_non_streamed_request_cancelled_when_the_client_leaves",
            "test_client_disconnect.py::test_a_request_cancelled_by_a_leaving_client_still_gets_its_access_log_line",
        ),
    ),
)
#: the disconnect target: the upstream closed within this long (p99) after the client left
TARGET_P99 = 0.100
#: what a client that left could leave behind: probe name → row label
LEFT_BEHIND = (
    ("in_flight", "gateway: requests in flight"),
    ("streams_open", "gateway: streams open"),
    ("tasks", "gateway: asyncio tasks"),
    ("fds", "gateway: file descriptors"),
    ("upstream_busy", "upstream: connections answering a request"),
    ("upstream_idle", "upstream: idle keep-alive connections (the gateway's pool)"),
)
DISCONNECTS_TITLE = "## Client disconnects, timed"
FLOOR_LABEL = "floor: no gateway, straight to the upstream"
SOAK_TITLE = "## Soak: RSS across mixed requests"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reliability", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cases", type=int, default=50_000, help="generated bad requests")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed")
    parser.add_argument("--disconnects", type=int, default=1000, help="clients that leave")
    parser.add_argument("--soak", type=int, default=20_000, help="requests of the soak")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="only this section")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures here")
    return parser.parse_args(argv)


def fuzz_section(cases: int, seed: int) -> tuple[list[str], dict[str, Any]]:
    import fuzz_requests

    tally = fuzz_requests.run(cases, seed_value=seed)
    outcomes = ["accepted", "refused", "upstream_5xx", *fuzz_requests.FAILURES]
    lines = [
        "## Generated bad requests",
        "",
        f"{tally.total:,} requests (seed {seed}) in {tally.seconds:.0f} s; "
        f"failures: {tally.failures}.",
        "",
        "| endpoint | " + " | ".join(outcomes) + " |",
        "|---" * (len(outcomes) + 1) + "|",
    ]
    endpoints = [f"{m} {p}" for m, p, _ in fuzz_requests.ENDPOINTS]
    for endpoint in [*endpoints, "total"]:
        if endpoint == "total":
            row = [tally.outcomes[o] for o in outcomes]
        else:
            row = [tally.by_endpoint[endpoint, o] for o in outcomes]
        lines.append(f"| `{endpoint}` | " + " | ".join(f"{n:,}" for n in row) + " |")
    statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(tally.statuses.items()))
    lines += ["", f"Statuses: {statuses}."]
    if tally.examples:
        lines += ["", "First failures:", ""] + [f"- `{e}`" for e in tally.examples]
    raw = {
        "total": tally.total,
        "failures": tally.failures,
        "seconds": tally.seconds,
        "outcomes": dict(tally.outcomes),
        "statuses": {str(k): v for k, v in tally.statuses.items()},
        "examples": tally.examples,
    }
    return lines, raw


def run_fault_tests() -> dict[str, tuple[int, int]]:
    """Run the fault test files under pytest; (passed, failed) per test function."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "faults.xml"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        paths = [str(ROOT / "tests" / "gateway" / name) for name in FAULT_FILES]
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-cov",
             f"--junitxml={xml}", *paths],
            cwd=ROOT, env=env, capture_output=True, check=False,
        )  # fmt: skip
        tree = ET.parse(xml)
    counts: dict[str, tuple[int, int]] = {}
    for case in tree.iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        name = module + ".py::" + case.get("name", "").split("[", 1)[0]
        passed, failed = counts.get(name, (0, 0))
        bad = any(child.tag in ("failure", "error") for child in case)
        skipped = any(child.tag == "skipped" for child in case)
        if bad:
            failed += 1
        elif not skipped:
            passed += 1
        counts[name] = (passed, failed)
    return counts


def faults_section() -> tuple[list[str], dict[str, Any]]:
    counts = run_fault_tests()
    lines = [
        "## Upstream faults, canary key, disconnects",
        "",
        "| fault | what the client sees (Anthropic, Chat, Responses alike, each in its own "
        "format) | proved by | cases passed |",
        "|---|---|---|---|",
    ]
    failures = 0
    for fault, result, tests in FAULTS:
        passed = sum(counts.get(t, (0, 0))[0] for t in tests)
        failed = sum(counts.get(t, (0, 0))[1] for t in tests)
        missing = [t for t in tests if t not in counts]
        failures += failed + len(missing)
        names = "<br>".join(f"`{t.split('::')[1]}`" for t in tests)
        mark = f"{passed}" + (f" (**{failed} failed**)" if failed else "")
        mark += f" (**not found: {len(missing)}**)" if missing else ""
        lines.append(f"| {fault} | {result} | {names} | {mark} |")
    total = sum(p for p, _ in counts.values())
    lines += [
        "",
        f"{total} test cases passed in {', '.join(FAULT_FILES)}; failures: {failures}.",
    ]
    return lines, {"failures": failures, "passed": total, "tests": counts}


def _served(work: Any) -> Any:
    """``work(gateway_url, gateway_pid, upstream)``: the slow upstream on this loop, the
    gateway (with its probe) under uvicorn in its own process (pinned like the gateway
    benchmark's)."""
    import disconnects

    from benchmarks.gateway import run, server

    async def scenario() -> Any:
        upstream = disconnects.SlowUpstream()
        root = await upstream.start()
        try:
            with disconnects.gateway_process(root, server) as (url, pid):
                return await work(url, pid, upstream)
        finally:
            await upstream.stop()

    return run(scenario())


def _left_behind_table(tally: Any) -> list[str]:
    lines = ["| left behind | before | after |", "|---|---|---|"]
    for name, label in LEFT_BEHIND:
        lines.append(f"| {label} | {tally.before[name]:,} | {tally.after[name]:,} |")
    return lines


def _failures(tally: Any) -> list[str]:
    return ["", "First failures:", ""] + [f"- {f}" for f in tally.failures[:10]]


def _busy(tally: Any) -> float:
    """The gateway's CPU time over the run's wall time (both from its probe)."""
    cpu = (tally.after["cpu_ms"] - tally.before["cpu_ms"]) / 1000
    return cpu / max(tally.seconds, 1e-9)


def _phase_row(tally: Any, label: str, phase: str | None) -> str:
    through = {k: n for k, n in tally.phases.items() if k != "no gateway"}
    clients = tally.phases[phase] if phase else sum(through.values())
    closes = tally.by_phase.get(phase, []) if phase else tally.latencies
    return (
        f"| {label} | {clients:,} | {len(closes):,} "
        f"| {tally.percentile(0.5, phase) * 1000:.1f} ms "
        f"| {tally.percentile(0.99, phase) * 1000:.1f} ms | {max(closes or [0]) * 1000:.1f} ms |"
    )


def disconnects_section(count: int, seed: int) -> tuple[list[str], dict[str, Any]]:
    import disconnects

    floor = max(count // 5, 1)
    tally = _served(
        lambda url, _pid, up: disconnects.disconnects(url, up, count, seed=seed, floor=floor)
    )
    p50, p99 = tally.percentile(0.5), tally.percentile(0.99)
    met = bool(tally.latencies) and p99 < TARGET_P99
    failures = len(tally.failures) + (0 if met else 1)
    before, after = tally.phases["before the status line"], tally.phases["after events"]
    lines = [
        DISCONNECTS_TITLE,
        "",
        f"{count:,} streamed requests (seed {seed}; random client and upstream formats) through "
        "the gateway under uvicorn in its own process, to a loopback upstream that streams a "
        f"text delta every {disconnects.INTERVAL * 1000:g} ms; each client left at a random "
        f"moment, by a reset or a FIN: {before:,} before the status line (the upstream's "
        f"first event still 20-200 ms away), {after:,} after 1-10 events. "
        f"{tally.seconds:.0f} s, the gateway busy {_busy(tally):.0%} of the time; failures: "
        f"{failures}. The last row is {floor:,} more such requests, mixed in, sent to the "
        "upstream directly: how long the measuring process itself takes to see a close under "
        "the same load (the gateway's share is the difference).",
        "",
        "| client left | clients | upstream saw the close | p50 | p99 | max |",
        "|---|---|---|---|---|---|",
        *[
            _phase_row(tally, label, phase)
            for phase, label in (
                ("before the status line", "before the status line"),
                ("after events", "after 1-10 events"),
                (None, "all"),
                ("no gateway", FLOOR_LABEL),
            )
        ],
        "",
        f"Target: p99 < {TARGET_P99 * 1000:g} ms: {'met' if met else '**missed**'}.",
        "",
        *_left_behind_table(tally),
    ]
    if tally.failures:
        lines += _failures(tally)
    raw = {
        "requests": count,
        "failures": failures,
        "seconds": tally.seconds,
        "p50": p50,
        "p99": p99,
        "max": max(tally.latencies or [0]),
        "never_closed": tally.never_closed,
        "phases": dict(tally.phases),
        "before": tally.before,
        "after": tally.after,
        "examples": tally.failures[:10],
    }
    return lines, raw


def soak_section(count: int) -> tuple[list[str], dict[str, Any]]:
    import disconnects

    from benchmarks.gateway import rss_kib

    warm = max(count // 20, 60)
    tally = _served(
        lambda url, pid, up: disconnects.soak(url, up, count, warm=warm, rss=lambda: rss_kib(pid))
    )
    rss = tally.rss
    growth = rss["end"] - rss["after warm-up"]
    mix = ", ".join(f"{kind} {n:,}" for kind, n in sorted(tally.outcomes.items()))
    lines = [
        SOAK_TITLE,
        "",
        f"{count:,} requests after {warm:,} of warm-up, 16 at a time, through the gateway "
        "under uvicorn in its own process (the upstream as above), in turn: whole, streamed, "
        "left mid-stream, refused (invalid JSON), upstream 400, whole; random client and "
        f"upstream formats (all {sum(tally.outcomes.values()):,}: {mix}); stored responses "
        f"bounded to {disconnects.STORE_MAX_ITEMS}, so that the store is full (as it grows by "
        f"design up to its bounds) before RSS is watched. {tally.seconds:.0f} s "
        f"({count / max(tally.seconds, 1e-9):,.0f} requests/s, the gateway busy "
        f"{_busy(tally):.0%} of the time); failures: "
        f"{len(tally.failures)}.",
        "",
        "| RSS at the start | after warm-up | half-way | at the end | growth after warm-up |",
        "|---|---|---|---|---|",
        f"| {rss['start'] / 1024:.1f} MiB | {rss['after warm-up'] / 1024:.1f} MiB "
        f"| {rss['middle'] / 1024:.1f} MiB | {rss['end'] / 1024:.1f} MiB "
        f"| {growth / 1024:+.1f} MiB ({growth / max(rss['after warm-up'], 1):+.1%}) |",
        "",
        *_left_behind_table(tally),
    ]
    if tally.failures:
        lines += _failures(tally)
    raw = {
        "requests": count,
        "warm": warm,
        "failures": len(tally.failures),
        "seconds": tally.seconds,
        "rss_kib": rss,
        "outcomes": dict(tally.outcomes),
        "before": tally.before,
        "after": tally.after,
        "examples": tally.failures[:10],
    }
    return lines, raw


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sections = set(args.only or SECTIONS)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = [
        "# apibridge reliability",
        "",
        f"{started}; Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs.",
        "",
    ]
    raw: dict[str, Any] = {}
    failures = 0
    if "fuzz" in sections:
        lines, raw["fuzz"] = fuzz_section(args.cases, args.seed)
        out += [*lines, ""]
        failures += raw["fuzz"]["failures"]
    if "faults" in sections:
        lines, raw["faults"] = faults_section()
        out += [*lines, ""]
        failures += raw["faults"]["failures"]
    if "disconnects" in sections:
        lines, raw["disconnects"] = disconnects_section(args.disconnects, args.seed)
        out += [*lines, ""]
        failures += raw["disconnects"]["failures"]
    if "soak" in sections:
        lines, raw["soak"] = soak_section(args.soak)
        out += [*lines, ""]
        failures += raw["soak"]["failures"]
    print("\n".join(out).rstrip())
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
