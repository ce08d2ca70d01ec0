"""Turning a candidate into a sandbox job, and the sandbox's result into fitness."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import statistics
from dataclasses import dataclass, field
from importlib import resources

from sandbox import BaseSandbox, Job, Limits, Outcome, Result

from ._suite import Suite


@dataclass(frozen=True)
class EvaluationSettings:
    """Settings the harness applies to one evaluation."""

    #: hypothesis examples per property test during a search.
    max_examples: int = 20
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    #: Timed repetitions of each benchmark where the meter is wall-clock seconds;
    #: the cost is their median.
    bench_repeats: int = 5
    #: Report the target's lines each test executes (see `measure_coverage`). It
    #: calls back on every newly executed line, so it is off during a search.
    coverage: bool = False


@dataclass(frozen=True)
class Fitness:
    """The objectives, all minimised: failing tests, benchmark cost and patch size."""

    failures: int
    cost: float
    edits: int

    @property
    def values(self) -> tuple[float, float, float]:
        return (float(self.failures), self.cost, float(self.edits))

    def to_json(self) -> dict:
        cost = self.cost if math.isfinite(self.cost) else None
        return {"failures": self.failures, "cost": cost, "edits": self.edits}


@dataclass(frozen=True)
class TestOutcome:
    """One test's result, as the harness reported it."""

    name: str
    passed: bool
    error: str = ""
    counterexample: str = ""


@dataclass(frozen=True)
class Evaluation:
    """One sandboxed evaluation of a candidate against a suite."""

    fitness: Fitness
    outcome: str
    meter: str
    tests: tuple[TestOutcome, ...]
    benchmarks: dict[str, float]
    detail: str
    stderr_tail: str
    wall_seconds: float
    #: The traceback of the exception behind `detail`, when there is one.
    error_traceback: str = ""
    #: Name of the sandbox backend that ran the evaluation.
    backend: str = ""

    @property
    def passed(self) -> bool:
        return self.fitness.failures == 0 and self.outcome == Outcome.OK.value

    def to_json(self) -> dict:
        return {
            **self.fitness.to_json(),
            "outcome": self.outcome,
            "backend": self.backend,
            "meter": self.meter,
            "tests": [vars(test) for test in self.tests],
            "benchmarks": self.benchmarks,
            "detail": self.detail,
            "error_traceback": self.error_traceback,
            "stderr_tail": self.stderr_tail,
            "wall_seconds": round(self.wall_seconds, 4),
        }


#: Length of the report key; the guest requests it as this many random bytes, and the
#: wasm backend and `guard.py` use the same number.
REPORT_KEY_LENGTH = 59


#: Module names the harness itself takes inside the sandbox, which a target cannot
#: have: the suite's import would find the harness's module instead.
RESERVED_MODULE_NAMES = ("guard", "harness")


def harness_source(name: str = "harness.py") -> bytes:
    return resources.files("fitness").joinpath(name).read_bytes()


def build_job(
    candidate_source: str,
    module_name: str,
    suite: Suite,
    settings: EvaluationSettings,
    *,
    run_benchmarks: bool = True,
) -> Job:
    """Lay out the candidate, the suite and the harness as a sandbox job."""
    config = {
        "suite": suite.file_name,
        "module": module_name,
        "max_examples": settings.max_examples,
        "seed": settings.seed,
        "run_benchmarks": run_benchmarks,
        "bench_repeats": settings.bench_repeats,
        "coverage": settings.coverage,
    }
    files = {
        "harness.py": harness_source(),
        "guard.py": harness_source("guard.py"),
        "config.json": json.dumps(config).encode(),
        f"site-packages/{module_name}.py": candidate_source.encode("utf-8"),
        f"suite/{suite.file_name}": suite.source.encode("utf-8"),
    }
    key = secrets.token_bytes(REPORT_KEY_LENGTH)
    return Job(
        files=files,
        argv=("harness.py",),
        limits=settings.limits,
        report_key=key,
        cached=("harness.py", "guard.py"),
    )


def evaluate(
    sandbox: BaseSandbox,
    candidate_source: str,
    module_name: str,
    suite: Suite,
    settings: EvaluationSettings,
    *,
    edits: int = 0,
) -> Evaluation:
    """Run the suite against one candidate in `sandbox` and score it."""
    job = build_job(candidate_source, module_name, suite, settings)
    return score(sandbox.run(job), suite, edits, job.report_key)


def score(result: Result, suite: Suite, edits: int, key: bytes) -> Evaluation:
    """Check the harness's report against the suite and compute the fitness.

    A test counts as passed only if the report marks it passed, and a benchmark that
    raises counts as one more failure. A test the report leaves out
    (the guest died or exited early) counts as failed. A report that names tests the
    suite does not define, repeats one, or whose meter marks do not pair up with its
    benchmarks is classified as tampered and gets the worst fitness.
    """
    events, problem = _verified_events(result, suite, key)
    outcome, detail = result.outcome.value, result.detail
    if problem is not None:
        if result.outcome is Outcome.OK:
            outcome, detail = Outcome.TAMPERED.value, problem
        events = []

    tests = _test_outcomes(events, suite)
    # A benchmark that raises (they may assert their own results) is a failure too.
    bench_errors = [e for e in events if e.get("event") == "bench" and "error" in e]
    failures = sum(not test.passed for test in tests) + len(bench_errors)
    outcome, detail, error_traceback = _explain(events, tests, outcome, detail, result)
    benchmarks = _benchmark_costs(events, result)
    complete = (
        outcome == Outcome.OK.value
        and failures == 0
        and set(benchmarks) == set(suite.benchmarks)
    )
    cost = sum(benchmarks.values()) if complete else math.inf
    return Evaluation(
        fitness=Fitness(failures=failures, cost=cost, edits=edits),
        outcome=outcome,
        meter=result.meter,
        tests=tests,
        benchmarks=benchmarks,
        detail=detail,
        error_traceback=error_traceback,
        stderr_tail=result.stderr[-2000:].decode("utf-8", errors="replace"),
        wall_seconds=result.wall_seconds,
        backend=result.backend,
    )


