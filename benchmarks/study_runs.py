"""Run `evolver run --json` as a subprocess and read what each run found.

The study drives evolver only through its command line, so that it measures any
evolver whose `run` command takes the flags of a strategy, whichever branch it comes
from. `known_flags` reads those flags from `evolver run --help`.

The correctness check of a repair reuses the canary gate's differential check. The
suite's recorded calls and inputs drawn from the annotations are replayed on the
clean program and on the repaired one, each in its own wasm sandbox. The results are
then compared on the host.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from archive import Archive
from evolver._canary_checks import GateRequest, check_differential
from evolver._canary_config import CanaryConfig
from fitness import EvaluationSettings, Suite
from genomes import source_hash
from sandbox import SandboxError

#: Seconds one `evolver run` may take before the study stops it and records a
#: timeout. An estimate: a speed run of budget 40 took a few minutes on a busy
#: 2-core machine, so an hour leaves room for budgets of several hundred.
RUN_TIMEOUT = 3600

#: Characters of a failed run's stderr kept in the record.
STDERR_TAIL = 2000

_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def evolver_command() -> list[str]:
    """Return the command that starts this Python's evolver."""
    return [sys.executable, "-m", "evolver"]


def known_flags() -> frozenset[str]:
    """Read the flags that `evolver run --help` lists."""
    completed = subprocess.run(
        [*evolver_command(), "run", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return frozenset(_FLAG.findall(completed.stdout))


def missing_flags(flags: Sequence[str], known: frozenset[str]) -> list[str]:
    """List the flags of `flags` (options, not their values) that `known` lacks."""
    return [flag for flag in flags if flag.startswith("--") and flag not in known]


@dataclass(frozen=True)
class RunOutcome:
    """The JSON report of one `evolver run`, or the error that replaced it."""

    command: tuple[str, ...]
    exit_code: int
    seconds: float
    report: dict | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.report is not None


def run_evolver(arguments: Sequence[str], cwd: Path) -> RunOutcome:
    """Run `evolver run ARGUMENTS --json` in `cwd` and parse its JSON object."""
    command = (*evolver_command(), "run", *arguments, "--json")
    started = time.monotonic()
    try:
        completed = subprocess.run(
            command,
            check=False,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        seconds = time.monotonic() - started
        return RunOutcome(
            command, -1, seconds, None, f"timed out after {RUN_TIMEOUT} s"
        )
    seconds = time.monotonic() - started
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        report = None
    error = "" if completed.returncode == 0 else completed.stderr[-STDERR_TAIL:]
    if not isinstance(report, dict):
        report = None
        error = error or "no JSON object on stdout"
    return RunOutcome(command, completed.returncode, seconds, report, error)


def passing_entries(report: dict) -> list[dict]:
    """Return the best candidates of a report that pass every test."""
    return [
        entry
        for entry in report.get("best", [])
        if entry.get("failures") == 0 and entry.get("outcome") == "ok"
    ]


def evaluations_to_pass(report: dict) -> int | None:
    """Return how many evaluations the run spent up to its first passing candidate.

    It counts the archived candidates of the run in the order they were recorded,
    the original included, so it is None when no candidate passed.
    """
    with Archive.open(report["archive"], readonly=True) as archive:
        records = archive.candidates(report["run_id"])
    for number, record in enumerate(records, start=1):
        if record.failures == 0 and record.outcome == "ok":
            return number
    return None


def candidate_source(report: dict, candidate_id: str) -> str:
    """Read one candidate's source from the run's archive."""
    with Archive.open(report["archive"], readonly=True) as archive:
        return archive.candidate(report["run_id"], candidate_id).source


@dataclass(frozen=True)
class Correctness:
    """The differential check of a repair against the clean program."""

    #: "pass", "fail", "skipped" (no function could be called with plain data) or
    #: "error" (the sandbox failed to start).
    status: str
    summary: str
    figures: dict = field(default_factory=dict)


def check_against_clean(
    *,
    module: str,
    clean: str,
    repaired: str,
    suite: Path,
    functions: tuple[str, ...],
    seed: int,
    max_examples: int,
) -> Correctness:
    """Compare the repaired program with the clean one on the same inputs.

    The inputs are the calls the suite makes to `functions` on the clean program,
    plus inputs drawn from their annotations, as the canary gate collects them.
    """
    if source_hash(repaired) == source_hash(clean):
        return Correctness("pass", "the repair restores the clean source")
    request = GateRequest(
        module_name=module,
        original=clean,
        candidate=repaired,
        edits=0,
        suite=Suite.from_file(suite),
        search=EvaluationSettings(max_examples=max_examples, seed=seed),
        config=CanaryConfig(),
        sandbox="wasm",
        seeds=(seed + 1,),
        on_event=lambda message: None,
    )
    try:
        check = check_differential(request, functions, {})
    except SandboxError as error:
        return Correctness("error", f"the wasm sandbox failed to start: {error}")
    summary = check.summary
    if check.counterexample:
        summary += f": {check.counterexample}"
    return Correctness(check.status, summary, dict(check.figures))


def median_or_none(values: Sequence[float]) -> float | None:
    """Return the median of `values`, or None when there are none."""
    return statistics.median(values) if values else None
