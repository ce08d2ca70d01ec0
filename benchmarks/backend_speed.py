"""Print how fast each sandbox backend evaluates candidates of the bundled example.

For each backend (wasm, warm, docker, process; warm is the wasm backend forking one
started guest per evaluation) it prints evaluations per second with one worker and
with one worker per core, and the time to create the sandbox. It prints the fixed
cost of one evaluation: the median time to evaluate a one-line candidate against a
suite of one plain test, which is everything an evaluation does besides running a
real suite (interpreter start, imports, harness, report). For fresh wasm guests it
also prints the two reference jobs that this cost is compared with: a bare
interpreter start, and a start that imports hypothesis from the bytecode cache. In
the same run it evaluates the same candidates in this very process, with no sandbox,
no harness and no fresh interpreter, and prints each backend's overhead as the ratio
of its time per evaluation to that. For warm it checks that the first candidate
costs the same fuel evaluated first and evaluated after all the others.

    python benchmarks/backend_speed.py [--candidates 12] [--seed 0] [--backends wasm,warm,docker,process]

A backend that cannot start here (no engine, no image) is reported and left out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_speed import make_candidates  # noqa: E402
from evolver._executor import LocalExecutor, Task  # noqa: E402
from fitness import EvaluationSettings, Suite, evaluate, warm_sandbox  # noqa: E402
from sandbox import BACKENDS, Job, SandboxError, create_sandbox  # noqa: E402

EXAMPLE = ROOT / "examples" / "stats"
#: A suite of one plain test: evaluating against it is all fixed cost.
TRIVIAL_SUITE = Suite.from_source(
    "import target\n\ndef test_one():\n    assert target.one() == 1\n", "test_target.py"
)
TRIVIAL_TARGET = "def one():\n    return 1\n"
MODES = ("wasm", "warm", *(name for name in BACKENDS if name != "wasm"))


def make_sandbox(mode: str):
    return warm_sandbox() if mode == "warm" else create_sandbox(mode)


def time_pool(mode: str, sources, suite, settings, workers: int):
    """Return the seconds to evaluate every source on `workers` workers, and the results."""
    tasks = [Task(source, "stats", suite, settings, 1) for source in sources]
    warm_memory = settings.limits.memory_bytes if mode == "warm" else None
    backend = "wasm" if mode == "warm" else mode
    with LocalExecutor(backend, workers, warm_memory=warm_memory) as executor:
        executor.evaluate_many(tasks[:workers])  # let every worker start its sandbox
        started = time.perf_counter()
        evaluations = executor.evaluate_many(tasks)
        return time.perf_counter() - started, evaluations


def time_fixed_cost(mode: str, repeats: int = 5) -> dict[str, float]:
    """Time creating the sandbox and the fixed cost of one evaluation, in seconds."""
    started = time.perf_counter()
    sandbox = make_sandbox(mode)
    figures = {"create": time.perf_counter() - started}
    settings = EvaluationSettings(max_examples=1)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        evaluation = evaluate(sandbox, TRIVIAL_TARGET, "target", TRIVIAL_SUITE, settings)
        timings.append(time.perf_counter() - started)
        assert evaluation.passed, evaluation.detail
    figures["fixed"] = statistics.median(timings)
    if mode == "wasm":
        for name, code in (("start", b"pass\n"), ("imports", b"import hypothesis.strategies\n")):
            job = Job(files={"main.py": code}, argv=("main.py",))
            figures[name] = statistics.median(
                sandbox.run(job).wall_seconds for _ in range(repeats)
            )
    sandbox.close()
    return figures


def check_own_fuel(sources, suite, settings) -> tuple[float, float]:
    """Return the first candidate's cost evaluated first and after all the others."""
    sandbox = warm_sandbox(settings.limits.memory_bytes)
    try:
        first = evaluate(sandbox, sources[0], "stats", suite, settings).fitness.cost
        for source in sources[1:]:
            evaluate(sandbox, source, "stats", suite, settings)
        last = evaluate(sandbox, sources[0], "stats", suite, settings).fitness.cost
    finally:
        sandbox.close()
    return first, last


