"""Finding a run to resume in the archive, and what it needs to go on.

A run is resumed from the archive alone: its stored configuration, the target's source
as the run read it, and the candidates of every generation it wrote. The suite is read
from its file again, so its hash is stored with the run and checked on resume.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
from collections import defaultdict
from pathlib import Path

from archive import Archive, ArchiveError, CandidateRecord, RunRecord
from fitness import Suite, SuiteError
from genomes import Target, TargetError

from ._canary_config import build_canary_config
from ._config import RunConfig, build_config, check_operator_weights
from ._progress import RunDisplay, format_count
from ._repair import RepairPlan
from ._errors import ConfigError

#: Flags that may change on resume. Anything else, the budget included, would make
#: the replayed generations differ from the stored ones. The time budget cannot: its
#: clock restarts on resume and saved generations are replayed whatever it is.
RESUME_FLAGS = ("workers", "run_dir", "time_budget")

#: Statuses of runs that ended early and can go on.
RESUMABLE = ("interrupted", "failed")


def suite_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def choose_run(archive: Archive, requested: str | None, path: Path) -> RunRecord:
    """Return the run to resume: the one named, or the newest that ended early."""
    if requested:
        try:
            run = archive.run(requested)
        except ArchiveError as error:
            raise ConfigError(str(error)) from error
        if run.status not in RESUMABLE:
            raise ConfigError(_not_resumable(run, path))
        return run
    for run in archive.runs():
        if run.status in RESUMABLE:
            return run
    raise ConfigError(
        f"The archive {path} has no interrupted or failed run to resume. Start a run "
        "without --resume, or pass --run-dir to point at another archive."
    )


def _not_resumable(run: RunRecord, path: Path) -> str:
    if run.status == "finished":
        return (
            f"Run {run.run_id} in {path} has finished, so there is nothing to resume. "
            "To search further, start a new run with a larger --budget."
        )
    return (
        f"Run {run.run_id} in {path} is still running in another process. Wait for it, "
        "or stop it first; `evolver status` shows its progress."
    )


def resumed_config(run: RunRecord, flags: dict) -> RunConfig:
    """Rebuild the run's configuration, with the few flags that may change on resume."""
    # Runs stored before the warm mode existed started a fresh guest per evaluation.
    stored_values = {"warm": False, **run.config}
    fixed = [
        key
        for key, value in flags.items()
        if value is not None
        and key not in RESUME_FLAGS
        and not _same_setting(key, value, stored_values.get(key))
    ]
    if fixed:
        names = ", ".join(_flag_name(key) for key in sorted(fixed))
        raise ConfigError(
            f"{names} cannot change when resuming run {run.run_id}: the run goes on "
            "with the settings it started with. Drop those flags, or start a new run. "
            f"Only {', '.join(_flag_name(key) for key in RESUME_FLAGS)} may differ "
            "from the run's settings with --resume."
        )
    stored = {
        key: value
        for key, value in stored_values.items()
        if not key.startswith("_") and value is not None
    }
    overrides = {key: flags.get(key) for key in RESUME_FLAGS}
    source = f"the stored configuration of run {run.run_id}"
    return build_config(stored, overrides, Path.cwd(), source)


def _flag_name(key: str) -> str:
    if key == "warm":
        return "--cold"
    return "--function" if key == "functions" else "--" + key.replace("_", "-")


def _same_setting(key: str, given: object, stored: object) -> bool:
    if key in ("target", "suite"):
        return stored is not None and Path(str(given)).resolve() == Path(str(stored))
    if key == "functions":
        return list(given or ()) == list(stored or ())
    return given == stored


def check_suite(run: RunRecord, config: RunConfig) -> None:
    expected = run.config.get("_suite_sha256")
    try:
        found = suite_digest(config.suite)
    except OSError as error:
        raise ConfigError(
            f"Cannot read the suite {config.suite} of run {run.run_id}: {error}. "
            "Restore the file to resume the run."
        ) from error
    if expected is not None and found != expected:
        raise ConfigError(
            f"The suite {config.suite} changed since run {run.run_id} started, so its "
            "saved evaluations no longer describe this suite. Restore the suite to "
            "resume, or start a new run."
        )


def saved_operator_stats(archive: Archive, run_id: str) -> dict[int, list]:
    """Return a run's stored operator statistics by generation."""
    by_generation: dict[int, list] = defaultdict(list)
    for record in archive.operator_stats(run_id):
        by_generation[record.generation].append(record)
    return dict(by_generation)


