"""`evolver run`: configuration, checks, the search and its report."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from archive import Archive, ArchiveError
from fitness import EvaluationSettings, Suite, SuiteError
from genomes import Target, TargetError, unified_diff
from sandbox import SandboxError, create_sandbox

from ._config import RunConfig, build_config, find_config_file, read_config_file
from ._errors import EXIT_OK, ConfigError, EvolverError, OriginalFailsError
from ._executor import LocalExecutor
from ._progress import RunDisplay
from ._search import Candidate, Search, SearchResult

_FLAG_KEYS = (
    "target",
    "suite",
    "functions",
    "budget",
    "population",
    "seed",
    "sandbox",
    "workers",
    "max_examples",
    "max_edits",
    "run_dir",
    "fuel",
    "memory_mb",
    "seconds",
)


def load_run_config(arguments) -> RunConfig:
    """Build the configuration from the location's file and the flags."""
    flags = {key: getattr(arguments, key, None) for key in _FLAG_KEYS}
    location: Path | None = arguments.location
    if location is None:
        return build_config({}, flags, Path.cwd(), "flags on the command line")
    if not location.exists():
        raise ConfigError(
            f"{location} does not exist. Give a folder that holds evolver.toml, or "
            "pass --target and --suite."
        )
    config_file = find_config_file(location)
    if config_file is None:
        raise ConfigError(
            f"{location} holds no evolver.toml or pyproject.toml. Write an evolver.toml "
            "with the keys target and suite, or pass --target and --suite."
        )
    values = read_config_file(config_file)
    return build_config(values, flags, config_file.parent, str(config_file))


def load_inputs(config: RunConfig) -> tuple[Target, Suite]:
    """Parse the target and the suite, turning their errors into input errors."""
    try:
        target = Target.from_file(config.target, functions=config.functions or None)
    except TargetError as error:
        raise ConfigError(str(error)) from error
    try:
        suite = Suite.from_file(config.suite)
    except SuiteError as error:
        raise ConfigError(str(error)) from error
    return target, suite


def run_command(arguments) -> int:
    config = load_run_config(arguments)
    target, suite = load_inputs(config)
    settings = EvaluationSettings(
        max_examples=config.max_examples, seed=config.seed, limits=config.limits
    )
    display = RunDisplay(enabled=not arguments.json, budget=config.budget)
    display.note(f"Preparing the {config.sandbox} sandbox")
    _prepare_sandbox(config.sandbox)
    archive = _open_archive(config.archive_path)
    run = archive.create_run(
        target_path=str(config.target),
        target_source=target.source,
        seed=config.seed,
        config=config.to_json(),
    )
    started = time.monotonic()
    try:
        with LocalExecutor(config.sandbox, config.worker_count) as executor:
            search = Search(
                target=target,
                suite=suite,
                settings=settings,
                executor=executor,
                archive=archive,
                run_id=run.run_id,
                budget=config.budget,
                population=config.population,
                max_edits=config.max_edits,
                seed=config.seed,
                on_event=display.update,
            )
            with display:
                original = search.evaluate_original()
                _check_original(original, config, suite)
                result = search.run(original)
    except BaseException as error:
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        elapsed = round(time.monotonic() - started, 2)
        archive.finish_run(run.run_id, status, {"elapsed_seconds": elapsed})
        archive.close()
        raise
    summary = build_summary(run.run_id, config, target, result)
    archive.finish_run(run.run_id, "finished", summary)
    archive.close()
    if arguments.json:
        print(json.dumps(summary, indent=2))
    else:
        display.show_summary(summary, target.path.name)
    return EXIT_OK


def _prepare_sandbox(name: str) -> None:
    # Creating a sandbox once here fills the caches (the compiled interpreter, the
    # guest's bytecode) before several workers would race to build them.
    try:
        create_sandbox(name).close()
    except (SandboxError, ValueError) as error:
        raise ConfigError(f"The {name} sandbox cannot start: {error}") from error


def _open_archive(path: Path) -> Archive:
    try:
        return Archive.open(path)
    except ArchiveError as error:
        raise ConfigError(str(error)) from error


def _check_original(original: Candidate, config: RunConfig, suite: Suite) -> None:
    evaluation = original.evaluation
    assert evaluation is not None
    if evaluation.passed:
        return
    if evaluation.detail.startswith("the suite failed to import"):
        raise ConfigError(
            f"The suite {config.suite} failed to import with the original target: "
            f"{evaluation.detail.split(': ', 1)[-1]}. Check the suite's imports; it must "
            f"import the target as {config.target.stem}. Guest output:\n"
            f"{evaluation.stderr_tail[-800:]}"
        )
    failing = [test for test in evaluation.tests if not test.passed]
    if failing:
        lines = "\n".join(f"  {t.name}: {t.error}" for t in failing[:10])
        raise OriginalFailsError(
            f"The original {config.target} fails {len(failing)} of {len(suite.tests)} "
            f"tests of {config.suite}:\n{lines}\nFix the target or the suite first: "
            "a run needs an original that passes."
        )
    raise OriginalFailsError(
        f"The original {config.target} did not finish its suite in the sandbox "
        f"({evaluation.outcome}: {evaluation.detail}). Raise the limits (--seconds, "
        "--fuel, --memory-mb) or make the suite cheaper."
    )


def build_summary(run_id: str, config: RunConfig, target: Target, result: SearchResult):
    """Return the JSON-compatible report of a finished run."""
    original = _fitness_json(result.original)
    best = []
    for candidate in result.best:
        entry = {"candidate_id": candidate.candidate_id, **_fitness_json(candidate)}
        entry["edits_detail"] = [edit.describe() for edit in candidate.genome]
        entry["operator"] = candidate.operator
        entry["generation"] = candidate.generation
        entry["diff"] = unified_diff(target.source, candidate.source, target.path.name)
        best.append(entry)
    stats = result.stats
    return {
        "run_id": run_id,
        "archive": str(config.archive_path),
        "target": str(config.target),
        "suite": str(config.suite),
        "evaluations": stats.evaluations,
        "generations": stats.generation,
        "duplicates": stats.duplicates,
        "invalid": stats.invalid,
        "outcomes": dict(stats.outcomes),
        "elapsed_seconds": round(time.monotonic() - stats.started, 2),
        "original": original,
        "best": best,
    }


def _fitness_json(candidate: Candidate) -> dict:
    evaluation = candidate.evaluation
    assert evaluation is not None
    cost = evaluation.fitness.cost
    return {
        "failures": evaluation.fitness.failures,
        "cost": cost if math.isfinite(cost) else None,
        "meter": evaluation.meter,
        "edits": evaluation.fitness.edits,
        "outcome": evaluation.outcome,
    }


__all__ = ["EvolverError", "build_summary", "load_run_config", "run_command"]
