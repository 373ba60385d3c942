"""The benchmark harness still runs: ``python -m benchmarks --quick`` on the codecs and streams.

No timing is asserted (performance lives in benchmarks that print figures, never in timed
assertions); only that the command exits 0 and prints its tables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("section", ["codec", "stream"])
def test_quick_benchmark_runs(section: str) -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", section],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("# apibridge benchmarks")
    assert "| payload | direction | apibridge µs" in done.stdout