def time_in_process(source: str, suite: Suite, settings: EvaluationSettings) -> float:
    """Evaluate one candidate in this process as the harness would, and time it."""
    import hypothesis
    from hypothesis import HealthCheck, Phase

    started = time.perf_counter()
    target = types.ModuleType("stats")
    sys.modules["stats"] = target
    exec(compile(source, "stats.py", "exec"), target.__dict__)
    module = types.ModuleType("test_stats")
    exec(compile(suite.source, str(suite.path), "exec"), module.__dict__)
    profile = hypothesis.settings(
        database=None,
        deadline=None,
        max_examples=settings.max_examples,
        phases=[phase for phase in Phase if phase is not Phase.explain],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
    )
    for name in suite.tests:
        test = getattr(module, name)
        if getattr(test, "is_hypothesis_test", False):
            test = hypothesis.seed(settings.seed)(profile(test))
        try:
            test()
        except Exception:  # noqa: BLE001 - a failing test is part of the work
            pass
    for name in suite.benchmarks:
        for _ in range(settings.bench_repeats):
            getattr(module, name)()
    del sys.modules["stats"]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backends", default=",".join(MODES))
    arguments = parser.parse_args()
    # hypothesis keeps caches in the working folder unless this variable names another.
    storage = tempfile.TemporaryDirectory(prefix="evolver-bench-")
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = storage.name

    suite = Suite.from_file(EXAMPLE / "test_stats.py")
    settings = EvaluationSettings(max_examples=20)
    sources = make_candidates(arguments.candidates, arguments.seed)
    cores = os.cpu_count() or 1
    print(f"candidates: {len(sources)} variants of examples/stats, max_examples=20")

    results = {}
    for name in arguments.backends.split(","):
        try:
            figures = time_fixed_cost(name)
        except SandboxError as error:
            print(f"{name}: left out, it cannot start here: {error}")
            continue
        one, evaluations = time_pool(name, sources, suite, settings, 1)
        many, _ = time_pool(name, sources, suite, settings, cores)
        results[name] = (figures, one, many, evaluations)

    # Only candidates that passed in every sandbox are safe to run unsandboxed: the
    # others loop, grow without bound, exit early or raise in a benchmark.
    finished = [
        index
        for index in range(len(sources))
        if all(result[3][index].passed for result in results.values())
    ]
    in_process = sum(time_in_process(sources[i], suite, settings) for i in finished)
    floor = in_process / max(1, len(finished))

    for name, (figures, one, many, evaluations) in results.items():
        per_eval = one / len(sources)
        sandboxed = sum(evaluations[i].wall_seconds for i in finished) / max(1, len(finished))
        fixed = figures["fixed"]
        print(f"{name}:")
        print(f"  1 worker:          {len(sources) / one:6.2f} eval/s ({per_eval:.3f} s each)")
        print(f"  {cores} workers:         {len(sources) / many:6.2f} eval/s")
        print(f"  create sandbox:    {figures['create']:.3f} s, once per worker")
        print(f"  fixed cost:        {fixed:.3f} s ({fixed / per_eval:.1%} of an evaluation)")
        if "imports" in figures:
            reference = figures["imports"]
            print(
                f"  reference jobs:    {figures['start']:.3f} s bare start, "
                f"{reference:.3f} s start and import hypothesis; the fixed cost is "
                f"{fixed / reference:.2f}x the latter"
            )
        print(f"  overhead:          {sandboxed / floor:.1f}x in-process, per evaluation")
    print(
        f"in-process:          {floor:.3f} s per evaluation on the {len(finished)} "
        "candidates that passed everywhere (this process, no sandbox, no harness)"
    )
    if "warm" in results:
        first, last = check_own_fuel(sources, suite, settings)
        verdict = "the same" if first == last else "DIFFERENT"
        print(
            f"warm fuel of candidate 0: {first:.0f} first, {last:.0f} after the other "
            f"{len(sources) - 1}: {verdict}"
        )


if __name__ == "__main__":
    main()
