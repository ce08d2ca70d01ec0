"""Run a prepared suite with plain CPython on the host and report the results as JSON.

This is a quick check for people writing or changing a suite, not the sandboxed
harness: it imports the target in this process, with no isolation and no fuel
metering. It applies settings like the harness does (derandomised, no example
database, no deadline, ``max_examples`` from ``evolver.toml``), runs every
``test_*`` function, then, if all of them pass, times every ``bench_*`` function.

Usage: ``python examples/pyperformance/check.py DIR [--max-examples N]``, where DIR
is a folder written by ``prepare.py``. The exit code is 0 when every test and
benchmark passes and 1 otherwise. The JSON object on stdout maps ``tests`` and
``benches`` to ``{name: {"error": str | null, "seconds": float | null}}``. The
error is null on success, and seconds is null on failure. A benchmark's seconds
are the fastest of ``--repeat`` calls.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType


def run_functions(
    module: ModuleType, prefix: str, repeat: int
) -> dict[str, dict[str, object]]:
    """Call each function defined in ``module`` whose name starts with ``prefix``.

    Functions run in definition order. Return per function the error text (None
    on success) and the fastest of ``repeat`` calls in seconds. A function that
    raises is not called again.
    """
    results: dict[str, dict[str, object]] = {}
    for name, function in vars(module).items():
        defined_here = getattr(function, "__module__", None) == module.__name__
        if name.startswith(prefix) and callable(function) and defined_here:
            results[name] = _time_calls(function, repeat)
    return results


def _time_calls(function: Callable[[], object], repeat: int) -> dict[str, object]:
    fastest = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            function()
        except Exception as error:  # noqa: BLE001 - a failing suite is the data.
            return {"error": f"{type(error).__name__}: {error}", "seconds": None}
        fastest = min(fastest, time.perf_counter() - start)
    return {"error": None, "seconds": fastest}


def load_suite(directory: Path, max_examples: int | None) -> ModuleType:
    """Import the suite of a prepared folder under settings like the harness's."""
    config = tomllib.loads((directory / "evolver.toml").read_text("utf-8"))
    examples = max_examples if max_examples is not None else config["max_examples"]

    from hypothesis import settings

    settings.register_profile(
        "host-check",
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=examples,
    )
    settings.load_profile("host-check")
    sys.path.insert(0, str(directory))
    return importlib.import_module(Path(config["suite"]).stem)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the suite in the folder named on the command line and print JSON."""
    parser = argparse.ArgumentParser(
        description="Run a prepared suite with plain CPython and print JSON results.",
        epilog="example: python examples/pyperformance/check.py "
        "/tmp/targets/bm_nqueens",
    )
    parser.add_argument("directory", type=Path, help="folder written by prepare.py")
    parser.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help="hypothesis examples per test (default: max_examples of evolver.toml)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="calls per benchmark (default: 3)"
    )
    args = parser.parse_args(argv)

    # hypothesis writes caches even without an example database; keep them out
    # of the working directory.
    with tempfile.TemporaryDirectory(prefix="evolver-check-") as storage:
        os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", storage)
        suite = load_suite(args.directory, args.max_examples)
        tests = run_functions(suite, "test_", repeat=1)
        passed = all(result["error"] is None for result in tests.values())
        benches = run_functions(suite, "bench_", args.repeat) if passed else {}

    print(json.dumps({"tests": tests, "benches": benches}, indent=2))
    ok = passed and all(result["error"] is None for result in benches.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
