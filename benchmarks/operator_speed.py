"""Print how many variants per second each operator produces on a large stdlib module.

For each operator it times building its site table (the first count, after
the shared analysis of the module), then drawing and applying single-edit
variants one after another: `Operator.sample`, `Target.apply` (rebuild,
code generation and compiling the variant). Variants that do not compile
count as produced, and their share is shown.

    python benchmarks/operator_speed.py [--module argparse] [--variants 200]
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genomes import OPERATORS, InvalidVariant, Target  # noqa: E402
from genomes._scopes import names  # noqa: E402


def measure(target: Target, name: str, variants: int, seed: int) -> dict:
    operator = OPERATORS[name]
    started = time.perf_counter()
    sites = operator.count(target)
    table = time.perf_counter() - started

    rng = random.Random(seed)
    invalid = 0
    started = time.perf_counter()
    for _ in range(variants if sites else 0):
        edit = operator.sample(target, rng)
        try:
            target.apply([edit])
        except InvalidVariant:
            invalid += 1
    elapsed = time.perf_counter() - started
    rate = variants / elapsed if sites and elapsed else 0.0
    return {
        "operator": name,
        "level": operator.level,
        "sites": sites,
        "table": table,
        "rate": rate,
        "invalid": invalid / variants if sites else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--module", default="argparse", help="a pure-Python stdlib module (argparse)"
    )
    parser.add_argument(
        "--variants", type=int, default=200, help="variants per operator (200)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    options = parser.parse_args()

    path = Path(importlib.import_module(options.module).__file__)
    started = time.perf_counter()
    target = Target.from_file(path)
    analysis = target._analysis
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    names(analysis)
    scoped = time.perf_counter() - started
    lines = target.source.count("\n")
    print(
        f"{path.name}: {lines:,} lines; parse and analysis {parsed:.2f} s, "
        f"scope analysis {scoped:.2f} s (shared by the operators that need names)"
    )
    print()
    header = (
        f"{'operator':32} {'level':10} {'sites':>9} {'table s':>8} "
        f"{'variants/s':>11} {'invalid':>8}"
    )
    print(header)
    for name in OPERATORS:
        row = measure(target, name, options.variants, options.seed)
        print(
            f"{row['operator']:32} {row['level']:10} {row['sites']:>9,} "
            f"{row['table']:>8.3f} {row['rate']:>11.1f} {row['invalid']:>8.1%}"
        )


if __name__ == "__main__":
    main()
