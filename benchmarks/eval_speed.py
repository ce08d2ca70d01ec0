"""Print how fast candidates of the bundled example are evaluated.

For the wasm backend it prints evaluations per second with one worker and with one
worker per core, and the fixed cost of an evaluation (interpreter start, and start
plus importing hypothesis) as a share of a whole evaluation. In the same run it times
the same candidates on the host's CPython with no sandbox at all, which is the floor.

    python benchmarks/eval_speed.py [--candidates 16] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evolver._executor import LocalExecutor, Task  # noqa: E402
from fitness import EvaluationSettings, Suite, build_job  # noqa: E402
from genomes import InvalidVariant, Target  # noqa: E402
from sandbox import Job, create_sandbox  # noqa: E402

EXAMPLE = ROOT / "examples" / "stats"


def make_candidates(count: int, seed: int) -> list[str]:
    target = Target.from_file(EXAMPLE / "stats.py")
    rng = random.Random(seed)
    sources = [target.source]
    while len(sources) < count:
        edit = target.random_edit(rng)
        try:
            sources.append(target.apply((edit,)).source)
        except InvalidVariant:
            continue
    return sources


def time_pool(sources, suite, settings, workers: int):
    """Return the seconds to evaluate every source, and the evaluations."""
    tasks = [Task(source, "stats", suite, settings, 1) for source in sources]
    with LocalExecutor("wasm", workers) as executor:
        executor.evaluate_many(tasks[:workers])  # let every worker start
        started = time.perf_counter()
        evaluations = executor.evaluate_many(tasks)
        return time.perf_counter() - started, evaluations


def time_fixed_costs(repeats: int = 5) -> tuple[float, float]:
    sandbox = create_sandbox("wasm")
    bare = Job(files={"main.py": b"pass\n"}, argv=("main.py",))
    hypothesis = Job(files={"main.py": b"import hypothesis.strategies\n"}, argv=("main.py",))
    start = statistics.median(sandbox.run(bare).wall_seconds for _ in range(repeats))
    imports = statistics.median(sandbox.run(hypothesis).wall_seconds for _ in range(repeats))
    sandbox.close()
    return start, imports


def time_without_sandbox(source: str, suite, settings) -> float:
    """Run the harness on the host's CPython, in a fresh process, and time it.

    A fresh process per candidate keeps each run's audit hook and imports from
    leaking into the next, as in the sandbox.
    """
    job = build_job(source, "stats", suite, settings)
    with tempfile.TemporaryDirectory() as folder:
        job_dir, out_dir = Path(folder, "job"), Path(folder, "out")
        for relative, content in job.files.items():
            (job_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (job_dir / relative).write_bytes(content)
        out_dir.mkdir()
        environment = {
            **os.environ,
            "EVOLVER_JOB": str(job_dir),
            "EVOLVER_OUT": str(out_dir),
            "EVOLVER_METER": "fuel",
            "PYTHONHASHSEED": "0",
            "HYPOTHESIS_STORAGE_DIRECTORY": str(out_dir / ".hypothesis"),
        }
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(job_dir / "harness.py")],
            env=environment,
            capture_output=True,
            timeout=120,
            check=False,
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    suite = Suite.from_file(EXAMPLE / "test_stats.py")
    settings = EvaluationSettings(max_examples=20)
    sources = make_candidates(arguments.candidates, arguments.seed)
    cores = os.cpu_count() or 1

    one, evaluations = time_pool(sources, suite, settings, 1)
    many, _ = time_pool(sources, suite, settings, cores)
    start, imports = time_fixed_costs()
    # Only candidates that finished in the sandbox are safe to run unsandboxed: the
    # others loop, grow without bound or exit early.
    finished = [
        (source, evaluation)
        for source, evaluation in zip(sources, evaluations)
        if evaluation.outcome == "ok"
    ]
    floor = sum(time_without_sandbox(source, suite, settings) for source, _ in finished)
    sandboxed = sum(evaluation.wall_seconds for _, evaluation in finished)
    per_eval = one / len(sources)

    print(f"candidates: {len(sources)} variants of examples/stats, max_examples=20")
    print(f"wasm, 1 worker:      {len(sources) / one:6.2f} eval/s ({per_eval:.3f} s each)")
    print(f"wasm, {cores} workers:     {len(sources) / many:6.2f} eval/s")
    print(f"interpreter start:   {start:.3f} s ({start / per_eval:.1%} of an evaluation)")
    print(f"start + hypothesis:  {imports:.3f} s ({imports / per_eval:.1%} of an evaluation)")
    print(
        f"without a sandbox:   {len(finished) / floor:6.2f} eval/s on the "
        f"{len(finished)} candidates that finished ({floor / len(finished):.3f} s each, "
        "host CPython, a fresh process each)"
    )
    print(f"wasm overhead:       {sandboxed / floor:.1f}x on those candidates")


if __name__ == "__main__":
    main()
