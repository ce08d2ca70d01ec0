"""Run a suite against a candidate inside a sandbox and write a report.

This file runs inside the guest, on CPython 3.11 or newer, with only the standard
library and hypothesis. It is not imported by the host.

The job folder contains `config.json`, this harness and `guard.py`, the candidate as
`site-packages/<module>.py` (a folder hypothesis treats as third-party code, so it
does not mine the candidate's literals and every candidate sees the same examples)
and the suite under `suite/`.

The report is one line per event in `$EVOLVER_OUT/report.jsonl`, each a JSON object
followed by a tab and its HMAC (see `guard.py`): `start`, then one `test` event per
test in definition order, then one `bench` event per benchmark (only when every test
passed), then `done`. When `config["coverage"]` is true, each `test` event is followed
by a `coverage` event that lists the candidate's lines the test executed. A
`tampered` event replaces the rest when the harness finds its environment changed. With the fuel meter each benchmark is bracketed by two
meter marks, and the host pairs marks with `bench` events in order. With the seconds
meter the harness reads `time.perf_counter_ns()` around each of `bench_repeats`
repetitions and reports every duration; the host takes their median. The candidate's
own output goes to stdout and stderr, which the host never parses.

The report key comes from the host before any candidate code is imported: as the
first request of `KEY_LENGTH` random bytes under wasm, or, when `EVOLVER_KEY_SOURCE`
is `stdin` (the docker and process backends), as the first `KEY_LENGTH` bytes of
stdin, which the harness then closes, so that a second read finds nothing.
"""

import gc
import json
import os
import sys
import time
import traceback
import types

#: Must equal `sandbox._wasm.MARK_LENGTH`: a request for this many random bytes makes
#: the host record the fuel consumed so far.
MARK_LENGTH = 61


def main() -> int:
    urandom, mark_length, clock = os.urandom, MARK_LENGTH, time.perf_counter_ns
    # Candidate code can rebind this module's names between two checks, so every
    # function used after the import is a local taken now.
    import_suite, collect, check_functions = _import_suite, _collect, _check_functions
    run_test, run_benchmark, marker = _run_test, _run_benchmark, _marker
    line_coverage = _line_coverage
    job = os.environ["EVOLVER_JOB"]
    sys.path.insert(0, job)
    import guard

    if os.environ.get("EVOLVER_KEY_SOURCE") == "stdin":
        key = _read_key(guard.KEY_LENGTH)
    else:
        # The key must be the first request of its size: the host flags any later one.
        key = urandom(guard.KEY_LENGTH)
    out = os.environ["EVOLVER_OUT"]
    meter = os.environ.get("EVOLVER_METER", "seconds")
    with open(os.path.join(job, "config.json")) as handle:
        config = json.load(handle)
    report = open(os.path.join(out, "report.jsonl"), "w")
    emit = guard.make_reporter(report, key)
    del key

    sys.path[:1] = [os.path.join(job, "site-packages"), os.path.join(job, "suite")]
    hypothesis = _configure_hypothesis(config)
    seed_test = hypothesis.seed
    suite_path = os.path.join(job, "suite", config["suite"])
    with open(suite_path, encoding="utf-8") as handle:
        suite_code = compile(handle.read(), suite_path, "exec")
    wrapper_file = sys.modules["hypothesis.core"].__file__
    candidate_path = os.path.join(job, "site-packages", config["module"] + ".py")
    begin_coverage = end_coverage = None
    if config.get("coverage"):
        # `guard.arm` takes sys.monitoring away, so the tool is registered before.
        tool = line_coverage(candidate_path)
        if tool is not None:
            begin_coverage, end_coverage = tool
    check, protect = guard.arm(candidate_path)
    emit("start")

    suite = import_suite(suite_code, suite_path, candidate_path, emit)
    if suite is None:
        emit("done")
        return 0
    tests, benchmarks = collect(suite)
    protect([function for _, function in tests + benchmarks], vars(suite))
    wrapper_files = (wrapper_file, "<string>", suite_path)
    problem = check() or check_functions(tests + benchmarks, suite_code, wrapper_files)
    if problem is not None:
        emit("tampered", reason=problem)
        return 0

    all_passed = True
    for name, function in tests:
        if begin_coverage is not None:
            begin_coverage()
        verdict = run_test(name, function, seed_test, config["seed"])
        lines = end_coverage() if end_coverage is not None else None
        problem = check()
        if problem is not None:
            emit("tampered", reason=problem)
            return 0
        emit("test", **verdict)
        if lines is not None:
            emit("coverage", name=name, lines=lines)
        all_passed = all_passed and verdict["passed"]
    if all_passed and config.get("run_benchmarks", True):
        repeats = 1 if meter == "fuel" else int(config.get("bench_repeats", 5))
        for name, function in benchmarks:
            mark = marker(urandom, mark_length)
            verdict = run_benchmark(name, function, meter, repeats, mark, clock)
            problem = check()
            if problem is not None:
                emit("tampered", reason=problem)
                return 0
            emit("bench", **verdict)
            if "error" in verdict:
                break
    emit("done")
    report.close()
    return 0


