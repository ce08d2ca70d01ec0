"""Print how fast each sandbox backend evaluates candidates of the bundled example.

For each backend (wasm, docker, process) it prints evaluations per second with one
worker and with one worker per core, and the time to create the sandbox. It also
prints the fixed cost of one evaluation, measured as a job that starts the
interpreter and imports hypothesis: everything an evaluation does besides running
the suite. In the same run it
evaluates the same candidates in this very process, with no sandbox, no harness and
no fresh interpreter, and prints each backend's overhead as the ratio of its time per
evaluation to that.

    python benchmarks/backend_speed.py [--candidates 12] [--seed 0] [--backends wasm,docker,process]

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
from fitness import EvaluationSettings, Suite  # noqa: E402
from sandbox import BACKENDS, Job, SandboxError, create_sandbox  # noqa: E402

EXAMPLE = ROOT / "examples" / "stats"


def time_pool(name: str, sources, suite, settings, workers: int):
    """Return the seconds to evaluate every source on `workers` workers, and the results."""
    tasks = [Task(source, "stats", suite, settings, 1) for source in sources]
    with LocalExecutor(name, workers) as executor:
        executor.evaluate_many(tasks[:workers])  # let every worker start its sandbox
        started = time.perf_counter()
        evaluations = executor.evaluate_many(tasks)
        return time.perf_counter() - started, evaluations


def time_fixed_cost(name: str, repeats: int = 5) -> tuple[float, float]:
    """Return the seconds to create the sandbox and the median of an import-only job."""
    started = time.perf_counter()
    sandbox = create_sandbox(name)
    created = time.perf_counter() - started
    job = Job(files={"main.py": b"import hypothesis.strategies\n"}, argv=("main.py",))
    imports = statistics.median(sandbox.run(job).wall_seconds for _ in range(repeats))
    sandbox.close()
    return created, imports


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
    parser.add_argument("--backends", default=",".join(BACKENDS))
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
            created, imports = time_fixed_cost(name)
        except SandboxError as error:
            print(f"{name}: left out, it cannot start here: {error}")
            continue
        one, evaluations = time_pool(name, sources, suite, settings, 1)
        many, _ = time_pool(name, sources, suite, settings, cores)
        results[name] = (created, imports, one, many, evaluations)

    # Only candidates that passed in every sandbox are safe to run unsandboxed: the
    # others loop, grow without bound, exit early or raise in a benchmark.
    finished = [
        index
        for index in range(len(sources))
        if all(result[4][index].passed for result in results.values())
    ]
    in_process = sum(time_in_process(sources[i], suite, settings) for i in finished)
    floor = in_process / max(1, len(finished))

    for name, (created, imports, one, many, evaluations) in results.items():
        per_eval = one / len(sources)
        sandboxed = sum(evaluations[i].wall_seconds for i in finished) / max(1, len(finished))
        print(f"{name}:")
        print(f"  1 worker:          {len(sources) / one:6.2f} eval/s ({per_eval:.3f} s each)")
        print(f"  {cores} workers:         {len(sources) / many:6.2f} eval/s")
        print(f"  create sandbox:    {created:.3f} s, once per worker")
        print(
            f"  fixed cost:        {imports:.3f} s (start and import hypothesis, "
            f"{imports / per_eval:.1%} of an evaluation)"
        )
        print(f"  overhead:          {sandboxed / floor:.1f}x in-process, per evaluation")
    print(
        f"in-process:          {floor:.3f} s per evaluation on the {len(finished)} "
        "candidates that passed everywhere (this process, no sandbox, no harness)"
    )


if __name__ == "__main__":
    main()
