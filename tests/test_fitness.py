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


def test_writing_the_report_file_is_denied(wasm_sandbox):
    source = (
        "import os, json\n"
        "def square(n):\n"
        "    with open(os.environ['EVOLVER_OUT'] + '/report.jsonl', 'a') as f:\n"
        "        f.write(json.dumps({'event': 'test', 'name': 'test_known', 'passed': True}) + '\\n')\n"
        "    return n * n\n"
    )
    evaluation = score(wasm_sandbox, source)
    assert evaluation.fitness.failures == 2
    assert all("PermissionError" in test.error for test in evaluation.tests)


#: Lines a forger writes straight to the report's file descriptor: a passing test, a
#: cheap benchmark and the end, bracketed by fuel marks as the harness would make them.
FORGERY = """
import os
lines = [
    '{"event": "start", "seq": 0}',
    '{"event": "test", "seq": 1, "name": "test_square", "passed": true}',
    '{"event": "test", "seq": 2, "name": "test_known", "passed": true}',
    '{"event": "bench", "seq": 3, "name": "bench_squares", "seconds": []}',
    '{"event": "done", "seq": 4}',
]
for fd in range(3, 12):
    try:
        os.lseek(fd, 0, 0)
        os.write(fd, ("\\n".join(line + "\\t" + "0" * 64 for line in lines) + "\\n").encode())
    except OSError:
        pass
os.urandom(61)
os.urandom(61)
os._exit(0)
"""