def _verified_events(result: Result, suite: Suite, key: bytes):
    """Return the report's events, or a reason to treat the run as tampered."""
    events, problem = _parse_report(result.report, key)
    if problem is None and result.report and result.key_requests != 1:
        problem = f"the guest requested the report key {result.key_requests} times"
    tampered = next((e for e in events if e.get("event") == "tampered"), None)
    if problem is None and tampered is not None:
        problem = f"the harness found its environment changed: {tampered.get('reason')}"
    if problem is None:
        problem = _check_protocol(events, suite, result)
    return events, problem


def _explain(events, tests, outcome: str, detail: str, result: Result):
    """Say why tests failed where the sandbox outcome alone does not."""
    kinds = {event.get("event"): event for event in events}
    import_error = kinds.get("import_error")
    if import_error is not None:
        origin = import_error.get("origin", "suite")
        message = f"the {origin} failed to import: {import_error.get('error', '')}"
        return outcome, detail or message, str(import_error.get("traceback", ""))
    bench_error = next((e for e in events if e.get("event") == "bench" and "error" in e), None)
    if bench_error is not None and not detail:
        detail = f"benchmark {bench_error.get('name')} raised {bench_error.get('error')}"
    if events and "done" not in kinds and outcome == Outcome.OK.value:
        running = next((test.name for test in tests if test.error == "not run"), None)
        where = f" during {running}" if running else ""
        status = result.exit_code
        outcome = Outcome.EXIT.value
        detail = f"the guest exited with status {status}{where}, before the harness finished"
    return outcome, detail, ""


def _parse_report(report: bytes, key: bytes) -> tuple[list[dict], str | None]:
    """Verify each line's HMAC and sequence number, then decode it."""
    events = []
    for number, line in enumerate(report.splitlines()):
        text, _, mac = line.rpartition(b"\t")
        expected = hmac.new(key, text, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(mac, expected):
            return [], f"report line {number + 1} is not authenticated by the harness"
        try:
            event = json.loads(text)
        except ValueError:
            return [], f"report line {number + 1} is not JSON"
        if not isinstance(event, dict) or event.get("seq") != number:
            return [], f"report line {number + 1} is out of sequence"
        events.append(event)
    return events, None


def _check_protocol(events: list[dict], suite: Suite, result: Result) -> str | None:
    kinds = [event.get("event") for event in events]
    if kinds.count("start") > 1 or kinds.count("done") > 1:
        return "the report holds more than one start or done event"
    reported = [event.get("name") for event in events if event.get("event") == "test"]
    if len(set(reported)) != len(reported):
        return "the report names a test more than once"
    unknown = set(reported) - set(suite.tests)
    if unknown:
        return f"the report names tests the suite does not define: {sorted(unknown)}"
    benches = [e for e in events if e.get("event") == "bench" and "error" not in e]
    if any(event.get("name") not in suite.benchmarks for event in benches):
        return "the report names a benchmark the suite does not define"
    if result.meter == "fuel":
        # Each finished benchmark is bracketed by two marks; one that raised made
        # only its first mark, and the harness stops at the first that raises.
        failed = sum("error" in event for event in events if event.get("event") == "bench")
        expected = 2 * len(benches) + failed
        # A guest that stopped inside a benchmark made its first mark only.
        stopped = "done" not in kinds and len(result.marks) == expected + 1
        if len(result.marks) != expected and not stopped:
            return (
                f"the guest made {len(result.marks)} meter marks where the harness "
                f"protocol makes {expected}"
            )
    return None


def _test_outcomes(events: list[dict], suite: Suite) -> tuple[TestOutcome, ...]:
    reported = {
        event["name"]: event for event in events if event.get("event") == "test"
    }
    outcomes = []
    for name in suite.tests:
        event = reported.get(name)
        if event is None:
            outcomes.append(TestOutcome(name=name, passed=False, error="not run"))
            continue
        outcomes.append(
            TestOutcome(
                name=name,
                passed=event.get("passed") is True,
                error=str(event.get("error", ""))[:500],
                counterexample=str(event.get("counterexample", ""))[:2000],
            )
        )
    return tuple(outcomes)


def _benchmark_costs(events: list[dict], result: Result) -> dict[str, float]:
    costs: dict[str, float] = {}
    started = [event for event in events if event.get("event") == "bench"]
    for index, event in enumerate(started):
        if "error" in event:
            break
        name = str(event.get("name"))
        if result.meter == "fuel":
            begin, end = result.marks[2 * index], result.marks[2 * index + 1]
            costs[name] = float(end - begin)
        else:
            timings = [float(value) for value in event.get("seconds", [])]
            if not timings:
                break
            # The median ignores the odd repetition slowed by another process.
            costs[name] = statistics.median(timings)
    return costs
