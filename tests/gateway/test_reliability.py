"""The short form of ``python -m benchmarks.reliability``: 5,000 generated bad requests
through the real ASGI gateway end in a valid error of the client's own API (or a success),
never a crash or a 5xx of apibridge's own; the disconnect and soak sections run with a few
requests; and ``docs/reliability.md`` lists what the command prints, with tests that exist.
(The upstream-fault, canary-key and disconnect tests the command re-runs are in this
directory and run with the suite as they are.)"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import fuzz_requests
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import reliability  # noqa: E402

PAGE = ROOT / "docs" / "reliability.md"


@pytest.mark.timeout(300)  # ~35 s alone; more under coverage on a busy machine
def test_5000_generated_bad_requests_get_the_clients_own_error_never_a_crash_or_our_5xx() -> None:
    tally = fuzz_requests.run(5000, seed_value=1)
    assert tally.total == 5000
    assert tally.failures == 0, tally.examples
    assert {endpoint for endpoint, _ in tally.by_endpoint} == {
        f"{method} {path}" for method, path, _ in fuzz_requests.ENDPOINTS
    }
    # the generator really reaches the refusals it is meant to: bad JSON, wrong types, sizes,
    # content types, unknown stored ids
    for status in (400, 404, 413, 415):
        assert tally.statuses[status] > 0, tally.statuses


def _test_names(name: str) -> set[str]:
    tree = ast.parse((ROOT / "tests" / "gateway" / name).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_fault_row_names_tests_that_exist() -> None:
    for _, _, tests in reliability.FAULTS:
        for test in tests:
            module, name = test.split("::")
            assert module in reliability.FAULT_FILES, test
            assert name in _test_names(module), test


def test_the_page_shows_what_the_command_prints() -> None:
    page = PAGE.read_text()
    assert "python -m benchmarks.reliability" in page
    assert "## Generated bad requests" in page
    assert "## Upstream faults, canary key, disconnects" in page
    for method, path, _ in fuzz_requests.ENDPOINTS:
        assert f"| `{method} {path}` |" in page, path
    for fault, result, tests in reliability.FAULTS:
        row = [line for line in page.splitlines() if line.startswith(f"| {fault} | {result} |")]
        assert len(row) == 1, fault
        for test in tests:
            assert f"`{test.split('::')[1]}`" in row[0], test
    assert "Not covered yet" not in page  # every fault the issue names has its row
    for title in (reliability.DISCONNECTS_TITLE, reliability.SOAK_TITLE):
        assert f"\n{title}\n" in page, title
    for _, label in reliability.LEFT_BEHIND:
        assert page.count(f"| {label} |") >= 2, label  # the disconnects' and the soak's
    for label in ("before the status line", "after 1-10 events", "all", reliability.FLOOR_LABEL):
        assert f"\n| {label} |" in page, label
    assert "| RSS at the start | after warm-up | half-way | at the end |" in page
    for option in ("--only disconnects", "--only soak", "--disconnects", "--soak"):
        assert option in page, option
    assert "gateway.md#security-and-threat-model" in page


@pytest.mark.parametrize("only", reliability.SECTIONS)
def test_the_command_parses_its_sections(only: str) -> None:
    args = reliability.parse(["--only", only, "--cases", "10", "--disconnects", "5"])
    assert args.only == [only]
    assert args.cases == 10
    assert args.disconnects == 5


@pytest.mark.timeout(180)
def test_the_disconnect_and_soak_sections_run_short() -> None:
    """The command's own code for both sections (the gateway in its own process), in a few
    seconds; times are shown, not judged (the p99 target is the long form's)."""
    lines, raw = reliability.disconnects_section(40, seed=2)
    print("\n".join(lines))
    assert lines[0] == reliability.DISCONNECTS_TITLE
    assert raw["examples"] == []
    assert raw["never_closed"] == 0
    phases = raw["phases"]
    assert phases["before the status line"] + phases["after events"] == 40
    assert phases["no gateway"] == 8  # the floor: a fifth more, straight to the upstream
    assert raw["after"]["in_flight"] == raw["after"]["streams_open"] == 0
    lines, raw = reliability.soak_section(120)
    print("\n".join(lines))
    assert lines[0] == reliability.SOAK_TITLE
    assert raw["examples"] == []
    assert raw["failures"] == 0
    assert set(raw["rss_kib"]) == {"start", "after warm-up", "middle", "end"}
    assert all(kib > 10_000 for kib in raw["rss_kib"].values())  # a real process's