def saved_generations(
    archive: Archive, run_id: str
) -> dict[int, list[CandidateRecord]]:
    by_generation: dict[int, list[CandidateRecord]] = defaultdict(list)
    for record in archive.candidates(run_id):
        by_generation[record.generation].append(record)
    return dict(by_generation)


def resume_command(arguments) -> int:
    """Continue an interrupted run of the archive from its last saved generation."""
    from ._run_command import (
        _FLAG_KEYS,
        _evolve,
        _finish,
        _open_archive,
        _prepare_sandbox,
        _this_process,
        mark_dead_runs,
        suite_warnings,
    )

    flags = {key: getattr(arguments, key, None) for key in _FLAG_KEYS}
    archive_path = _archive_to_resume(arguments, flags)
    if not archive_path.is_file():
        raise ConfigError(
            f"There is no archive at {archive_path} to resume a run from. Name the "
            "folder of the run's configuration, or pass --run-dir with the run's folder."
        )
    lock = claim_archive(archive_path)
    archive = _open_archive(archive_path)
    display = RunDisplay(enabled=not arguments.json, budget=0)
    for message in mark_dead_runs(archive):
        display.note(message)
    requested = arguments.resume if arguments.resume != LATEST else None
    run = choose_run(archive, requested, archive_path)
    config = resumed_config(run, flags)
    check_suite(run, config)
    try:
        target = Target.from_source(
            run.target_source, path=str(config.target), functions=config.functions or None
        )
        suite = Suite.from_file(config.suite)
    except (TargetError, SuiteError) as error:
        raise ConfigError(str(error)) from error
    warnings = suite_warnings(suite)
    display = RunDisplay(enabled=not arguments.json, budget=config.budget)
    saved = saved_generations(archive, run.run_id)
    display.note(
        f"Resuming run {run.run_id} of {config.target.name} after "
        f"{format_count(len(saved), 'saved generation')}"
    )
    _prepare_sandbox(config.sandbox)
    archive.finish_run(run.run_id, "running", {"_process": _this_process()})
    stored_canary = run.config.get("_canary", {})
    canary = build_canary_config(
        {"canary": {k: v for k, v in stored_canary.items() if v is not None}},
        f"the stored configuration of run {run.run_id}",
    )
    weights = check_operator_weights(
        run.config.get("_operators"), f"the stored configuration of run {run.run_id}"
    )
    # The stored plan, not a new measurement, keeps the replay exact.
    plan = None
    if config.repair and run.config.get("_repair"):
        plan = RepairPlan.from_json(run.config["_repair"])
        warnings += plan.warnings(config)
    try:
        result = _evolve(
            archive,
            run.run_id,
            config,
            target,
            suite,
            display,
            canary,
            weights,
            saved,
            plan=plan,
            saved_operator_stats=saved_operator_stats(archive, run.run_id),
        )
        return _finish(
            arguments,
            archive,
            run.run_id,
            config,
            target,
            result,
            warnings,
            display,
            plan,
        )
    finally:
        lock.close()


def claim_archive(path: Path):
    """Hold an exclusive lock beside the archive, so that one process resumes at once.

    The kernel drops the lock when its process ends, killed or not.
    """
    lock = open(path.with_name(path.name + ".resume-lock"), "a")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ConfigError(
            f"Another evolver is resuming a run of {path} right now. Wait for it to "
            "end; `evolver status` shows its progress."
        ) from None
    return lock


#: Value of `--resume` given without a run id.
LATEST = "latest"


def _archive_to_resume(arguments, flags: dict) -> Path:
    if flags.get("run_dir"):
        return Path(flags["run_dir"]).resolve() / "archive.sqlite"
    if arguments.location is not None or flags.get("target"):
        located = {key: flags.get(key) for key in ("target", "suite", "run_dir")}
        names = argparse.Namespace(location=arguments.location, **located)
        try:
            from ._run_command import load_run_config

            return load_run_config(names).archive_path
        except ConfigError as error:
            raise ConfigError(
                f"{error} (needed to find the archive of the run to resume)"
            ) from error
    raise ConfigError(
        "--resume needs to know where the archive is. Name the folder of the run's "
        "configuration (evolver run examples/stats --resume), or pass --run-dir."
    )
