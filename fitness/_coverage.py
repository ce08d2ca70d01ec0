"""Line coverage of the target per test, measured by the harness in the sandbox.

The harness records the lines of the target that each test executes with
`sys.monitoring`. It sends them as `coverage` events in its authenticated report, so
a candidate can neither write coverage of its own nor add lines it did not run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sandbox import BaseSandbox

from ._evaluate import (
    Evaluation,
    EvaluationSettings,
    _verified_events,
    build_job,
    score,
)
from ._suite import Suite

__all__ = ["Coverage", "TestCoverage", "measure_coverage"]


@dataclass(frozen=True)
class TestCoverage:
    """The lines of the target that one test executed, and whether the test passed."""

    name: str
    passed: bool
    lines: frozenset[int]


@dataclass(frozen=True)
class Coverage:
    """The coverage of every test of one evaluation, or why there is none.

    `tests` is empty and `problem` gives the reason when the report carried no usable
    coverage: the guest has no `sys.monitoring` (CPython before 3.12), the report
    was rejected, or a coverage event broke the protocol.
    """

    evaluation: Evaluation
    tests: tuple[TestCoverage, ...]
    problem: str = ""


def measure_coverage(
    sandbox: BaseSandbox,
    source: str,
    module_name: str,
    suite: Suite,
    settings: EvaluationSettings,
) -> Coverage:
    """Run the suite's tests on `source` with line coverage, without benchmarks."""
    settings = replace(settings, coverage=True)
    job = build_job(source, module_name, suite, settings, run_benchmarks=False)
    result = sandbox.run(job)
    evaluation = score(result, suite, 0, job.report_key)
    events, problem = _verified_events(result, suite, job.report_key)
    if problem is not None:
        return Coverage(evaluation, (), f"the report was rejected: {problem}")
    lines, problem = _coverage_events(events, suite)
    if problem is not None:
        return Coverage(evaluation, (), problem)

    passed = {test.name: test.passed for test in evaluation.tests}
    tests = tuple(
        TestCoverage(name, passed[name], lines[name])
        for name in suite.tests
        if name in lines
    )
    return Coverage(evaluation, tests)


def _coverage_events(
    events: list[dict], suite: Suite
) -> tuple[dict[str, frozenset[int]], str | None]:
    """Return the lines of each test, or the reason the coverage cannot be used."""
    lines: dict[str, frozenset[int]] = {}
    previous = None
    for event in events:
        if event.get("event") != "coverage":
            previous = event
            continue
        name = event.get("name")
        numbers = event.get("lines")
        follows_test = previous is not None and previous.get("event") == "test"
        if not follows_test or previous.get("name") != name:
            return {}, f"the coverage of {name!r} does not follow its test's result"
        if name not in suite.tests or name in lines:
            return (
                {},
                f"the report gives coverage of {name!r} twice or of an unknown test",
            )
        valid = isinstance(numbers, list) and all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in numbers
        )
        if not valid:
            return {}, f"the coverage of {name!r} is not a list of line numbers"
        lines[name] = frozenset(numbers)
        previous = event
    if not lines:
        return {}, "the guest reported no coverage, which needs CPython 3.12 or newer"
    return lines, None
