"""Codec and stream speed: apibridge beside the JSON floor and LiteLLM, in interleaved rounds.

Every contestant runs in its own worker process (``_worker.py``), pinned to the same core:
apibridge and the JSON floor in this venv, LiteLLM pinned (the version in this venv, 1.83.0 from
the ``test`` extra) and LiteLLM newest in a venv made on demand under ``.bench/``. A round times
one batch of calls of every case in turn (the order rotates each round); the figure is the
median over rounds of the time per call, so drift (a neighbour, a frequency change) hits all
contestants alike and the ratios hold.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import payloads
from benchmarks.progress import progress

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"
BENCH_DIR = HERE.parent / ".bench"
LITELLM_NEWEST = "1.110.2"


def pinned(argv: list[str], core: int) -> list[str]:
    """``argv`` run on one core (if ``taskset`` exists and there is more than one core)."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *argv]
    return argv


class Worker:
    """One timing process (see ``_worker.py``)."""

    def __init__(
        self, name: str, python: str, core: int | None = 1, *, path: Path | None = None
    ) -> None:
        self.name = name
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        if path is not None:  # the compiled copy of apibridge, ahead of the editable sources
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            pinned([python, str(WORKER)], core) if core is not None else [python, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin
        assert self.process.stdout
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(10)


def litellm_newest_python(version: str, *, log: Any) -> str | None:
    """The python of ``.bench/venv-litellm-<version>``, created on first use; None if it fails."""
    venv = BENCH_DIR / f"venv-litellm-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    if marker.exists():
        return str(python)
    log(f"creating {venv} (pip install litellm=={version} orjson; once, about a minute)")
    try:
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"litellm=={version}", "orjson"],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        log(f"LiteLLM {version} could not be installed: {exc}")
        return None
    marker.touch()
    return str(python)


def litellm_pinned_version() -> str | None:
    """The LiteLLM of this venv (the ``test`` extra pins it), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("litellm")
    except PackageNotFoundError:
        return None


@dataclass
class Case:
    """One thing to time: a contestant converting one payload in one direction."""

    section: str  # request, response, error, stream
    label: str  # payload label
    source: str
    target: str
    impl: str  # floor, apibridge, litellm-pinned, litellm-newest
    path: str
    events: int = 1
    id: str = ""
    n: int = 1
    times: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float | None:
        """Median seconds per call (per source event for streams)."""
        if not self.times:
            return None
        return statistics.median(self.times) / self.events


def plan(
    index: dict[str, Any], sections: set[str], litellm: list[str], *, compiled: bool = False
) -> list[Case]:
    """Every case: apibridge in every direction (pure Python and, with ``compiled``, the mypyc
    build), the floor per source payload, LiteLLM where it has the direction."""
    cases: list[Case] = []
    mine = ["apibridge", "apibridge-compiled"] if compiled else ["apibridge"]

    def add(section: str, label: str, source: str, target: str, path: str, ev: int = 1) -> None:
        for impl in mine:
            cases.append(Case(section, label, source, target, impl, path, ev))
        if (section, source, target) in LITELLM_DIRECTIONS:
            for impl in litellm:
                cases.append(Case(section, label, source, target, impl, path, ev))

    def floor(section: str, label: str, source: str, path: str, ev: int = 1) -> None:
        cases.append(Case(section, label, source, "-", "floor", path, ev))

    if "request" in sections:
        for label, files in index["requests"].items():
            for source in payloads.CLIENT_FORMATS:
                floor("request", label, source, files[source])
                for target in payloads.UPSTREAM_FORMATS:
                    if target != source:
                        add("request", label, source, target, files[source])
    if "response" in sections:
        for label, files in index["responses"].items():
            for source in payloads.CLIENT_FORMATS:
                floor("response", label, source, files[source])
                for target in payloads.CLIENT_FORMATS:
                    if target != source:
                        add("response", label, source, target, files[source])
    if "error" in sections:
        for source in payloads.CLIENT_FORMATS:
            path = index["errors"][source]
            floor("error", "429 rate limit", source, path)
            for target in payloads.CLIENT_FORMATS:
                if target != source:
                    add("error", "429 rate limit", source, target, path)
    if "stream" in sections:
        for source in payloads.CLIENT_FORMATS:
            stream = index["streams"][source]
            label = f"{stream['events']} events"
            floor("stream", label, source, stream["path"], stream["events"])
            for target in payloads.CLIENT_FORMATS:
                if target != source:
                    add("stream", label, source, target, stream["path"], stream["events"])
    for number, case in enumerate(cases):
        case.id = f"c{number}"
    return cases


# LiteLLM's adapter behind /v1/messages translates these three ways only.
LITELLM_DIRECTIONS = {
    ("request", "anthropic", "chat"),
    ("response", "chat", "anthropic"),
    ("stream", "chat", "anthropic"),
}


def run(
    cases: list[Case], workers: dict[str, Worker], *, rounds: int, batch_seconds: float
) -> None:
    """Prepare every case in its worker, then time them all in ``rounds`` interleaved rounds."""
    live: list[Case] = []
    for number, case in enumerate(cases, 1):
        progress(f"codec: preparing {number}/{len(cases)}")
        worker = workers.get("apibridge" if case.impl == "floor" else case.impl)
        if worker is None:
            case.error = "not installed"
            continue
        answer = worker.ask(
            op="prepare",
            id=case.id,
            impl=case.impl.split("-")[0],
            kind=case.section,
            source=case.source,
            target=case.target,
            path=case.path,
            events=case.events,
        )
        if not answer["ok"]:
            case.error = answer["error"]
            continue
        case.n = max(1, int(batch_seconds / max(answer["seconds"], 1e-7)))
        live.append(case)
    for number in range(rounds):
        progress(f"codec: round {number + 1}/{rounds} of {len(live)} cases")
        shift = number % max(1, len(live))
        for case in live[shift:] + live[:shift]:
            worker = workers["apibridge" if case.impl == "floor" else case.impl]
            seconds = worker.ask(op="time", id=case.id, n=case.n)["seconds"]
            case.times.append(seconds / case.n)
