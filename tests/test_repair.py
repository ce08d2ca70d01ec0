"""Repair mode: coverage per test, Ochiai scores, weighted sites and failures, the run."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

import fitness
from archive import Archive
from evolver._config import build_config
from evolver._errors import EXIT_ORIGINAL_FAILS, ConfigError
from evolver._repair import RepairPlan, plan_repair
from fitness import (
    DifferentialSettings,
    Evaluation,
    EvaluationSettings,
    Fitness,
    Suite,
    draw_inputs,
    measure_coverage,
    ochiai,
)
from genomes import LocationWeights, Target

from .conftest import EXAMPLES
from .test_cli import evolver, start_evolver, wait_for_generation
from .test_resume import archive_contents

REPAIR = EXAMPLES / "repair"
#: The line of `count_above` in examples/repair/grades.py, where the bug is planted.
BUG_LINE = 25

MEDIAN = textwrap.dedent(
    """\
    def median(values):
        ordered = sorted(values)
        middle = len(ordered) // 2
        if len(ordered) % 2 == 1:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 3
    """
)
MEDIAN_SUITE = textwrap.dedent(
    """\
    from hypothesis import given, strategies as st
    import medians

    def test_odd():
        assert medians.median([3, 1, 2]) == 2

    @given(st.integers(-100, 100))
    def test_even(x):
        assert medians.median([x, x + 2]) == x + 1
    """
)


@pytest.fixture
def median_suite(tmp_path: Path) -> Suite:
    path = tmp_path / "test_medians.py"
    path.write_text(MEDIAN_SUITE)
    return Suite.from_file(path)


def test_ochiai_hand_computed():
    tests = [
        fitness.TestCoverage("first", False, frozenset({1, 2, 3})),
        fitness.TestCoverage("second", False, frozenset({1, 3})),
        fitness.TestCoverage("third", True, frozenset({1, 2, 4})),
    ]
    scores = ochiai(tests)
    # total_failed = 2. Line 3: 2 / sqrt(2 * 2). Line 1: 2 / sqrt(2 * 3).
    # Line 2: 1 / sqrt(2 * 2). Line 4: no failing test ran it.
    assert [item.line for item in scores] == [3, 1, 2, 4]
    assert scores[0].score == pytest.approx(1.0)
    assert scores[1].score == pytest.approx(2 / math.sqrt(6))
    assert scores[2].score == pytest.approx(0.5)
    assert scores[3].score == 0.0
    assert (scores[1].failed, scores[1].passed) == (2, 1)


def test_ochiai_without_failing_tests_is_zero():
    tests = [fitness.TestCoverage("only", True, frozenset({5, 6}))]
    assert [item.score for item in ochiai(tests)] == [0.0, 0.0]


def test_coverage_per_test_in_wasm(wasm_sandbox, median_suite):
    coverage = measure_coverage(
        wasm_sandbox,
        MEDIAN,
        "medians",
        median_suite,
        EvaluationSettings(max_examples=5),
    )
    assert coverage.problem == ""
    lines = {test.name: test.lines for test in coverage.tests}
    assert lines == {"test_odd": {2, 3, 4, 5}, "test_even": {2, 3, 4, 6}}
    passed = {test.name: test.passed for test in coverage.tests}
    assert passed == {"test_odd": True, "test_even": False}
    assert ochiai(coverage.tests)[0].line == 6


def test_coverage_is_off_by_default(wasm_sandbox, median_suite):
    from fitness import build_job

    job = build_job(MEDIAN, "medians", median_suite, EvaluationSettings())
    result = wasm_sandbox.run(job)
    assert b'"coverage"' not in result.report


#: A candidate that tries to add line 40 to its coverage in every way it can reach:
#: writing to the report, printing a coverage event, and restoring sys.monitoring.
FORGER = textwrap.dedent(
    """\
    import os
    import sys

    def median(values):
        attempts = []
        try:
            with open(os.environ["EVOLVER_OUT"] + "/report.jsonl", "a") as report:
                report.write('{"event": "coverage", "name": "test_odd", "lines": [40]}')
        except OSError as error:
            attempts.append(error)
        print('{"event": "coverage", "name": "test_odd", "lines": [40]}')
        try:
            sys.monitoring.register_callback(1, 1, None)
        except AttributeError as error:
            attempts.append(error)
        return sorted(values)[len(values) // 2]
    """
)


def test_candidate_cannot_forge_coverage(wasm_sandbox, median_suite):
    coverage = measure_coverage(
        wasm_sandbox,
        FORGER,
        "medians",
        median_suite,
        EvaluationSettings(max_examples=5),
    )
    assert coverage.problem == ""
    lines = {test.name: test.lines for test in coverage.tests}
    # Line 8 never runs, because the guard denies opening the report for writing.
    assert lines["test_odd"] == set(range(5, 17)) - {8}
    assert 40 not in lines["test_even"]


class _AppendingSandbox:
    """The real wasm sandbox, with a line appended to each report after the run."""

    def __init__(self, sandbox, line: bytes) -> None:
        self.sandbox = sandbox
        self.line = line

    def run(self, job):
        result = self.sandbox.run(job)
        return replace(result, report=result.report + self.line)


def test_unauthenticated_coverage_is_rejected(wasm_sandbox, median_suite):
    forged = b'{"event": "coverage", "seq": 99, "name": "test_odd", "lines": [6]}\t' + (
        b"0" * 64 + b"\n"
    )
    sandbox = _AppendingSandbox(wasm_sandbox, forged)
    coverage = measure_coverage(
        sandbox, MEDIAN, "medians", median_suite, EvaluationSettings(max_examples=5)
    )
    assert coverage.tests == ()
    assert "not authenticated" in coverage.problem


def _integer_target() -> Target:
    return Target.from_source("def f():\n    a = 10\n    b = 20\n    return a + b\n")


def test_location_weights_draw_in_proportion():
    target = _integer_target()
    weights = LocationWeights({2: 1.0})
    rng = random.Random(3)
    draws = [
        target.random_edit(rng, operators=["integer_constant"], locations=weights)
        for _ in range(4000)
    ]
    share = sum(edit.line == 2 for edit in draws) / len(draws)
    # Line 2 weighs 1 + 0.05 and line 3 weighs 0.05, and both have 5 sites.
    assert share == pytest.approx(1.05 / 1.10, abs=0.02)


def test_location_weights_off_draw_uniformly():
    target = _integer_target()
    rng = random.Random(3)
    draws = [
        target.random_edit(rng, operators=["integer_constant"]) for _ in range(4000)
    ]
    share = sum(edit.line == 2 for edit in draws) / len(draws)
    assert share == pytest.approx(0.5, abs=0.03)


def test_location_floor_must_be_positive():
    from genomes import GenomeError

    with pytest.raises(GenomeError, match="floor"):
        LocationWeights({1: 1.0}, floor=0.0)


def _evaluation(failing: tuple[str, ...], names: tuple[str, ...]) -> Evaluation:
    tests = tuple(fitness.TestOutcome(name, name not in failing) for name in names)
    return Evaluation(
        fitness=Fitness(failures=len(failing), cost=math.inf, edits=1),
        outcome="ok",
        meter="fuel",
        tests=tests,
        benchmarks={},
        detail="",
        stderr_tail="",
        wall_seconds=0.0,
    )


def test_weighted_failures_favour_negative_tests():
    plan = RepairPlan(negative_tests=("bad",), weight=10, suspicious=())
    names = ("bad", "good", "other")
    assert plan.weighted_failures(_evaluation(("bad",), names)) == 10
    assert plan.weighted_failures(_evaluation(("good", "other"), names)) == 2
    assert plan.weighted_failures(_evaluation(("bad", "good"), names)) == 11
    assert plan.weighted_failures(_evaluation((), names)) == 0


def test_weighted_failures_of_invalid_variant_are_worst():
    plan = RepairPlan(negative_tests=("bad",), weight=10, suspicious=())
    invalid = replace(_evaluation((), ()), fitness=Fitness(4, math.inf, 1))
    assert plan.weighted_failures(invalid) == 40


def test_repair_plan_round_trips_through_json():
    plan = RepairPlan(
        ("bad",), 7, ochiai([fitness.TestCoverage("bad", False, frozenset({3}))])
    )
    assert RepairPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_repair_weight_below_one_is_rejected(tmp_path: Path):
    with pytest.raises(ConfigError, match="repair_weight"):
        build_config(
            {"target": "a.py", "suite": "b.py", "repair_weight": 0},
            {},
            tmp_path,
            "x.toml",
        )


def _example_config():
    values = {"target": "grades.py", "suite": "test_grades.py", "max_examples": 10}
    return build_config({**values, "repair": True}, {}, REPAIR, "evolver.toml")


def test_suspicious_lines_rank_the_bug_first():
    config = _example_config()
    target = Target.from_file(config.target)
    plan = plan_repair(config, target, Suite.from_file(config.suite))
    assert plan.negative_tests == (
        "test_count_above_matches_a_filter",
        "test_count_above_leaves_out_the_threshold",
    )
    assert plan.suspicious[0].line == BUG_LINE
    assert plan.suspicious[0].score == 1.0
    assert all(item.score < 1.0 for item in plan.suspicious[1:])


def test_differential_keeps_inputs_of_passing_tests(wasm_sandbox):
    suite = Suite.from_file(REPAIR / "test_grades.py")
    settings = DifferentialSettings(
        seed=5, max_examples=5, drawn_inputs=0, passing_tests_only=True
    )
    source = (REPAIR / "grades.py").read_text()
    functions = ("mean", "count_above")
    draw = draw_inputs(wasm_sandbox, source, "grades", suite, functions, settings)
    assert draw.ok
    called = {item.function for item in draw.inputs}
    # Only the failing tests call count_above, so none of its calls is kept.
    assert called == {"mean"}
    assert all(item.origin == "suite" for item in draw.inputs)


def test_failing_original_without_repair_exits_3(tmp_path: Path):
    result = evolver("run", str(REPAIR), "--run-dir", str(tmp_path), "--json")
    assert result.returncode == EXIT_ORIGINAL_FAILS
    message = json.loads(result.stdout)["error"]
    assert "--repair" in message
    assert "test_count_above_leaves_out_the_threshold" in message


FIX = (
    "-    return sum(1 for grade in grades if grade >= threshold)\n"
    "+    return sum(1 for grade in grades if grade > threshold)\n"
)


@pytest.mark.slow
def test_repair_run_promotes_the_fix(tmp_path: Path):
    result = evolver(
        "run", str(REPAIR), "--repair", "--run-dir", str(tmp_path), "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["repair"]["suspicious_lines"][0]["line"] == BUG_LINE
    (gated,) = summary["gated"]
    assert gated["verdict"] == "pass"
    assert summary["promoted"] == [gated["candidate_id"]]
    with Archive.open(tmp_path / "archive.sqlite", readonly=True) as archive:
        record = archive.candidate(summary["run_id"], gated["candidate_id"])
    assert record.failures == 0
    original = (REPAIR / "grades.py").read_text()
    assert record.source == original.replace("grade >= threshold", "grade > threshold")
    body = record.detail["diff"].split("@@", 2)[2]
    changed = "".join(
        line + "\n" for line in body.splitlines() if line.startswith(("+", "-"))
    )
    assert changed == FIX


@pytest.mark.slow
def test_killed_repair_run_resumes_exactly(tmp_path: Path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    result = evolver("run", str(REPAIR), "--repair", "--run-dir", str(whole))
    assert result.returncode == 0, result.stderr

    location = ("run", str(REPAIR), "--run-dir", str(killed))
    process = start_evolver(*location, "--repair")
    try:
        wait_for_generation(killed / "archive.sqlite", 1, process)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    resumed = evolver(*location, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming run" in resumed.stderr
    assert archive_contents(killed / "archive.sqlite") == archive_contents(
        whole / "archive.sqlite"
    )


def test_repair_gate_requires_every_test():
    from evolver._canary_checks import GateRequest, check_suite, run_suite
    from evolver._canary_config import CanaryConfig

    source = (REPAIR / "grades.py").read_text()
    fixed = source.replace("grade >= threshold", "grade > threshold")
    search = EvaluationSettings(max_examples=10, seed=1)
    request = GateRequest(
        module_name="grades",
        original=source,
        candidate=source,
        edits=0,
        suite=Suite.from_file(REPAIR / "test_grades.py"),
        search=search,
        config=CanaryConfig(examples_factor=1),
        sandbox="wasm",
        seeds=(7,),
        on_event=lambda message: None,
        repair=True,
    )
    original = run_suite(request, source, search)
    repaired = run_suite(request, fixed, search)
    # The unchanged original passes the ordinary gate, which forgives the tests it
    # fails itself, but not the repair gate.
    assert (
        check_suite(replace(request, repair=False), [(original, original)]).status
        == "pass"
    )
    unrepaired = check_suite(request, [(original, original)])
    assert unrepaired.status == "fail"
    assert unrepaired.counterexample.startswith("test_count_above_")
    failing = unrepaired.figures["runs"][0]["candidate"]["failing"]
    assert "test_count_above_leaves_out_the_threshold" in failing
    assert check_suite(request, [(original, repaired)]).status == "pass"
