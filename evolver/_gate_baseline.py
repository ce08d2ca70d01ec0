"""The gate's measurement of a target, and the baseline file that records it."""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitness import TestOutcome
from sandbox import Outcome

from ._errors import ConfigError

#: Version of the baseline file's layout. `read_baseline` rejects any other.
BASELINE_FORMAT = 1


@dataclass(frozen=True)
class Measurement:
    """One target's tests and benchmark costs, with what produced them."""

    name: str
    #: Paths of the target and suite, relative to the configuration's folder.
    target: str
    suite: str
    module: str
    backend: str
    meter: str
    #: evolver's package version.
    evolver: str
    #: The guest interpreter's identity, such as its package version and SHA-256.
    runtime: Mapping[str, str]
    max_examples: int
    seed: int
    outcome: str
    detail: str
    tests: tuple[TestOutcome, ...]
    #: Cost samples per benchmark, one per evaluation: a single one for fuel.
    benchmarks: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    #: Failing tests plus benchmarks that raised, as `Fitness.failures` counts them.
    failures: int = 0

    @property
    def passed(self) -> bool:
        """True when the suite finished and every test and benchmark passed."""
        return self.outcome == Outcome.OK.value and self.failures == 0

    def cost(self, benchmark: str) -> float:
        """Return a benchmark's cost: the median of its samples."""
        return statistics.median(self.benchmarks[benchmark])


def write_baseline(path: Path, measurements: Mapping[str, Measurement]) -> None:
    """Write the baseline file with sorted keys and a final newline, atomically."""
    assert all(m.passed for m in measurements.values()), (
        "only passing targets are recorded"
    )
    data = {
        "format": BASELINE_FORMAT,
        "targets": {name: _to_json(m) for name, m in measurements.items()},
    }
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise


def read_baseline(path: Path) -> dict[str, Measurement]:
    """Read and check a baseline file written by `write_baseline`."""
    fix = "Record it again with evolver gate --update-baseline."
    if not path.is_file():
        raise ConfigError(
            f"The baseline file {path} does not exist. Create it with evolver gate "
            "--update-baseline and commit it, or pass --baseline-ref REF to compute "
            "the baseline from a git revision."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read the baseline file {path}: {error}.") from error
    except ValueError as error:
        raise ConfigError(
            f"The baseline file {path} is not valid JSON: {error}. {fix}"
        ) from error
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise ConfigError(
            f"The baseline file {path} has format {found!r}; this evolver reads format "
            f"{BASELINE_FORMAT}. {fix}"
        )
    targets = data.get("targets")
    if not isinstance(targets, dict):
        raise ConfigError(f"The baseline file {path} has no targets table. {fix}")
    measurements = {}
    for name, entry in targets.items():
        try:
            measurements[name] = _from_json(name, entry)
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"The entry for target {name!r} in the baseline file {path} is invalid "
                f"({type(error).__name__}: {error}). {fix}"
            ) from error
    return measurements


def _to_json(measurement: Measurement) -> dict[str, Any]:
    benchmarks: dict[str, dict[str, Any]] = {}
    for name, samples in measurement.benchmarks.items():
        if measurement.meter == "fuel":
            benchmarks[name] = {"cost": int(measurement.cost(name))}
        else:
            benchmarks[name] = {
                "cost": measurement.cost(name),
                "samples": list(samples),
            }
    return {
        "target": measurement.target,
        "suite": measurement.suite,
        "module": measurement.module,
        "backend": measurement.backend,
        "meter": measurement.meter,
        "evolver": measurement.evolver,
        "runtime": dict(measurement.runtime),
        "max_examples": measurement.max_examples,
        "seed": measurement.seed,
        "tests": [test.name for test in measurement.tests],
        "benchmarks": benchmarks,
    }


def _from_json(name: str, entry: dict[str, Any]) -> Measurement:
    benchmarks = {}
    for benchmark, record in entry["benchmarks"].items():
        samples = tuple(
            float(value) for value in record.get("samples", [record["cost"]])
        )
        if not samples or not all(math.isfinite(value) for value in samples):
            raise ValueError(f"benchmark {benchmark} has no finite cost")
        benchmarks[str(benchmark)] = samples
    return Measurement(
        name=name,
        target=str(entry["target"]),
        suite=str(entry["suite"]),
        module=str(entry["module"]),
        backend=str(entry["backend"]),
        meter=str(entry["meter"]),
        evolver=str(entry["evolver"]),
        runtime={str(key): str(value) for key, value in entry["runtime"].items()},
        max_examples=int(entry["max_examples"]),
        seed=int(entry["seed"]),
        outcome=Outcome.OK.value,
        detail="",
        tests=tuple(
            TestOutcome(name=str(test), passed=True) for test in entry["tests"]
        ),
        benchmarks=benchmarks,
    )
