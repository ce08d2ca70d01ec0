"""`evolver run`: configuration, checks, the search and its report."""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from archive import Archive, ArchiveError
from fitness import RESERVED_MODULE_NAMES, EvaluationSettings, Suite, SuiteError
from genomes import Target, TargetError, unified_diff
from sandbox import (
    Outcome,
    SandboxError,
    boundary_warning,
    create_sandbox,
    process_exists,
)

from ._budget import STOP_MESSAGES
from ._canary_config import CanaryConfig, load_canary_config
from ._config import (
    RunConfig,
    build_config,
    find_config_file,
    load_operator_weights,
    read_config_file,
)
from ._errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    ConfigError,
    EvolverError,
    OriginalFailsError,
)
from ._eval_command import reserved_name_message
from ._executor import LocalExecutor
from ._progress import RunDisplay, format_count
from ._promote import Promotion, promote
from ._repair import RepairPlan, plan_repair
from ._resume import suite_digest
from ._search import COST_TOLERANCE, Candidate, Search, SearchResult

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
    "crossover",
    "finalists",
    "warm",
    "repair",
    "repair_weight",
    "selection",
    "islands",
    "migrants",
    "migration_interval",
    "adapt_operators",
    "time_budget",
    "target_cost",
    "plateau",
    "run_dir",
    "fuel",
    "memory_mb",
    "seconds",
    "output_kb",
)


def uses_warm_guests(config: RunConfig) -> bool:
    """Say whether a run evaluates its candidates in forks of started wasm guests."""
    return config.warm and config.sandbox == "wasm"