def prepare() -> None:
    """Import what every evaluation needs and run one small hypothesis test.

    The warm wasm mode runs this once in a guest that it then forks for each
    evaluation, so that none of them pays for these imports, nor for the modules
    hypothesis imports only when a test first runs.
    """
    import guard
    import hypothesis
    import hypothesis.strategies

    @hypothesis.settings(database=None, deadline=None, max_examples=3)
    @hypothesis.given(hypothesis.strategies.lists(hypothesis.strategies.integers()))
    def warm_up(values):
        sorted(values)

    warm_up()
    guard.preload(snapshot=True)
    # Every object made so far outlives each evaluation. Frozen, the collector never
    # scans them again, so a collection in an evaluation costs what that evaluation
    # allocated instead of a walk over the whole started heap.
    gc.collect()
    gc.freeze()


def _line_coverage(candidate_path: str):
    """Register a line-coverage tool for `candidate_path` and return `(begin, end)`.

    `begin()` starts recording the candidate's executed lines for one test and
    `end()` stops and returns them, sorted. The tool registers with `sys.monitoring`
    before `guard.arm` removes that module's functions, and keeps its own references
    to the few it needs. The candidate cannot reach them or the callback, so it
    cannot add a line other than by executing it. Each location reports once per
    test and is then disabled, so the cost is one callback per executed line.
    `sys.monitoring` exists from CPython 3.12: an older guest gets None and reports
    no coverage.
    """
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return None
    tool, line_event = monitoring.COVERAGE_ID, monitoring.events.LINE
    disable, set_events = monitoring.DISABLE, monitoring.set_events
    restart, to_sorted = monitoring.restart_events, sorted
    lines = set()
    add, clear = lines.add, lines.clear

    def on_line(code, line):
        if code.co_filename == candidate_path:
            add(line)
        return disable

    monitoring.use_tool_id(tool, "evolver coverage")
    monitoring.register_callback(tool, line_event, on_line)

    def begin():
        clear()
        restart()
        set_events(tool, line_event)

    def end():
        set_events(tool, 0)
        return to_sorted(lines)

    return begin, end


def _read_key(length: int) -> bytes:
    """Read the report key from stdin, then close stdin for good."""
    key = b""
    while len(key) < length:
        chunk = os.read(0, length - len(key))
        if not chunk:
            break
        key += chunk
    # Descriptor 0 now reads from /dev/null, so a later read by the candidate ends
    # at once and no later open reuses the number.
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)
    if len(key) != length:
        raise SystemExit(f"the harness received {len(key)} of {length} key bytes on stdin")
    return key


