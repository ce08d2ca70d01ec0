"""Run a suite against a candidate inside a sandbox and write a report.

This file runs inside the guest, on CPython 3.11 or newer, with only the standard
library and hypothesis. It is not imported by the host.

The job folder holds `config.json`, the candidate as `site-packages/<module>.py` (a
folder hypothesis treats as third-party code, so it does not mine the candidate's
literals and every candidate sees the same examples) and the suite under `suite/`.

The report is one JSON object per line in `$EVOLVER_OUT/report.jsonl`:
`start`, then one `test` event per test in definition order, then one `bench` event
per benchmark (only when every test passed), then `done`. With the fuel meter each
benchmark is bracketed by two meter marks, and the host pairs marks with `bench`
events in order; with the seconds meter the harness times the benchmark itself.
The candidate's own output goes to stdout and stderr, which the host never parses.

NOTE: the candidate runs in the same interpreter and can open the report file too.
Lines it adds collide with the harness's own and are caught as tampering by the
host, but a candidate that rewrites the whole file and then exits at once is not
yet told apart from an honest report.
"""

import gc
import importlib.util
import json
import os
import sys
import time
import traceback

#: Must equal `sandbox._wasm.MARK_LENGTH`: a request for this many random bytes asks
#: the host to record the fuel consumed so far.
MARK_LENGTH = 61

_urandom = os.urandom
_perf_counter = time.perf_counter
_dumps = json.dumps


def main() -> int:
    job = os.environ["EVOLVER_JOB"]
    out = os.environ["EVOLVER_OUT"]
    meter = os.environ.get("EVOLVER_METER", "seconds")
    with open(os.path.join(job, "config.json")) as handle:
        config = json.load(handle)
    report = open(os.path.join(out, "report.jsonl"), "w", buffering=1)

    def emit(event: str, **fields: object) -> None:
        report.write(_dumps({"event": event, **fields}) + "\n")

    sys.path[:0] = [os.path.join(job, "site-packages"), os.path.join(job, "suite")]
    hypothesis = _configure_hypothesis(config)
    emit("start")

    suite = _import_suite(os.path.join(job, "suite", config["suite"]), emit)
    if suite is None:
        emit("done")
        return 0

    tests, benchmarks = _collect(suite)
    all_passed = True
    for name, function in tests:
        passed = _run_test(name, function, hypothesis, config["seed"], emit)
        all_passed = all_passed and passed
    if all_passed and config.get("run_benchmarks", True):
        repeats = 1 if meter == "fuel" else int(config.get("bench_repeats", 5))
        for name, function in benchmarks:
            if not _run_benchmark(name, function, meter, repeats, emit):
                break
    emit("done")
    report.close()
    return 0


def _configure_hypothesis(config: dict):
    import hypothesis
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "evolver",
        database=None,
        deadline=None,
        max_examples=int(config["max_examples"]),
        derandomize=False,
        print_blob=False,
        # Slowness is the cost objective's business, not a failure.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
    )
    settings.load_profile("evolver")
    return hypothesis


def _import_suite(path: str, emit):
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException as error:  # noqa: BLE001 - the candidate may raise anything
        emit("import_error", error=_describe(error), traceback=_traceback_tail(error))
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


def _run_test(name: str, function, hypothesis, seed: int, emit) -> bool:
    if getattr(function, "is_hypothesis_test", False):
        function = hypothesis.seed(seed)(function)
    try:
        function()
    except BaseException as error:  # noqa: BLE001 - a failing test is data
        notes = [str(note) for note in getattr(error, "__notes__", [])]
        emit(
            "test",
            name=name,
            passed=False,
            error=_describe(error),
            counterexample="\n".join(notes)[-2000:],
            traceback=_traceback_tail(error),
        )
        return False
    emit("test", name=name, passed=True)
    return True


def _run_benchmark(name: str, function, meter: str, repeats: int, emit) -> bool:
    timings = []
    for _ in range(repeats):
        gc.collect()
        try:
            if meter == "fuel":
                _urandom(MARK_LENGTH)
                function()
                _urandom(MARK_LENGTH)
            else:
                started = _perf_counter()
                function()
                timings.append(_perf_counter() - started)
        except BaseException as error:  # noqa: BLE001 - a failing benchmark is data
            emit("bench", name=name, error=_describe(error))
            return False
    emit("bench", name=name, seconds=timings)
    return True


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text[:500]


def _traceback_tail(error: BaseException) -> str:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return "".join(lines)[-3000:]


if __name__ == "__main__":
    sys.exit(main())