class RunInterrupted(EvolverError):
    """Ctrl-C stopped a run; the message names the archive, the run and what it kept."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, details: dict) -> None:
        super().__init__(message)
        #: JSON-compatible facts for `--json` output: run id, archive, generations.
        self.details = details


def load_run_config(arguments) -> RunConfig:
    """Build the configuration from the location's file and the flags."""
    flags = {key: getattr(arguments, key, None) for key in _FLAG_KEYS}
    location: Path | None = arguments.location
    if location is None:
        return build_config({}, flags, Path.cwd(), "flags on the command line")
    if not location.exists():
        raise ConfigError(
            f"{location} does not exist. Give a folder that contains evolver.toml, or "
            "pass --target and --suite."
        )
    config_file = find_config_file(location)
    if config_file is None:
        raise ConfigError(
            f"{location} contains no evolver.toml or pyproject.toml. Write an evolver.toml "
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
    if target.module_name in RESERVED_MODULE_NAMES:
        raise ConfigError(reserved_name_message(target.module_name))
    try:
        suite = Suite.from_file(config.suite)
    except SuiteError as error:
        raise ConfigError(str(error)) from error
    if not target.has_sites():
        raise ConfigError(_no_sites_message(config))
    return target, suite


def _no_sites_message(config: RunConfig) -> str:
    if config.functions:
        scope = f"the functions {', '.join(config.functions)} contain"
    else:
        scope = "the module contains"
    return (
        f"No statement of {config.target} can be edited: {scope} no code that an "
        "edit can change, so a run would make no variants. Check functions (or "
        "--function) and target."
    )


def suite_warnings(suite: Suite) -> list[str]:
    """Return the problems of a suite that let a run start but limit what it finds."""
    if suite.benchmarks:
        return []
    return [
        f"The suite {suite.path} defines no bench_* function, so every passing "
        "candidate has cost 0 and cost cannot improve on the original's. Add a "
        "bench_* workload to search for faster variants."
    ]


def run_command(arguments) -> int:
    if getattr(arguments, "resume", None) is not None:
        from ._resume import resume_command

        return resume_command(arguments)
    config = load_run_config(arguments)
    canary, _ = load_canary_config(arguments.location)
    weights = load_operator_weights(arguments.location)
    target, suite = load_inputs(config)
    warnings = suite_warnings(suite)
    display = RunDisplay(enabled=not arguments.json, budget=config.budget)
    for warning in warnings:
        display.warn(warning)

    warning = boundary_warning(config.sandbox)
    if warning:
        display.warn(warning)
    display.note(f"Preparing the {config.sandbox} sandbox")
    _prepare_sandbox(config.sandbox)
    plan = None
    if config.repair:
        display.note("Localising the fault: the suite runs on the original with coverage")
        plan = plan_repair(config, target, suite)
        warnings += plan.warnings(config)
        for warning in plan.warnings(config):
            display.warn(warning)
    archive = _open_archive(config.archive_path)
    for message in mark_dead_runs(archive):
        display.note(message)
    run = archive.create_run(
        target_path=str(config.target),
        target_source=target.source,
        seed=config.seed,
        config={
            **config.to_json(),
            "_process": _this_process(),
            "_suite_sha256": suite_digest(config.suite),
            "_canary": canary.to_json(),
            "_operators": weights,
            "_repair": plan.to_json() if plan is not None else None,
        },
    )

    result = _evolve(
        archive, run.run_id, config, target, suite, display, canary, weights, plan=plan
    )
    return _finish(
        arguments, archive, run.run_id, config, target, result, warnings, display, plan
    )


def _this_process() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _finish(
    arguments, archive, run_id, config, target, outcome, warnings, display, plan=None
) -> int:
    result, promotions = outcome
    summary = build_summary(run_id, config, target, result, warnings, promotions, plan)
    archive.finish_run(run_id, "finished", summary)
    archive.close()

    if arguments.json:
        print(json.dumps(summary, indent=2))
    else:
        display.show_summary(summary, target.path.name)
    return EXIT_OK


def _evolve(
    archive: Archive,
    run_id: str,
    config: RunConfig,
    target: Target,
    suite: Suite,
    display: RunDisplay,
    canary: CanaryConfig,
    weights: dict[str, float] | None,
    saved: dict | None = None,
    plan: RepairPlan | None = None,
    saved_operator_stats: dict | None = None,
) -> tuple[SearchResult, list[Promotion]]:
    """Evaluate the original, search, then gate the finalists.

    Records how the run ended if it fails. `saved` contains a resumed run's archived
    candidates by generation, and `saved_operator_stats` its operator statistics. With
    a repair `plan`, the search ranks by its weighted failures and draws edits by its
    line weights.
    """
    saved = dict(saved or {})
    settings = EvaluationSettings(
        max_examples=config.max_examples, seed=config.seed, limits=config.limits
    )
    started = time.monotonic()
    search: Search | None = None
    try:
        warm_memory = config.limits.memory_bytes if uses_warm_guests(config) else None
        executor = LocalExecutor(config.sandbox, config.worker_count, warm_memory=warm_memory)
        with executor:
            search = Search(
                target=target,
                suite=suite,
                settings=settings,
                executor=executor,
                archive=archive,
                run_id=run_id,
                budget=config.budget,
                population=config.population,
                max_edits=config.max_edits,
                seed=config.seed,
                weights=weights,
                crossover=config.crossover,
                on_event=display.update,
                failure_objective=plan.weighted_failures if plan is not None else None,
                locations=plan.location_weights() if plan is not None else None,
                selection=config.selection,
                islands=config.islands,
                migrants=config.migrants,
                migration_interval=config.migration_interval,
                adapt_operators=config.adapt_operators,
                time_budget=config.time_budget,
                target_cost=config.target_cost,
                plateau=config.plateau,
            )
            with display:
                original = search.evaluate_original(saved.pop(0, None))
                _check_original(original, config, suite)
                result = search.run(original, saved, saved_operator_stats)
            finalists = [c for c in result.best if improves(c, original)]
            promotions = promote(
                search=search,
                finalists=finalists[: config.finalists],
                suite=suite,
                settings=settings,
                canary=canary,
                sandbox=config.sandbox,
                note=display.note,
                repair=config.repair,
            )
            return result, promotions
    except KeyboardInterrupt:
        in_flight = search.stats.generation if search is not None else None
        interrupted = _record_interrupt(archive, run_id, config, in_flight, started)
        raise interrupted from None
    except BaseException:
        elapsed = round(time.monotonic() - started, 2)
        archive.finish_run(run_id, "failed", {"elapsed_seconds": elapsed})
        archive.close()
        raise


def _record_interrupt(
    archive: Archive,
    run_id: str,
    config: RunConfig,
    in_flight: int | None,
    started: float,
) -> RunInterrupted:
    """Mark the run interrupted and describe what the archive kept of it."""
    saved = sorted(
        {c.generation for c in archive.candidates(run_id) if c.outcome != "invalid"}
    )
    details = {
        "run_id": run_id,
        "archive": str(config.archive_path),
        "generations_saved": len(saved),
        "elapsed_seconds": round(time.monotonic() - started, 2),
    }
    archive.finish_run(run_id, "interrupted", details)
    archive.close()

    message = (
        f"Interrupted. The archive {config.archive_path} keeps run {run_id}, with "
        f"status interrupted and {format_count(len(saved), 'saved generation')}"
    )
    if len(saved) == 1:
        message += f" (generation {saved[0]})"
    elif saved:
        message += f" (generations {saved[0]} to {saved[-1]})"
    message += ", where generation 0 is the original's evaluation." if saved else "."
    if in_flight is not None and in_flight not in saved:
        message += (
            f" Generation {in_flight} was being evaluated and is lost, because each "
            "generation is written in one transaction when it ends."
        )
    command = resume_hint(config, run_id)
    message += f" Resume it with: {command}"
    details["resume"] = command
    return RunInterrupted(message, details)


def resume_hint(config: RunConfig, run_id: str) -> str:
    return f"evolver run --run-dir {shlex.quote(str(config.archive_path.parent))} --resume {run_id}"


def mark_dead_runs(archive: Archive) -> list[str]:
    """Mark as interrupted each running run whose process on this host has ended.

    A run killed with SIGKILL, or by a power cut, cannot record its own end, and
    would stay "running" forever. Runs record their process id and host name under
    `_process` in their config; runs from other hosts, and runs without that record,
    are left alone. Returns one message per run that was marked.
    """
    host = socket.gethostname()
    messages = []
    for run in archive.runs():
        # A resumed run records its new process in the summary while it runs.
        process = run.summary.get("_process", run.config.get("_process"))
        if run.status != "running" or not isinstance(process, dict):
            continue
        pid = process.get("pid")
        if process.get("host") != host or _process_exists(pid):
            continue
        summary = {**run.summary, "detail": f"process {pid} ended before the run did"}
        archive.finish_run(run.run_id, "interrupted", summary)
        messages.append(
            f"Marked run {run.run_id} as interrupted: its process {pid} on this host "
            "is no longer running."
        )
    return messages


def _process_exists(pid: object) -> bool:
    # NOTE: process ids are reused, so a dead run whose id now belongs to another
    # process stays "running" until that process ends too.
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return True
    return process_exists(pid)


def _prepare_sandbox(name: str) -> None:
    # Creating a sandbox once here fills the caches (the compiled interpreter, the
    # guest's bytecode) before several workers would race to build them.
    try:
        create_sandbox(name).close()
    except (SandboxError, ValueError) as error:
        raise ConfigError(f"The {name} sandbox cannot start: {error}") from error


#: Free space a run folder needs before a run starts. A generation's records take
#: well under a mebibyte; this leaves room for many of them and SQLite's journal.
MINIMUM_FREE_BYTES = 64 * 1024 * 1024


def check_run_folder(folder: Path) -> None:
    """Reject a run folder that cannot be written or is nearly full, before any work."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"The run folder {folder} cannot be made: {existing} is a file. Pass "
            "--run-dir with a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"The run folder {folder} is not writable ({existing} is read-only for "
            "this user), so the archive cannot be written. Pass --run-dir with a "
            "writable folder."
        )
    free = shutil.disk_usage(existing).free
    if free < MINIMUM_FREE_BYTES:
        raise ConfigError(
            f"The disk of the run folder {folder} has {free // (1024 * 1024)} MiB "
            f"free, less than the {MINIMUM_FREE_BYTES // (1024 * 1024)} MiB a run "
            "needs for its archive. Free some space, or pass --run-dir with a folder "
            "on another disk."
        )


def _open_archive(path: Path) -> Archive:
    check_run_folder(path.parent)
    try:
        return Archive.open(path)
    except ArchiveError as error:
        raise ConfigError(str(error)) from error


#: Descriptions of what the guest can import, by backend, for import error messages.
_SANDBOX_PYTHON = {
    "wasm": "The wasm sandbox is CPython 3.12 with the standard library and hypothesis "
    "only; a target that needs other packages runs with --sandbox docker.",
    "docker": "The docker sandbox has the image's Python and its packages, plus "
    "hypothesis; add Debian packages with evolver sandbox build-image --suite-packages.",
    "process": "The process sandbox is this Python without site-packages, plus "
    "hypothesis.",
}


def _check_original(original: Candidate, config: RunConfig, suite: Suite) -> None:
    evaluation = original.evaluation
    assert evaluation is not None
    if evaluation.passed:
        return
    if evaluation.detail.startswith("the suite failed to import"):
        raise ConfigError(
            f"The suite {config.suite} failed to import with the original target: "
            f"{evaluation.detail.split(': ', 1)[-1]}. Check the suite's imports; it must "
            f"import the target as {config.target.stem}.\n"
            f"{evaluation.error_traceback[-1500:]}"
        )
    if evaluation.detail.startswith("the target failed to import"):
        raise ConfigError(
            f"The target {config.target} failed to import in the sandbox: "
            f"{evaluation.detail.split(': ', 1)[-1]}. {_SANDBOX_PYTHON[config.sandbox]} "
            "Fix the target's module-level code or its imports.\n"
            f"{evaluation.error_traceback[-1500:]}"
        )
    failing = [test for test in evaluation.tests if not test.passed]
    finished = evaluation.outcome == Outcome.OK.value
    if failing and finished and config.repair:
        return
    if failing:
        lines = "\n".join(f"  {t.name}: {t.error}" for t in failing[:10])
        raise OriginalFailsError(
            f"The original {config.target} fails {len(failing)} of {len(suite.tests)} "
            f"tests of {config.suite}:\n{lines}\nFix the target or the suite first, "
            "or pass --repair (repair = true) to search for a variant that passes."
        )
    raise OriginalFailsError(
        f"The original {config.target} did not finish its suite in the sandbox "
        f"({evaluation.outcome}: {evaluation.detail}). Raise the limits (--seconds, "
        "--fuel, --memory-mb) or make the suite cheaper."
    )


def build_summary(
    run_id: str,
    config: RunConfig,
    target: Target,
    result: SearchResult,
    warnings: Sequence[str] = (),
    promotions: Sequence[Promotion] = (),
    plan: RepairPlan | None = None,
):
    """Return the JSON-compatible report of a finished run.

    `improved` is true when some listed variant `improves` on the original, and
    each entry of `best` has its own `improved`. `gated` lists the canary gate's
    verdict on each minimised finalist, and `promoted` the ids of those it promoted.
    A repair run adds `repair`: the negative tests and the most suspicious lines.
    """
    original = _fitness_json(result.original)
    best = []
    for candidate in result.best:
        entry = {"candidate_id": candidate.candidate_id, **_fitness_json(candidate)}
        entry["edits_detail"] = [edit.describe() for edit in candidate.genome]
        entry["operator"] = candidate.operator
        entry["generation"] = candidate.generation
        entry["diff"] = unified_diff(target.source, candidate.source, target.path.name)
        entry["improved"] = improves(candidate, result.original)
        best.append(entry)
    stats = result.stats
    summary = {
        "run_id": run_id,
        "archive": str(config.archive_path),
        "target": str(config.target),
        "suite": str(config.suite),
        "evaluations": stats.evaluations,
        "generations": stats.generation,
        "stopped": stats.stopped,
        "stop_detail": STOP_MESSAGES.get(stats.stopped, ""),
        "selection": config.selection,
        "adapt_operators": config.adapt_operators,
        "operators": operator_report(stats.operators),
        "duplicates": stats.duplicates,
        "invalid": stats.invalid,
        "outcomes": dict(stats.outcomes),
        "elapsed_seconds": round(time.monotonic() - stats.started, 2),
        "improved": any(entry["improved"] for entry in best),
        "warnings": list(warnings),
        "original": original,
        "best": best,
        "gated": [promotion.to_json() for promotion in promotions],
        "promoted": [p.minimised.candidate_id for p in promotions if p.promoted],
    }
    if plan is not None:
        summary["repair"] = plan.summary_json(target)
    return summary


def operator_report(totals: dict[str, dict]) -> list[dict]:
    """List the operators that made children, most children first, with their totals.

    Each entry has the operator's name, its children (`uses`), those that beat their
    parent (`improvements`) and its probability for the next draw.
    """
    entries = [{"operator": name, **values} for name, values in totals.items()]
    entries = [entry for entry in entries if entry["uses"]]
    entries.sort(key=lambda entry: (-entry["uses"], entry["operator"]))
    for entry in entries:
        entry["probability"] = round(entry["probability"], 4)
    return entries


def improves(candidate: Candidate, original: Candidate) -> bool:
    """Tell whether a variant beats the original.

    It must have fewer failures, or as many and a cost more than 1% lower. Fuel
    moves by a fraction of a percent with the guest's heap layout, so a smaller
    difference is the same tie that the search's ranking uses.
    """
    assert candidate.evaluation is not None and original.evaluation is not None
    mine = candidate.evaluation.fitness
    theirs = original.evaluation.fitness
    if mine.failures != theirs.failures:
        return mine.failures < theirs.failures
    if not math.isfinite(mine.cost):
        return False
    return mine.cost * (1 + COST_TOLERANCE) < theirs.cost


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


__all__ = [
    "EvolverError",
    "RunInterrupted",
    "build_summary",
    "improves",
    "load_run_config",
    "mark_dead_runs",
    "run_command",
    "suite_warnings",
]
