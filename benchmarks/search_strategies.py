"""Compare the selection strategies and operator adaptation on the stats example.

For each selection (nsga2, lexicase, islands), with and without
`--adapt-operators`, and each seed, it runs `evolver run examples/stats` with the
real wasm sandbox and reads the archive. It prints, per configuration, the mean
number of evaluations until a passing variant costs at most half the original's
fuel (the planted speed-up of `normalise`), how many seeds reached it, and the
mean best cost at the end as a fraction of the original's.

    python benchmarks/search_strategies.py [--budget 60] [--seeds 1 2 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import Archive  # noqa: E402

#: Fraction of the original's fuel that counts as finding the planted speed-up:
#: it brings the benchmark to about a fifth of the original's fuel.
HIT = 0.5

CONFIGURATIONS = [
    ("nsga2", ()),
    ("nsga2 + adapt", ("--adapt-operators",)),
    ("lexicase", ("--selection", "lexicase")),
    ("lexicase + adapt", ("--selection", "lexicase", "--adapt-operators")),
    ("islands", ("--selection", "islands", "--islands", "3", "--migration-interval", "2")),
    (
        "islands + adapt",
        ("--selection", "islands", "--islands", "3", "--migration-interval", "2",
         "--adapt-operators"),
    ),  # fmt: skip
]


def measure(run_dir: Path, flags: tuple[str, ...], options) -> tuple[int | None, float, float]:
    """Return evaluations until the hit (None if never), final best cost ratio, seconds."""
    command = [
        sys.executable, "-m", "evolver", "run", str(ROOT / "examples" / "stats"),
        "--run-dir", str(run_dir), "--budget", str(options.budget), "--population",
        str(options.population), "--workers", str(options.workers), "--finalists", "0",
        "--json", *flags,
    ]  # fmt: skip
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    seconds = time.monotonic() - started
    with Archive.open(run_dir / "archive.sqlite", readonly=True) as stored:
        (run,) = stored.runs()
        evaluated = [c for c in stored.candidates(run.run_id) if c.outcome != "invalid"]
    original = evaluated[0].cost
    hit = None
    best = original
    for count, candidate in enumerate(evaluated, start=1):
        if candidate.outcome != "ok" or candidate.failures != 0 or candidate.cost is None:
            continue
        best = min(best, candidate.cost)
        if hit is None and candidate.cost <= HIT * original:
            hit = count
    return hit, best / original, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    print(
        f"budget {options.budget}, population {options.population}, "
        f"seeds {options.seeds}, {options.workers} workers"
    )
    print("| configuration | hits | mean evaluations to hit | mean final cost | seconds |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name, flags in CONFIGURATIONS:
            results = []
            for seed in options.seeds:
                run_dir = Path(folder) / f"{name.replace(' ', '')}-{seed}"
                results.append(measure(run_dir, (*flags, "--seed", str(seed)), options))
            hits = [hit for hit, _, _ in results if hit is not None]
            to_hit = f"{statistics.mean(hits):.1f}" if hits else "-"
            final = statistics.mean(ratio for _, ratio, _ in results)
            seconds = sum(s for _, _, s in results)
            print(
                f"| {name} | {len(hits)} of {len(results)} | {to_hit} | {final:.4f} "
                f"| {seconds:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
