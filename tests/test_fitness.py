"""Scoring a candidate: test results, benchmark fuel, and reports a candidate forges."""

from __future__ import annotations

import math

import pytest

from fitness import EvaluationSettings, Suite, SuiteError, evaluate

from .conftest import EXAMPLES

SETTINGS = EvaluationSettings(max_examples=10)

SUITE = Suite.from_source(
    '''
from hypothesis import given, strategies as st
import target

@given(st.integers(0, 50))
def test_square(n):
    assert target.square(n) == n * n

def test_known():
    assert target.square(3) == 9

def bench_squares():
    for i in range(2000):
        target.square(i)
''',
    "test_target.py",
)

GOOD = "def square(n):\n    return n * n\n"
SLOW = "def square(n):\n    total = 0\n    for _ in range(n):\n        total += n\n    return total\n"
WRONG = "def square(n):\n    return n + n\n"


def score(sandbox, source: str):
    return evaluate(sandbox, source, "target", SUITE, SETTINGS)


def test_passing_candidate_has_cost(wasm_sandbox):
    evaluation = score(wasm_sandbox, GOOD)
    assert evaluation.outcome == "ok"
    assert evaluation.fitness.failures == 0
    assert set(evaluation.benchmarks) == {"bench_squares"}
    assert evaluation.fitness.cost == evaluation.benchmarks["bench_squares"] > 0


def test_cost_is_reproducible(wasm_sandbox):
    assert score(wasm_sandbox, GOOD).fitness == score(wasm_sandbox, GOOD).fitness


def test_slower_candidate_costs_more(wasm_sandbox):
    fast = score(wasm_sandbox, GOOD).fitness.cost
    slow = score(wasm_sandbox, SLOW).fitness.cost
    assert slow > 10 * fast


def test_wrong_candidate_fails_with_counterexample(wasm_sandbox):
    evaluation = score(wasm_sandbox, WRONG)
    assert evaluation.fitness.failures == 2
    assert math.isinf(evaluation.fitness.cost)
    assert evaluation.benchmarks == {}
    square = next(t for t in evaluation.tests if t.name == "test_square")
    assert "n=" in square.counterexample


def test_import_error_fails_every_test(wasm_sandbox):
    evaluation = score(wasm_sandbox, "raise ImportError('broken')\n")
    assert evaluation.fitness.failures == 2
    assert "failed to import" in evaluation.detail


def test_printed_fake_report_is_ignored(wasm_sandbox):
    forged = (
        'import sys\n'
        'print(\'{"event": "test", "name": "test_square", "passed": true}\')\n'
        'print(\'{"event": "done"}\')\n'
        "def square(n):\n    return 0\n"
    )
    evaluation = score(wasm_sandbox, forged)
    assert evaluation.fitness.failures == 2


def test_exit_during_import_fails_every_test(wasm_sandbox):
    evaluation = score(wasm_sandbox, "import os\nos._exit(0)\n")
    assert evaluation.fitness.failures == 2
    assert all(test.error == "not run" for test in evaluation.tests)


def test_sys_exit_inside_test_is_a_failure(wasm_sandbox):
    evaluation = score(wasm_sandbox, "import sys\ndef square(n):\n    sys.exit(0)\n")
    assert evaluation.fitness.failures == 2


def test_extra_meter_marks_are_tampering(wasm_sandbox):
    source = "import os\ndef square(n):\n    os.urandom(61)\n    return n * n\n"
    evaluation = score(wasm_sandbox, source)
    assert evaluation.outcome == "tampered"
    assert math.isinf(evaluation.fitness.cost)


def test_writing_the_report_file_is_tampering(wasm_sandbox):
    source = (
        "import os, json\n"
        "def square(n):\n"
        "    with open(os.environ['EVOLVER_OUT'] + '/report.jsonl', 'a') as f:\n"
        "        f.write(json.dumps({'event': 'test', 'name': 'test_known', 'passed': True}) + '\\n')\n"
        "    return n * n\n"
    )
    evaluation = score(wasm_sandbox, source)
    assert evaluation.outcome == "tampered"


def test_example_suite_passes_on_original(wasm_sandbox):
    suite = Suite.from_file(EXAMPLES / "stats" / "test_stats.py")
    source = (EXAMPLES / "stats" / "stats.py").read_text()
    evaluation = evaluate(wasm_sandbox, source, "stats", suite, SETTINGS)
    assert evaluation.passed
    assert set(evaluation.benchmarks) == set(suite.benchmarks)


def test_suite_without_tests_is_rejected():
    with pytest.raises(SuiteError, match="defines no test_"):
        Suite.from_source("def helper():\n    pass\n")


def test_suite_syntax_error_names_line():
    with pytest.raises(SuiteError, match="line 1"):
        Suite.from_source("def test_x(:\n")


def test_missing_suite_file_is_rejected(tmp_path):
    with pytest.raises(SuiteError, match="does not exist"):
        Suite.from_file(tmp_path / "nope.py")


def test_raising_benchmark_is_a_failure(wasm_sandbox):
    suite = Suite.from_source(
        "import target\n\ndef test_ok():\n    pass\n\n"
        "def bench_checked():\n    assert target.square(4) == 16\n",
        "test_target.py",
    )
    evaluation = evaluate(wasm_sandbox, WRONG, "target", suite, SETTINGS)
    assert evaluation.fitness.failures == 1
    assert "bench_checked" in evaluation.detail
    assert math.isinf(evaluation.fitness.cost)