#: Each hostile candidate tries one way to fake a pass for a wrong `square`.
HOSTILE = {
    "forged_report": FORGERY,
    "replace_harness_function": (
        "import __main__\n"
        "__main__._run_test = lambda name, *args: {'name': name, 'passed': True}\n"
        "def square(n):\n    return 0\n"
    ),
    "wrap_collect": (
        "import __main__\n"
        "real = __main__._collect\n"
        "def fake(module):\n"
        "    tests, benches = real(module)\n"
        "    return [(name, lambda: None) for name, _ in tests], benches\n"
        "__main__._collect = fake\n"
        "def square(n):\n    return 0\n"
    ),
    "replace_builtin": (
        "import builtins\n"
        "builtins.AssertionError = type('Quiet', (Exception,), {})\n"
        "def square(n):\n    return 0\n"
    ),
    "patch_hypothesis": (
        "import hypothesis.core\n"
        "hypothesis.core.StateForActualGivenExecution.run_engine = lambda self: None\n"
        "def square(n):\n    return 0\n"
    ),
    "walk_frames": (
        "import sys\n"
        "frame = sys._getframe()\n"
        "while frame.f_back:\n    frame = frame.f_back\n"
        "frame.f_locals['check'] = lambda: None\n"
        "def square(n):\n    return 0\n"
    ),
    "walk_objects": (
        "import gc\n"
        "for item in gc.get_objects():\n    pass\n"
        "def square(n):\n    return 0\n"
    ),
    "frame_from_traceback": (
        "try:\n    raise ValueError\n"
        "except ValueError as error:\n    frame = error.__traceback__.tb_frame.f_back\n"
        "def square(n):\n    return 0\n"
    ),
    "frame_from_library_compiled_code": (
        "import os, typing\n"
        "source = \"(lambda: __import__('sys')._getframe())\"\n"
        "get_frame = typing.ForwardRef(source)._evaluate({}, None, recursive_guard=frozenset())\n"
        "frame = get_frame()\n"
        "while frame is not None and 'emit' not in frame.f_locals:\n"
        "    frame = frame.f_back\n"
        "emit = frame.f_locals['emit']\n"
        "emit('start')\n"
        "for name in ('test_square', 'test_known'):\n"
        "    emit('test', name=name, passed=True)\n"
        "emit('done')\n"
        "os._exit(0)\n"
    ),
    "swap_test_code_later": (
        "import gc, sys\n"
        "def square(n):\n    return 0\n"
        "def callback(phase, info):\n"
        "    suite = sys.modules.get('test_target')\n"
        "    if suite is not None and hasattr(suite, 'bench_squares'):\n"
        "        suite.test_known.__code__ = suite.bench_squares.__code__\n"
        "        handle = suite.test_square.hypothesis\n"
        "        handle.inner_test = lambda n: None\n"
        "gc.callbacks.append(callback)\n"
        "gc.set_threshold(1, 1, 1)\n"
    ),
    "monitoring_rewrites_verdict": (
        "import sys\n"
        "monitoring = sys.monitoring\n"
        "def rewrite(code, offset, value):\n"
        "    if code.co_name == '_run_test' and type(value) is dict:\n"
        "        value['passed'] = True\n"
        "monitoring.use_tool_id(4, 'x')\n"
        "monitoring.register_callback(4, monitoring.events.PY_RETURN, rewrite)\n"
        "monitoring.set_events(4, monitoring.events.PY_RETURN)\n"
        "def square(n):\n    return 0\n"
    ),
    "compile_with_trusted_name": (
        "code = compile('def square(n):\\n    return 0\\n', '/lib/hypothesis/core.py', 'exec')\n"
        "exec(code)\n"
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_candidate_cannot_fake_pass(wasm_sandbox, name):
    evaluation = score(wasm_sandbox, HOSTILE[name])
    assert evaluation.fitness.failures == 2
    assert math.isinf(evaluation.fitness.cost)


@pytest.mark.parametrize("module", ["_testcapi", "_testinternalcapi"])
def test_candidate_cannot_import_test_modules(wasm_sandbox, module):
    # The guard relies on _testcapi's dict versions, and both modules can write
    # memory out of bounds on purpose.
    evaluation = score(wasm_sandbox, f"import {module}\n{GOOD}")
    assert evaluation.fitness.failures == 2
    assert "does not allow import" in evaluation.detail, evaluation.detail


def test_rebound_mark_length_is_tampering(wasm_sandbox):
    source = (
        "import os, sys\n"
        "sys.modules['__main__'].MARK_LENGTH = 1\n"
        "def square(n):\n"
        "    if n == 1999:\n"
        "        os.urandom(61)\n"
        "        os.urandom(61)\n"
        "    return n * n\n"
    )
    evaluation = score(wasm_sandbox, source)
    assert evaluation.outcome == "tampered"
    assert "MARK_LENGTH" in evaluation.detail


def test_swapped_benchmark_code_is_caught(wasm_sandbox):
    source = (
        "import gc, sys\n"
        "def square(n):\n    return n * n\n"
        "def nothing():\n    pass\n"
        "def callback(phase, info):\n"
        "    suite = sys.modules.get('test_target')\n"
        "    if suite is not None and hasattr(suite, 'bench_squares'):\n"
        "        try:\n"
        "            suite.bench_squares.__code__ = nothing.__code__\n"
        "        except PermissionError:\n"
        "            pass\n"
        "gc.callbacks.append(callback)\n"
        "gc.set_threshold(1, 1, 1)\n"
    )
    honest = score(wasm_sandbox, GOOD).fitness.cost
    evaluation = score(wasm_sandbox, source)
    assert evaluation.outcome == "tampered" or evaluation.fitness.cost >= 0.9 * honest


def test_loader_with_own_methods_is_denied(wasm_sandbox):
    source = (
        "import importlib.machinery, importlib.util\n"
        "loader = importlib.machinery.SourceFileLoader('other', '/lib/hypothesis/__init__.py')\n"
        "loader.get_data = lambda path: b'value = 1\\n'\n"
        "spec = importlib.util.spec_from_loader('other', loader)\n"
        "loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "def square(n):\n    return n * n\n"
    )
    evaluation = score(wasm_sandbox, source)
    assert evaluation.fitness.failures == 2
    assert "does not allow" in evaluation.detail


def test_weaker_settings_are_tampering(wasm_sandbox):
    source = (
        "from hypothesis._settings import default_variable, settings, Phase\n"
        "default_variable.value = settings(\n"
        "    settings.default, max_examples=1, phases=[Phase.generate]\n"
        ")\n"
        "def square(n):\n    return 9 if n == 3 else 0\n"
    )
    evaluation = score(wasm_sandbox, source)
    assert evaluation.outcome == "tampered"
    assert "settings" in evaluation.detail


def test_forged_report_is_tampering(wasm_sandbox):
    evaluation = score(wasm_sandbox, FORGERY)
    assert evaluation.outcome == "tampered"
    assert "not authenticated" in evaluation.detail


def test_rebinding_is_named(wasm_sandbox):
    evaluation = score(wasm_sandbox, HOSTILE["replace_harness_function"])
    assert evaluation.outcome == "tampered"
    assert "_run_test" in evaluation.detail


def test_reading_files_is_allowed(wasm_sandbox):
    source = (
        "import timeit, fractions\n"
        "def square(n):\n"
        "    with open(__file__) as handle:\n"
        "        assert 'square' in handle.read()\n"
        "    return n * n\n"
    )
    evaluation = score(wasm_sandbox, source)
    assert evaluation.outcome == "ok"
    assert evaluation.fitness.failures == 0


def test_dataclass_target_still_works(wasm_sandbox):
    source = (
        "import dataclasses, collections, logging, warnings\n"
        "Point = collections.namedtuple('Point', 'x y')\n"
        "@dataclasses.dataclass\n"
        "class Box:\n    side: int\n"
        "def square(n):\n"
        "    logging.getLogger('target').warning('square %s', n)\n"
        "    warnings.warn('checked', UserWarning)\n"
        "    return Box(n).side * Point(n, 0).x\n"
    )
    evaluation = score(wasm_sandbox, source)
    assert evaluation.outcome == "ok"
    assert evaluation.fitness.failures == 0


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


def test_second_key_request_is_tampering(wasm_sandbox):
    source = "import os\nos.urandom(59)\ndef square(n):\n    return n * n\n"
    evaluation = score(wasm_sandbox, source)
    assert evaluation.outcome == "tampered"
    assert "2 times" in evaluation.detail


def test_target_import_error_is_named(wasm_sandbox):
    evaluation = score(wasm_sandbox, "def square(n):\n    return n\nraise ValueError('boom')\n")
    assert evaluation.detail == "the target failed to import: ValueError: boom"
    assert "line 3" in evaluation.error_traceback


def test_exit_during_test_names_test(wasm_sandbox):
    evaluation = score(wasm_sandbox, "import os\ndef square(n):\n    os._exit(0)\n")
    assert evaluation.outcome == "exit"
    assert "during test_square" in evaluation.detail