def _configure_hypothesis(config: dict):
    import hypothesis
    import hypothesis.strategies
    from hypothesis import HealthCheck, Phase, settings

    settings.register_profile(
        "evolver",
        database=None,
        deadline=None,
        max_examples=int(config["max_examples"]),
        derandomize=False,
        print_blob=False,
        # The explain phase traces the test with sys.monitoring, which the guard
        # takes away from the guest.
        phases=[p for p in Phase if p is not Phase.explain],
        # Slowness is the cost objective's business, not a failure.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
    )
    settings.load_profile("evolver")
    return hypothesis


def _import_suite(code, path: str, candidate_path: str, emit):
    name = os.path.splitext(os.path.basename(path))[0]
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException as error:  # noqa: BLE001 - the candidate may raise anything
        # The error is the target's when its own code raised it.
        frames = traceback.extract_tb(error.__traceback__)
        in_target = any(frame.filename == candidate_path for frame in frames)
        emit(
            "import_error",
            origin="target" if in_target else "suite",
            error=_describe(error),
            traceback=_traceback_tail(error),
        )
        return None
    return module


def _collect(module):
    tests, benchmarks = [], []
    for name, value in list(vars(module).items()):
        if not callable(value):
            continue
        if name.startswith("test_"):
            tests.append((name, value))
        elif name.startswith("bench_"):
            benchmarks.append((name, value))
    return tests, benchmarks


def _check_functions(functions, suite_code, wrapper_files):
    """Name a test or benchmark that does not run its own code, or return None.

    Each must be a plain function whose code is the code the suite compiled under
    its name; a hypothesis test is a hypothesis wrapper around such a function.
    """
    expected = []
    pending = [suite_code]
    while pending:
        code = pending.pop()
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                expected.append(constant)
                pending.append(constant)
    for name, function in functions:
        inner = getattr(getattr(function, "hypothesis", None), "inner_test", None)
        if inner is not None:
            # hypothesis builds its wrapper with exec and, on some versions of Python,
            # gives its code the test's file name.
            wrapper = getattr(function, "__code__", None)
            filename = getattr(wrapper, "co_filename", None)
            plain = type(function) is types.FunctionType
            if not plain or filename not in wrapper_files:
                return f"the test {name} is not wrapped by hypothesis.given ({type(function).__name__} from {filename})"
            function = inner
        code = getattr(function, "__code__", None)
        own = [c for c in expected if c.co_name == name]
        if type(function) is not types.FunctionType or not any(code is c for c in own):
            return f"{name} does not run the code the suite defines for it"
    return None


def _run_test(name: str, function, seed_test, seed: int) -> dict:
    if getattr(function, "is_hypothesis_test", False):
        function = seed_test(seed)(function)
    try:
        function()
    except BaseException as error:  # noqa: BLE001 - a failing test is data
        notes = [str(note) for note in getattr(error, "__notes__", [])]
        return {
            "name": name,
            "passed": False,
            "error": _describe(error),
            "counterexample": "\n".join(notes)[-2000:],
            "traceback": _traceback_tail(error),
        }
    return {"name": name, "passed": True}


def _marker(urandom, length: int):
    def mark():
        urandom(length)

    return mark


def _run_benchmark(name: str, function, meter: str, repeats: int, mark, clock) -> dict:
    timings = []
    for _ in range(repeats):
        gc.collect()
        try:
            if meter == "fuel":
                mark()
                function()
                mark()
            else:
                started = clock()
                function()
                timings.append((clock() - started) / 1e9)
        except BaseException as error:  # noqa: BLE001 - a failing benchmark is data
            return {"name": name, "error": _describe(error)}
    return {"name": name, "seconds": timings}


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text[:500]


def _traceback_tail(error: BaseException) -> str:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return "".join(lines)[-3000:]


if __name__ == "__main__":
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the candidate may have replaced it
            pass
    # Every report line is already flushed, and the interpreter's teardown would cost
    # more time than a small suite takes to run.
    os._exit(status)
